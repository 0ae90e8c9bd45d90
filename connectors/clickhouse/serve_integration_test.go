package clickhouse

import (
	"context"
	"strings"
	"testing"
	"time"
)

// The serve store reads and cannot write, though the stack's user can;
// it creates no database.
func TestServeOpenReadOnly(t *testing.T) {
	rw, ctx := freshStore(t)
	if _, err := rw.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	ro, err := OpenReadOnly(ctx, envConfig(t, rw.Database()))
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := ro.Manifests(ctx, "nobody"); err != nil {
		t.Fatalf("read: %v", err)
	}
	// A deadline makes clickhouse-go set max_execution_time: allowed.
	dctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if _, err := ro.LedgerCursor(dctx); err != nil {
		t.Fatalf("read with a deadline: %v", err)
	}
	for _, q := range []string{"CREATE TABLE ro_probe (x UInt8) ENGINE = Memory", "INSERT INTO payout_manifests (dao) VALUES ('x')",
		"SET readonly = 0"} {
		if err := ro.Conn().Exec(ctx, q); err == nil || !strings.Contains(strings.ToLower(err.Error()), "readonly") {
			t.Errorf("%s: %v, want a readonly refusal", q, err)
		}
	}
	if _, err := OpenReadOnly(ctx, envConfig(t, rw.Database()+"_missing")); err == nil {
		t.Fatal("opened a database that does not exist")
	}
}
