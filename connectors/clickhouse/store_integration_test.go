package clickhouse

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nodeshare/nodeshare/schemas"
)

func freshStore(t *testing.T) (*Store, context.Context) {
	t.Helper()
	addr := os.Getenv("NODESHARE_CLICKHOUSE_ADDR")
	if addr == "" {
		if os.Getenv("NODESHARE_REQUIRE_SERVICES") == "1" {
			t.Fatal("NODESHARE_REQUIRE_SERVICES=1 but NODESHARE_CLICKHOUSE_ADDR is unset")
		}
		t.Skip("integration test: needs ClickHouse (ops/stack up; eval \"$(ops/stack env)\")")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	db := fmt.Sprintf("nodeshare_it_store_%d", time.Now().UnixNano())
	s, err := Open(ctx, envConfig(t, db))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS "+db)
		s.Close()
	})
	return s, ctx
}

func TestMigrateIsIdempotentAndRefusesAnEditedMigration(t *testing.T) {
	s, ctx := freshStore(t)
	migs, err := schemas.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	done, err := s.Migrate(ctx)
	if err != nil || len(done) != len(migs) {
		t.Fatalf("first migrate applied %v of %d: %v", done, len(migs), err)
	}
	done, err = s.Migrate(ctx)
	if err != nil || len(done) != 0 {
		t.Fatalf("second migrate applied %v: %v", done, err)
	}
	if err := s.Conn().Exec(ctx, "INSERT INTO schema_migrations VALUES (1, '0001_audit_trail.sql', 'edited', now64(3))"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Migrate(ctx); err == nil || !strings.Contains(err.Error(), "0001_audit_trail.sql") {
		t.Fatalf("an edited applied migration was not refused: %v", err)
	}
}

// The same batch sent twice with the same token is stored once, and reads
// through FINAL see one row per key even when a retry used another token.
func TestInsertsAreIdempotent(t *testing.T) {
	s, ctx := freshStore(t)
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	in := []schemas.PayoutIntent{{IntentID: "a", DAO: "d", Period: "p", AmountE8s: 5}, {IntentID: "b", DAO: "d", Period: "p", AmountE8s: 7}}
	for i := 0; i < 2; i++ {
		if err := s.InsertIntents(ctx, "tok-1", in); err != nil {
			t.Fatal(err)
		}
	}
	var n uint64
	if err := s.Conn().QueryRow(ctx, "SELECT count() FROM payout_intents").Scan(&n); err != nil || n != 2 {
		t.Fatalf("same token twice: %d physical rows (%v), want 2", n, err)
	}
	if err := s.InsertIntents(ctx, "tok-2", in[:1]); err != nil {
		t.Fatal(err)
	}
	got, err := s.Intents(ctx, "d", "p")
	if err != nil || len(got) != 2 || got[0].AmountE8s != 5 || got[1].AmountE8s != 7 {
		t.Fatalf("FINAL read: %+v, %v", got, err)
	}
}

// InsertRow goes through the same de-duplicating insert: one row sent
// twice with one token is stored once.
func TestInsertRowIsIdempotent(t *testing.T) {
	s, ctx := freshStore(t)
	if err := s.Conn().Exec(ctx, "CREATE TABLE approvals_test (sha String, approver String) ENGINE = MergeTree ORDER BY sha SETTINGS non_replicated_deduplication_window = 100"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := s.InsertRow(ctx, "approvals_test", "approval-abc/alice", []any{"abc", "alice"}); err != nil {
			t.Fatal(err)
		}
	}
	var n uint64
	if err := s.Conn().QueryRow(ctx, "SELECT count() FROM approvals_test").Scan(&n); err != nil || n != 1 {
		t.Fatalf("one row sent twice with one token: %d rows (%v), want 1", n, err)
	}
	if err := s.InsertRow(ctx, "approvals_test", "approval-abc/bob", []any{"abc", "bob"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Conn().QueryRow(ctx, "SELECT count() FROM approvals_test").Scan(&n); err != nil || n != 2 {
		t.Fatalf("another token: %d rows (%v), want 2", n, err)
	}
}
