package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeCA writes a self-signed CA certificate (PEM) and returns its path.
func writeCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: time.Now(),
		NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Bad secure settings stop a command before it connects (exit 2), naming
// the flag, its variable and the file; a password is never in the message.
func TestSecureSettingsErrorsNameTheFlag(t *testing.T) {
	const pw = "pw-0f9e8d7c"
	pwFile := writeFile(t, "pw", pw+"\n")
	notPEM := writeFile(t, "not.pem", "hello")
	missing := filepath.Join(t.TempDir(), "missing.pem")
	for _, c := range []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"missing CA", nil, []string{"pools", "list", "--kafka-ca-file", missing},
			[]string{"--kafka-ca-file " + missing, "no such file", "NODESHARE_KAFKA_CA_FILE"}},
		{"CA without PEM", nil, []string{"pools", "list", "--kafka-tls", "--kafka-ca-file", notPEM},
			[]string{"--kafka-ca-file " + notPEM + " holds no PEM certificate"}},
		{"cert without key", nil, []string{"pools", "list", "--kafka-cert-file", notPEM},
			[]string{"--kafka-cert-file and --kafka-key-file go together", "NODESHARE_KAFKA_KEY_FILE"}},
		{"plain in clear", map[string]string{"NODESHARE_KAFKA_SASL_PASSWORD": pw}, []string{"pools", "list", "--kafka-sasl-mechanism", "plain", "--kafka-sasl-user", "u"},
			[]string{"--kafka-sasl-mechanism plain sends the password in clear", "--kafka-tls"}},
		{"no user", map[string]string{"NODESHARE_KAFKA_SASL_PASSWORD": pw}, []string{"pools", "list", "--kafka-tls", "--kafka-sasl-mechanism", "scram-sha-512"},
			[]string{"needs --kafka-sasl-user", "NODESHARE_KAFKA_SASL_USER"}},
		{"no password", nil, []string{"pools", "list", "--kafka-tls", "--kafka-sasl-mechanism", "scram-sha-512", "--kafka-sasl-user", "u"},
			[]string{"needs a password", "NODESHARE_KAFKA_SASL_PASSWORD", "--kafka-sasl-password-file"}},
		{"password twice", map[string]string{"NODESHARE_KAFKA_SASL_PASSWORD": pw}, []string{"pools", "list", "--kafka-tls", "--kafka-sasl-mechanism", "scram-sha-512", "--kafka-sasl-user", "u", "--kafka-sasl-password-file", pwFile},
			[]string{"both NODESHARE_KAFKA_SASL_PASSWORD and --kafka-sasl-password-file " + pwFile + " are set"}},
		{"unknown mechanism", nil, []string{"pools", "list", "--kafka-sasl-mechanism", "gssapi"},
			[]string{"--kafka-sasl-mechanism", "gssapi"}},
		{"user without mechanism", nil, []string{"pools", "list", "--kafka-sasl-user", "u"},
			[]string{"--kafka-sasl-mechanism is none"}},
		{"password as a flag", nil, []string{"pools", "list", "--kafka-sasl-password", pw},
			[]string{"unknown flag --kafka-sasl-password"}},
		{"clickhouse password file", nil, []string{"migrate", "--clickhouse-password-file", missing},
			[]string{"--clickhouse-password-file " + missing, "no such file", "NODESHARE_CLICKHOUSE_PASSWORD_FILE"}},
		{"clickhouse CA", nil, []string{"migrate", "--clickhouse-ca-file", notPEM},
			[]string{"--clickhouse-ca-file " + notPEM + " holds no PEM certificate", "NODESHARE_CLICKHOUSE_CA_FILE"}},
		{"clickhouse password twice", map[string]string{"NODESHARE_CLICKHOUSE_PASSWORD": pw}, []string{"migrate", "--clickhouse-password-file", pwFile},
			[]string{"both NODESHARE_CLICKHOUSE_PASSWORD and --clickhouse-password-file"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, v := range []string{"NODESHARE_KAFKA_TLS", "NODESHARE_KAFKA_CA_FILE", "NODESHARE_KAFKA_SASL_MECHANISM", "NODESHARE_KAFKA_SASL_USER",
				"NODESHARE_KAFKA_SASL_PASSWORD", "NODESHARE_KAFKA_SASL_PASSWORD_FILE", "NODESHARE_CLICKHOUSE_PASSWORD", "NODESHARE_CLICKHOUSE_PASSWORD_FILE",
				"NODESHARE_CLICKHOUSE_TLS", "NODESHARE_CLICKHOUSE_CA_FILE"} {
				t.Setenv(v, "")
				os.Unsetenv(v)
			}
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			code, out, stderr := runMain(t, c.args...)
			if code != 2 {
				t.Fatalf("exit %d, want 2\nstdout %s\nstderr %s", code, out, stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if strings.Contains(stderr, pw) && c.name != "password as a flag" {
				t.Fatalf("stderr holds the password:\n%s", stderr)
			}
		})
	}
}

// Vault's CA file is checked before anything connects: readable, PEM,
// and for an https:// address.
func TestVaultCAFileIsChecked(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.pem")
	for _, c := range []struct {
		addr, ca string
		want     []string
	}{
		{"http://127.0.0.1:1", writeCA(t), []string{"--vault-ca-file", "is not https://"}},
		{"https://127.0.0.1:1", missing, []string{"--vault-ca-file " + missing, "no such file", "NODESHARE_VAULT_CA_FILE"}},
		{"https://127.0.0.1:1", writeFile(t, "x.pem", "x"), []string{"holds no PEM certificate"}},
	} {
		cfg := (vaultFlags{VaultAddr: c.addr, VaultCAFile: c.ca, VaultTransitKey: "k"}).config()
		cfg.Token = "s.token-never-printed"
		err := cfg.Validate()
		for _, w := range c.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Fatalf("%s with %s: %v, want %q", c.addr, c.ca, err, w)
			}
		}
		if strings.Contains(err.Error(), "token-never-printed") {
			t.Fatalf("the error holds the token: %v", err)
		}
	}
	cfg := (vaultFlags{VaultAddr: "https://127.0.0.1:1", VaultCAFile: writeCA(t), VaultTransitKey: "k"}).config()
	cfg.Token = "s.t"
	if err := cfg.Validate(); err != nil {
		t.Fatalf("a good CA file: %v", err)
	}
}

// Good settings resolve to TLS with the CA and a SASL login whose printed
// form names the user but not the password; the password file's trailing
// newline is not part of the password.
func TestSecureSettingsResolve(t *testing.T) {
	t.Setenv("NODESHARE_KAFKA_SASL_PASSWORD", "")
	t.Setenv("NODESHARE_CLICKHOUSE_PASSWORD", "")
	ca := writeCA(t)
	pwFile := writeFile(t, "pw", "pw-0f9e8d7c\n")
	k := kafkaFlags{KafkaBrokers: "k1:9093, k2:9093", KafkaCAFile: ca, KafkaSASLMechanism: "scram-sha-512", KafkaSASLUser: "nodeshare", KafkaSASLPasswordFile: pwFile}
	b, err := k.resolve()
	if err != nil {
		t.Fatal(err)
	}
	if b.TLS == nil || b.TLS.RootCAs == nil || b.SASL == nil || len(b.Addrs) != 2 {
		t.Fatalf("resolved %s: TLS %v, SASL %v", b, b.TLS, b.SASL)
	}
	if s := fmt.Sprintf("%v %+v %#v", b, b, b); strings.Contains(s, "pw-0f9e8d7c") || !strings.Contains(s, "user nodeshare") {
		t.Fatalf("printed: %s", s)
	}
	c := clickhouseFlags{ClickHouseAddr: "ch:9440", ClickHouseDatabase: "nodeshare", ClickHouseUser: "nodeshare_reader", ClickHousePasswordFile: pwFile, ClickHouseCAFile: ca}
	cfg, err := c.resolve()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Password != "pw-0f9e8d7c" || cfg.TLS == nil || cfg.TLS.RootCAs == nil || cfg.Username != "nodeshare_reader" {
		t.Fatalf("clickhouse resolved to %s (TLS %v)", cfg, cfg.TLS)
	}
	if s := fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg); strings.Contains(s, "pw-0f9e8d7c") {
		t.Fatalf("printed: %s", s)
	}
	plain, err := (kafkaFlags{KafkaBrokers: "k1:9092", KafkaSASLMechanism: "none"}).resolve()
	if err != nil || plain.TLS != nil || plain.SASL != nil {
		t.Fatalf("plaintext: %s, %v", plain, err)
	}
}
