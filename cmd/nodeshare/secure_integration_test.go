package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

// readerFlags are the flags that make a command log in as the stack's
// read-only ClickHouse user (ops/stack: nodeshare_reader, SELECT only);
// nil when the stack does not name it.
func readerFlags(t *testing.T) []string {
	t.Helper()
	u, f := os.Getenv("NODESHARE_STACK_CLICKHOUSE_READER_USER"), os.Getenv("NODESHARE_STACK_CLICKHOUSE_READER_PASSWORD_FILE")
	if u == "" || f == "" {
		if os.Getenv("NODESHARE_REQUIRE_SERVICES") == "1" {
			t.Fatal("NODESHARE_REQUIRE_SERVICES=1 but NODESHARE_STACK_CLICKHOUSE_READER_USER is unset: run through ops/test")
		}
		return nil
	}
	return []string{"--clickhouse-user", u, "--clickhouse-password-file", f}
}

// audit verify and payout status work with the read-only user (over TLS
// in ops/test's secure pass); nodeshare migrate, which writes, is refused
// by the server and says which grant is missing.
func TestReadOnlyUserAuditsAndCannotMigrate(t *testing.T) {
	cfg := requireServices(t)
	ro := readerFlags(t)
	if ro == nil {
		t.Skip("integration test: needs the stack's read-only user (ops/stack up; eval \"$(ops/stack env)\")")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	store, db := freshDatabase(t, ctx, cfg)
	if _, err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (int, string, string) {
		var out, errb bytes.Buffer
		code := dispatch(ctx, append(append(args, "--clickhouse-database", db), ro...), strings.NewReader(""), &out, &errb)
		return code, out.String(), errb.String()
	}
	if code, out, errb := run("audit", "verify"); code != 0 || !strings.Contains(out, "audit verify: OK") {
		t.Fatalf("audit verify as the reader: exit %d\n%s%s", code, out, errb)
	}
	if code, out, errb := run("audit", "verify", "--json"); code != 0 || !strings.Contains(out, `"ok": true`) || !strings.Contains(out, `"findings": []`) {
		t.Fatalf("audit verify --json as the reader: exit %d\n%s%s", code, out, errb)
	}
	if code, out, errb := run("payout", "status", "--dao", "it-ro", "--period", "2026-11-01", "--approvers", "alice=302a300506032b6570032100"+strings.Repeat("ab", 32), "--threshold", "1"); code != 0 || !strings.Contains(out, "not planned") {
		t.Fatalf("payout status as the reader: exit %d\n%s%s", code, out, errb)
	}
	if code, out, errb := run("migrate"); code == 0 || !strings.Contains(errb, "Not enough privileges") {
		t.Fatalf("migrate as the reader: exit %d\n%s%s", code, out, errb)
	}
}
