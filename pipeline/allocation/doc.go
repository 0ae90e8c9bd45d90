// Package allocation turns a node-provider reward into sponsor payouts,
// exactly as docs docs/allocation-rules.md says, and nothing else.
//
// It owns both levels of the rules: SplitReward splits one NP reward between
// a DAO's pools by node weight (level 1), and Allocate computes one pool's
// period (level 2): hoster fee, DAO fee, whale premium, largest-remainder pro
// rata, ledger fee, minimum payout with carry-forward, and the refunds with a
// slash when the pool's proposal was rejected. VotingWeights gives voting
// weights and sockpuppet hints. DecodePoolPeriodJSON and EncodeResultJSON are
// the `nodeshare allocate` contract; Explain writes a statement per recipient
// in plain words; ManifestSHA256 hashes the canonical encoding.
//
// # Rule versions
//
// Rules are frozen versions registered in one table (registry.go) under
// their name ("v1", "v2"). There is no default version: every call names
// one, and the version is recorded in the result and its manifest, so a
// period paid under v1 is recomputed under v1 now that v2 exists.
// Registering a name twice is an error. A rule change is a new file, never
// an edit: v2 (rules_v2.go) pays the hoster per engagement within the
// period (Hosters, the period bounds) and changes nothing else, so it runs
// the frozen v1 code for every other step (see rulesV2.Allocate).
//
// # Exactness
//
// Amounts are integer e8s (money.E8s). Every floor goes through
// money.MulDivFloor (128-bit products), so pipeline/money stays the only
// place that rounds; this package only hands out the remainders, one unit at
// a time, in the documented order. The one exception is v2's hoster fee per
// engagement (engagementFee): its fixed part can exceed 2^64 before it is
// prorated by time, so it is computed exactly with math/big, with exactly
// the floors the rules write. The conservation invariants
// (G = H + D_fee + sum(share_i); per recipient owed = transfer + fee +
// carry_out; the whale never below its pro-rata share; nothing paid beyond
// what is owed) are checked by CheckInvariants at the end of every Allocate;
// a failure returns ErrInvariant and never a result. Bad input returns an
// *InputError (matching ErrInvalidInput) naming the field and the value.
// Nothing panics on input.
//
// # Determinism
//
// Results never depend on input order or map order: contributions are folded
// per sponsor in bytewise id order, every tie is broken by id, and CarryIn is
// only looked up. The canonical encoding (WriteCanonical) therefore gives the
// same bytes, and ManifestSHA256 the same hash, for any permutation of the
// input lists. The encoding is specified on WriteCanonical and pinned by a
// golden test.
//
// # Canonical encoding and manifest hash
//
// ManifestSHA256 is the lowercase hex SHA-256 of the canonical encoding,
// format "nodeshare.allocation.manifest/1" ("/2" for v2 results, which bind
// every hoster engagement and the period bounds): compact one-line JSON with a
// fixed key order (format, rules_version, pool_id, period, params{rate,
// hoster fixed fee, hoster bps, DAO bps, premium bps, ledger fee, minimum
// payout}, gross, hoster fee, DAO fee, distributable, total stake, whale,
// whale candidate, premium, whale pro rata, proposal, hoster{account,
// carry-in, owed, transfer, fee, carry-out}, shares[{sponsor, stake, share,
// carry-in, transfer, fee, carry-out}] sorted by sponsor bytes), integers
// as plain decimal digits, null for absent values, and only `"`, `\` and
// control bytes escaped. It binds the parameters and the hoster account as
// well as the amounts. Any byte change to it is a new format name.
//
// # Cost
//
// Allocate is linear in the contributions when they arrive sorted by sponsor
// and by id (verified in one pass each); otherwise it sorts one []int32
// index. The largest-remainder step selects instead of sorting (see
// splitProRata), and one final pass hands out the leftover units and settles
// every share. It allocates the result's Shares slice and, only for unsorted
// input, that index: a constant number of allocations per call.
//
// # What it must never do
//
// No I/O (io.Writer/io.Reader parameters are the caller's), no clock, no
// os, no logging, no goroutines, no floating point, no state beyond the
// frozen rules table.
package allocation
