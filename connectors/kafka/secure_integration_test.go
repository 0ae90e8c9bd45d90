package kafka

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	kgo "github.com/segmentio/kafka-go"
)

// brokersFromEnv is addrs with the security the NODESHARE_KAFKA_*
// variables set, as the commands' flags read them (cmd/nodeshare
// flags.go): ops/test's secure pass runs this package's tests over the
// stack's SASL_SSL listener.
func brokersFromEnv(t *testing.T, addrs []string) Brokers {
	t.Helper()
	b := Brokers{Addrs: addrs}
	if os.Getenv("NODESHARE_KAFKA_TLS") == "true" || os.Getenv("NODESHARE_KAFKA_CA_FILE") != "" {
		b.TLS = tlsWithCA(t, os.Getenv("NODESHARE_KAFKA_CA_FILE"))
	}
	if m := os.Getenv("NODESHARE_KAFKA_SASL_MECHANISM"); m != "" && m != SASLNone {
		pw := os.Getenv("NODESHARE_KAFKA_SASL_PASSWORD")
		if f := os.Getenv("NODESHARE_KAFKA_SASL_PASSWORD_FILE"); f != "" {
			pw = readSecret(t, f)
		}
		var err error
		if b.SASL, err = SASL(m, os.Getenv("NODESHARE_KAFKA_SASL_USER"), pw); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func tlsWithCA(t *testing.T, caFile string) *tls.Config {
	t.Helper()
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			t.Fatal(err)
		}
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM(pem) {
			t.Fatalf("%s holds no PEM certificate", caFile)
		}
	}
	return cfg
}

func readSecret(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// saslListener is the stack's SASL_SSL listener (ops/stack up --secure):
// its address, the CA its certificate is signed by, the user and the
// password.
type saslListener struct {
	addr     string
	ca       string
	user, pw string
}

func saslListenerOrSkip(t *testing.T) saslListener {
	t.Helper()
	l := saslListener{addr: os.Getenv("NODESHARE_STACK_KAFKA_SASL_SSL_ADDR"), ca: os.Getenv("NODESHARE_STACK_CA_FILE"),
		user: os.Getenv("NODESHARE_STACK_KAFKA_SASL_USER")}
	if l.addr == "" || l.ca == "" || l.user == "" {
		if os.Getenv("NODESHARE_REQUIRE_SERVICES") == "1" {
			t.Fatal("NODESHARE_REQUIRE_SERVICES=1 but NODESHARE_STACK_KAFKA_SASL_SSL_ADDR is unset: ops/test runs ops/stack up --secure")
		}
		t.Skip("integration test: needs Kafka's SASL_SSL listener (ops/stack up --secure; eval \"$(ops/stack env)\")")
	}
	l.pw = readSecret(t, os.Getenv("NODESHARE_STACK_KAFKA_SASL_PASSWORD_FILE"))
	return l
}

func (l saslListener) brokers(t *testing.T, mechanism, password string) Brokers {
	t.Helper()
	m, err := SASL(mechanism, l.user, password)
	if err != nil {
		t.Fatal(err)
	}
	return Brokers{Addrs: []string{l.addr}, TLS: tlsWithCA(t, l.ca), SASL: m}
}

// Over TLS with SASL, with each mechanism: topics are created, records
// produced, read back and consumed by a group that commits, all through
// the one Brokers.
func TestSASLSSLRoundTrip(t *testing.T) {
	l := saslListenerOrSkip(t)
	for _, mech := range []string{SASLScramSHA512, SASLPlain} {
		t.Run(mech, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			b := l.brokers(t, mech, l.pw)
			topic := freshTopic(t, ctx, b, 2)
			const n = 40
			publishNumbered(t, ctx, b, topic, n)
			all, err := ReadAll(ctx, b, topic)
			if err != nil || len(all) != n {
				t.Fatalf("ReadAll over %s: %d records, %v", b, len(all), err)
			}
			seen := map[string]string{}
			cfg := ConsumerConfig{Brokers: b, GroupID: "it-sasl-" + topic, Topics: []string{topic}, MaxWait: 20 * time.Millisecond}
			if err := Consume(ctx, cfg, func(_ context.Context, batch []Message) error {
				for _, m := range batch {
					seen[string(m.Key)] = string(m.Value)
				}
				return nil
			}, true); err != nil {
				t.Fatal(err)
			}
			if len(seen) != n || seen["k007"] != "v007" {
				t.Fatalf("consumed %d distinct keys (k007=%q), want %d", len(seen), seen["k007"], n)
			}
			// The group committed everything: draining again hands nothing over.
			if err := Consume(ctx, cfg, func(context.Context, []Message) error { return errors.New("delivered again") }, true); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// A wrong password is refused with an error that says so, for both
// mechanisms; a certificate from a CA the client does not trust is
// refused, saying to check the CA file.
func TestSASLSSLRefusals(t *testing.T) {
	l := saslListenerOrSkip(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, mech := range []string{SASLScramSHA512, SASLPlain} {
		b := l.brokers(t, mech, l.pw+"-wrong")
		err := EnsureTopics(ctx, b, nil, 1)
		if !errors.Is(err, kgo.SASLAuthenticationFailed) || !strings.Contains(err.Error(), "refused the login") {
			t.Fatalf("%s with a wrong password: %v", mech, err)
		}
		if strings.Contains(err.Error(), l.pw) {
			t.Fatalf("%s: the error holds the password: %v", mech, err)
		}
		if _, err := ReadAll(ctx, b, "dao.pools.v1"); !errors.Is(err, kgo.SASLAuthenticationFailed) {
			t.Fatalf("%s ReadAll with a wrong password: %v", mech, err)
		}
	}
	untrusted := l.brokers(t, SASLScramSHA512, l.pw)
	untrusted.TLS = &tls.Config{MinVersion: tls.VersionTLS12} // the system's roots only
	err := EnsureTopics(ctx, untrusted, nil, 1)
	var unknownCA x509.UnknownAuthorityError
	if !errors.As(err, &unknownCA) || !strings.Contains(err.Error(), "check the CA file") {
		t.Fatalf("a certificate of an untrusted CA: %v", err)
	}
}

// The brokers' text names the addresses, TLS, the mechanism and the user,
// never the password, however it is printed.
func TestBrokersNeverPrintThePassword(t *testing.T) {
	for _, mech := range []string{SASLScramSHA512, SASLPlain} {
		m, err := SASL(mech, "alice", "s3cret-pw")
		if err != nil {
			t.Fatal(err)
		}
		b := Brokers{Addrs: []string{"k1:9093", "k2:9093"}, TLS: &tls.Config{}, SASL: m}
		for _, s := range []string{b.String(), fmt.Sprint(b), fmt.Sprintf("%v %+v %#v %s", b, b, b, b), fmt.Sprintf("%v %+v %#v", m, m, m)} {
			if strings.Contains(s, "s3cret") {
				t.Fatalf("%s: %q holds the password", mech, s)
			}
		}
		if want := "k1:9093,k2:9093 tls sasl " + m.Name() + " user alice"; b.String() != want {
			t.Fatalf("String() = %q, want %q", b.String(), want)
		}
	}
	for _, c := range []struct{ mech, user, pw, want string }{
		{"scram-sha-256", "u", "p", `got "scram-sha-256"`},
		{SASLPlain, "", "p", "needs a user name"},
		{SASLScramSHA512, "u", "", "needs a password"},
	} {
		if _, err := SASL(c.mech, c.user, c.pw); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Fatalf("SASL(%q, %q, ...): %v, want %q", c.mech, c.user, err, c.want)
		}
	}
	if m, err := SASL(SASLNone, "", ""); m != nil || err != nil {
		t.Fatalf("none: %v, %v", m, err)
	}
}
