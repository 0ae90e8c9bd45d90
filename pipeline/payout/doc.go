// Package payout turns a period's entitlements into a payout manifest: one
// intent per transfer with a deterministic id, the ledger memo derived from
// that id, and a created_at_time fixed at plan time, plus totals, the rules
// version, the input hashes (the pool periods' manifest hashes) and a
// manifest hash that approvals bind to. It also holds the rules that must
// hold before anything is signed (conservation, known recipients, caps, the
// m-of-n approval), the attempts of an intent (a new created_at_time only
// after the earlier ones are proven absent) and how a ledger block is
// matched to an intent.
//
// It is pure: the plan time is an argument, never read from a clock; it
// never talks to the ledger, Vault or a store (cmd/nodeshare does).
package payout
