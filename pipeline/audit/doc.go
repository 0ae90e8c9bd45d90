// Package audit recomputes what nodeshare decided from the raw audit rows
// alone: it checks the per-stream hash chain of the raw rows and re-runs the
// entitlement processor (package entitle, the same versioned rules) over the
// raw pool, contribution, entitlement and reward records, comparing every
// pool period's manifest hash and every entitlement byte for byte.
//
// It is pure: the caller reads the rows (connectors/clickhouse) and reports
// the findings. A finding names the row, the expected and the found value.
package audit
