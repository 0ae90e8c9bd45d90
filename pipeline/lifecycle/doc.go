// Package lifecycle owns the pool lifecycle rules, version lifecycle-v1
// (docs/pool-rules.md): who holds a stake in a crowdfunded node, and every
// transfer a pool's life causes besides rewards. Funding with its refunds
// on arrival (late, closed, below the minimum, over the target, over a
// sponsor's cap, a bond deposit from someone else or beyond the bond), the
// funding deadline, the NNS proposal and its outcome (refunds, with a
// per-contribution slash when rejected), settlement to the purchaser once
// the node is up and the bond complete, the lock-up and the bond's return
// or forfeit, and the DAO's votes with identity-capped weights. It also
// owns the JSON contract of `nodeshare pools replay` and its canonical
// encoding with lifecycle_sha256. Package allocation splits a running
// pool's rewards; this package decides who has a stake to be paid on.
//
// # Model
//
// A Pool is a state machine: New(terms), then Apply(fact) for each fact in
// time order. Apply first fires the timed rules due strictly before the
// fact's at (the funding deadline, vote closes by vote_id, the lock-up end,
// in time order), then applies the fact, and returns the transfers that
// arose. The pool is a pure function of its terms and facts: a stream
// processor keeps one per pool id and feeds it the pool's facts; Replay
// does the same over the list of a JSON document. Result gives the output
// object at any point; EncodeOutput writes it as the contract's JSON.
//
// Time is only ever the facts' `at`: a timed rule due after the last fact
// has not fired, and a `tick` fact exists to let time pass.
//
// # Errors
//
// Invalid input (a bad term, a fact out of order, a fact the current state
// does not allow, a malformed account, an unknown field or enum value, a
// number that is not a plain integer in range, a repeated JSON key) is an
// *InputError matching ErrInvalidInput, which names the place and the
// value: `terms.target_e8s: must be > 0, got 0`,
// `facts[3].amount_e8s: must be >= 0, got -5`. Apply refuses an invalid
// fact before changing anything, so a processor can dead-letter it and go
// on. After every fact the pool checks conservation (all deposits = stake
// held + bond held + the sum of transfer + fee + retained slash + retained
// dust) and its bounds; a failure is ErrInvariant, a bug, never input. No
// input makes the package panic (FuzzReplay).
//
// # Money
//
// Amounts are integer e8s (money.E8s); every floor is money.MulDivFloor's
// (through money.ApplyBps), and the largest-remainder split only hands out
// the units those floors left over. Deposits of one pool may total up to
// 2^64-1 e8s (more is invalid input), so every sum is exact in a uint64.
//
// # What it must never do
//
// No I/O (ReplayJSON only reads the io.Reader it is given), no clock, no
// logging, no goroutines, no floating point, no os, net/http, database/sql
// or connector imports, and no package state that changes. Nothing is
// decided by map iteration order: every list that is ordered is sorted by
// bytes first.
package lifecycle
