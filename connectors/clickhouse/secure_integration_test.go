package clickhouse

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/nodeshare/nodeshare/schemas"
)

// envConfig is database on the server the NODESHARE_CLICKHOUSE_* variables
// name, with their user, password and TLS, as the commands' flags read
// them (cmd/nodeshare flags.go): ops/test's secure pass runs this
// package's tests over the stack's TLS port as its writer.
func envConfig(t *testing.T, database string) Config {
	t.Helper()
	c := Config{Addr: os.Getenv("NODESHARE_CLICKHOUSE_ADDR"), Database: database,
		Username: os.Getenv("NODESHARE_CLICKHOUSE_USER"), Password: os.Getenv("NODESHARE_CLICKHOUSE_PASSWORD")}
	if f := os.Getenv("NODESHARE_CLICKHOUSE_PASSWORD_FILE"); f != "" {
		c.Password = readSecret(t, f)
	}
	if os.Getenv("NODESHARE_CLICKHOUSE_TLS") == "true" || os.Getenv("NODESHARE_CLICKHOUSE_CA_FILE") != "" {
		c.TLS = tlsWithCA(t, os.Getenv("NODESHARE_CLICKHOUSE_CA_FILE"))
	}
	return c
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

// stackUsers are the stack's writer and reader (ops/stack), reached over
// its TLS port when the stack runs with --secure, else over the plaintext
// one.
func stackUsers(t *testing.T, database string) (writer, reader Config) {
	t.Helper()
	wu, ru := os.Getenv("NODESHARE_STACK_CLICKHOUSE_WRITER_USER"), os.Getenv("NODESHARE_STACK_CLICKHOUSE_READER_USER")
	if wu == "" || ru == "" {
		if os.Getenv("NODESHARE_REQUIRE_SERVICES") == "1" {
			t.Fatal("NODESHARE_REQUIRE_SERVICES=1 but NODESHARE_STACK_CLICKHOUSE_WRITER_USER is unset: run through ops/test")
		}
		t.Skip("integration test: needs the stack's ClickHouse users (ops/stack up; eval \"$(ops/stack env)\")")
	}
	base := Config{Addr: os.Getenv("NODESHARE_STACK_CLICKHOUSE_PLAIN_ADDR"), Database: database}
	if a := os.Getenv("NODESHARE_STACK_CLICKHOUSE_TLS_ADDR"); a != "" {
		base.Addr, base.TLS = a, tlsWithCA(t, os.Getenv("NODESHARE_STACK_CA_FILE"))
	} else if os.Getenv("NODESHARE_REQUIRE_SERVICES") == "1" {
		t.Fatal("NODESHARE_REQUIRE_SERVICES=1 but NODESHARE_STACK_CLICKHOUSE_TLS_ADDR is unset: ops/test runs ops/stack up --secure")
	}
	writer, reader = base, base
	writer.Username, writer.Password = wu, readSecret(t, os.Getenv("NODESHARE_STACK_CLICKHOUSE_WRITER_PASSWORD_FILE"))
	reader.Username, reader.Password = ru, readSecret(t, os.Getenv("NODESHARE_STACK_CLICKHOUSE_READER_PASSWORD_FILE"))
	return writer, reader
}

// The stack's users over TLS: the writer migrates and inserts into a
// nodeshare database but may not create one outside them; the reader
// reads what the writer wrote, and the server refuses its inserts and
// DDL even in a session it did not make read-only itself; a wrong
// password is refused.
func TestStackUsersOverTLS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db := fmt.Sprintf("nodeshare_it_store_%d", time.Now().UnixNano())
	writer, reader := stackUsers(t, db)

	w, err := Open(ctx, writer)
	if err != nil {
		t.Fatalf("writer %s: %v", writer, err)
	}
	t.Cleanup(func() {
		_ = w.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS "+db)
		w.Close()
	})
	if _, err := w.Migrate(ctx); err != nil {
		t.Fatalf("writer migrate: %v", err)
	}
	in := []schemas.PayoutIntent{{IntentID: "a", DAO: "d", Period: "p", AmountE8s: 5}}
	if err := w.InsertIntents(ctx, "tok-tls", in); err != nil {
		t.Fatalf("writer insert: %v", err)
	}
	if err := w.Conn().Exec(ctx, "CREATE DATABASE IF NOT EXISTS other_"+db); err == nil || !strings.Contains(err.Error(), "ACCESS_DENIED") && !strings.Contains(err.Error(), "Not enough privileges") {
		_ = w.Conn().Exec(ctx, "DROP DATABASE IF EXISTS other_"+db)
		t.Fatalf("the writer created a database outside nodeshare*: %v", err)
	}

	r, err := OpenReadOnly(ctx, reader)
	if err != nil {
		t.Fatalf("reader %s: %v", reader, err)
	}
	defer r.Close()
	got, err := r.Intents(ctx, "d", "p")
	if err != nil || len(got) != 1 || got[0].AmountE8s != 5 {
		t.Fatalf("reader read %+v, %v", got, err)
	}
	// A plain session of the reader (not OpenReadOnly's): the server
	// itself refuses the writes.
	opts := options(reader, db)
	raw, err := ch.Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, q := range []string{"INSERT INTO payout_intents (intent_id, dao, period) VALUES ('x', 'd', 'p')",
		"CREATE TABLE ro_probe (x UInt8) ENGINE = MergeTree ORDER BY x", "ALTER TABLE payout_intents DELETE WHERE 1"} {
		err := raw.Exec(ctx, q)
		if err == nil {
			t.Fatalf("the reader ran %q", q)
		}
		if msg := err.Error(); !strings.Contains(msg, "readonly") && !strings.Contains(msg, "Not enough privileges") {
			t.Fatalf("%s: %v, want a refusal", q, err)
		}
	}
	if got, err := w.Intents(ctx, "d", "p"); err != nil || len(got) != 1 {
		t.Fatalf("after the reader's attempts: %+v, %v", got, err)
	}

	bad := reader
	bad.Password += "-wrong"
	if s, err := OpenReadOnly(ctx, bad); err == nil || !strings.Contains(err.Error(), "Authentication failed") {
		if s != nil {
			s.Close()
		}
		t.Fatalf("a wrong password: %v", err)
	} else if strings.Contains(err.Error(), reader.Password) {
		t.Fatalf("the error holds the password: %v", err)
	}
}

// A config prints its server, database, user and TLS, never its password.
func TestConfigNeverPrintsThePassword(t *testing.T) {
	c := Config{Addr: "ch:9440", Database: "nodeshare", Username: "nodeshare_reader", Password: "s3cret-pw", TLS: &tls.Config{}}
	for _, s := range []string{c.String(), fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c), fmt.Sprintf("%v", &c)} {
		if strings.Contains(s, "s3cret") {
			t.Fatalf("%q holds the password", s)
		}
	}
	if want := "ch:9440/nodeshare user nodeshare_reader tls password set"; c.String() != want {
		t.Fatalf("String() = %q, want %q", c.String(), want)
	}
}
