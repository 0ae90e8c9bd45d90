// Package votes is the door of pool votes (docs/governance.md): the DAO
// opens a vote, sponsors cast ballots signed with the key that owns their
// account, and anyone lists the votes with their tallies.
//
// The rules that decide a vote (weights frozen at the snapshot, each
// identity's last ballot, the threshold of all the weight) are
// pipeline/lifecycle's; the lifecycle processor applies them to the facts
// this package publishes on dao.pool-facts.v1 and dead-letters a ballot it
// refuses, with the reason. This package checks at the door what it can
// without the pool's state, so that a sponsor hears "no" at once, and
// answers only after the broker acknowledged the ballot:
//   - a ballot is signed (public key and signature), its key owns the voter
//     account (the key's self-authenticating principal with the ballot's
//     subaccount hashes to it), and the signature verifies over
//     schemas.BallotMessage;
//   - the vote was opened on the pool and has not closed (a late ballot);
//   - the voter's ballots already on the log all have lower nonces (a
//     replay).
//
// The voter's weight (a non-sponsor holds none) is the processor's
// decision; Ballots reports each of a voter's ballots as counted, refused
// (with the dead letter's reason) or pending.
//
// It reads and writes the log through its port, Log; the signature check
// is the Verifier port (connectors/ic.Verifier).
package votes
