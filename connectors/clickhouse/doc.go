// Package clickhouse is nodeshare's door to the ClickHouse audit trail, built
// on github.com/ClickHouse/clickhouse-go/v2 (native protocol).
//
// It owns: opening a connection pool, applying the embedded migrations of
// package schemas (recorded with their hashes; a changed applied migration is
// an error), idempotent batch inserts (every batch carries a deterministic
// insert_deduplication_token and the tables are ReplacingMergeTree keyed by
// the business key: docs/pitfalls.md C1-C5, C7), and the exact reads the payout run
// and the auditors need (always FINAL). Its API speaks the domain rows of
// schemas/audit_rows.go; Store fills the stages' store ports
// (pipeline/stage/sink.Store, pipeline/stage/audit.Store).
//
// Every insert goes through one path with one timeout (send, insert.go):
// the Insert* methods and the generic InsertRow. The connector does not
// retry an insert: the stage that called it does, through the one retry
// policy (pipeline/stage/retry, retry.Always for a tokened insert). Only
// Open waits for a server that is starting.
//
// It never computes money; it stores and returns what the pipeline decided.
package clickhouse
