// Package audit is the stage of `nodeshare audit verify`: it reads the
// audit trail through its port, Store (connectors/clickhouse.Store in
// production), and runs every check over it: the hash chain and the
// recomputation of every decision (the rules of pipeline/audit, in Go), the
// decision table against its raw records and the totals (the store's own
// queries, in SQL, independent of the Go code). docs/auditing.md says what
// each finding means.
//
// It owns the order of the checks and the report; it only reads, never
// repairs or writes anything, never decides money (the rules it re-runs
// do), and never imports a connector or a driver.
package audit
