// Package payout turns a period's entitlements into a payout manifest: one
// intent per transfer with a deterministic id, the ledger memo derived from
// that id, and a created_at_time fixed at plan time, plus totals and a
// manifest hash that approvals bind to. It also checks the invariants that
// must hold before anything is signed.
//
// It is pure: the plan time is an argument, never read from a clock.
package payout
