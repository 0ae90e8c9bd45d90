// Package clickhouse is nodeshare's door to the ClickHouse audit trail, built
// on github.com/ClickHouse/clickhouse-go/v2 (native protocol).
//
// It owns: opening a connection pool, applying the embedded migrations of
// package schemas (recorded with their hashes; a changed applied migration is
// an error), idempotent batch inserts (every batch carries a deterministic
// insert_deduplication_token and the tables are ReplacingMergeTree keyed by
// the business key: PITFALLS C1-C5, C7), and the exact reads the payout run
// and the auditors need (always FINAL).
//
// It never computes money; it stores and returns what the pipeline decided.
package clickhouse
