package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/nodeshare/nodeshare/connectors/clickhouse"
)

// BenchmarkStatementVsScan is one sponsor's statement read over a year of
// entitlement rows (NODESHARE_BENCH_ENTITLEMENTS, default 10,000,000: 12
// monthly periods of one DAO, the same sponsors each month, each named by
// a 64-hex account identifier as sponsors are) through
// entitlements_by_recipient's sort key (what nodeshare statement reads),
// against the same sponsor's rows found by a full scan of the entitlements
// table, in the same run and database. Target: the statement read at
// least 100x faster. The rows are generated inside ClickHouse
// (numbers()), inserted once into a fresh database, dropped at the end.
func BenchmarkStatementVsScan(b *testing.B) {
	if os.Getenv("NODESHARE_KAFKA_BROKERS") == "" {
		b.Skip("needs the local stack: eval \"$(ops/stack env)\"")
	}
	n := 10_000_000
	if v := os.Getenv("NODESHARE_BENCH_ENTITLEMENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 12 {
			b.Fatalf("NODESHARE_BENCH_ENTITLEMENTS=%q: want a count >= 12", v)
		}
	}
	ctx := context.Background()
	cfg := clickhouse.Config{Addr: envOr("NODESHARE_CLICKHOUSE_ADDR", "127.0.0.1:19000"), Database: fmt.Sprintf("nodeshare_bench_%d", time.Now().UnixNano())}
	store, err := clickhouse.Open(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = store.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS "+cfg.Database)
		store.Close()
	}()
	if _, err := store.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	perPeriod := n / 12
	start := time.Now()
	// Row i: period i / perPeriod (12 months of 2026), sponsor i %
	// perPeriod, named as sponsors are: a 64-hex account identifier.
	if err := store.Conn().Exec(ctx, fmt.Sprintf(`INSERT INTO entitlements
		SELECT 'bench-dao', concat('2026-', leftPad(toString(intDiv(number, %d) + 1), 2, '0'), '-01'), 'pool-a',
		       lower(hex(SHA256(toString(number %% %d)))), 'sponsor', 'v1', 100000000, 1000000, 0, 1000000, 990000, 10000, 0,
		       'manifest', '', toString(number), 0, number
		FROM numbers(%d)`, perPeriod, perPeriod, perPeriod*12)); err != nil {
		b.Fatal(err)
	}
	if err := store.Conn().Exec(ctx, "OPTIMIZE TABLE entitlements_by_recipient FINAL"); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d entitlement rows inserted (and their by-recipient copy) in %s", perPeriod*12, time.Since(start).Round(time.Millisecond))
	var sponsor string
	if err := store.Conn().QueryRow(ctx, fmt.Sprintf("SELECT lower(hex(SHA256('%d')))", perPeriod/2)).Scan(&sponsor); err != nil {
		b.Fatal(err)
	}
	var nsStatement, nsScan float64
	// The floor: one round trip to the server.
	b.Run("select-1", func(b *testing.B) {
		for range b.N {
			var one uint8
			if err := store.Conn().QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("statement-by-recipient", func(b *testing.B) {
		for range b.N {
			ents, err := store.EntitlementsOf(ctx, "bench-dao", []string{sponsor}, "2026-01-01", "2026-12-31")
			if err != nil || len(ents) != 12 {
				b.Fatalf("%d rows, %v", len(ents), err)
			}
		}
		nsStatement = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	})
	b.Run("full-scan", func(b *testing.B) {
		for range b.N {
			var rows uint64
			if err := store.Conn().QueryRow(ctx, `SELECT count() FROM entitlements FINAL WHERE identity(recipient) = ? AND dao = ? AND period >= ? AND period <= ?`,
				sponsor, "bench-dao", "2026-01-01", "2026-12-31").Scan(&rows); err != nil || rows != 12 {
				b.Fatalf("%d rows, %v", rows, err)
			}
		}
		nsScan = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		if nsStatement > 0 {
			b.ReportMetric(nsScan/nsStatement, "x-faster-by-recipient")
		}
	})
}
