// Package entitle is the entitlement processor's state machine: it is fed
// pool, contribution, pool lifecycle state and entitlement events (to know
// the DAO's pools, which of them earn, the funded stakes and every
// sponsor's carry), and for each NNS node-provider reward it emits the pool
// periods and per-recipient entitlements computed by package allocation
// under the pool's rule version.
//
// It is pure: no I/O, no clock, no logging. The stage that feeds it is
// pipeline/stage/process (it rebuilds the state from the topics for each
// reward, calls Reward and publishes the events it returns once); the
// Kafka consume loop that runs that stage is connectors/kafka/consume.go
// (ConsumeStage), wired by cmd/nodeshare/process.go. The same events in
// give the same bytes out, so a replay reproduces every entitlement and
// manifest hash.
//
// Which pools earn a reward: a legacy pool (no lifecycle terms) when its
// proposal_status is adopted; a crowdfunded pool (with terms) when its
// latest lifecycle state (dao.pool-lifecycle.v1, published by
// pipeline/stage/lifecycle) has it active at the reward's timestamp:
// settled at or before it and not retired at or before it. A crowdfunded
// pool's contributions are that state's stakes, one per sponsor account;
// contributions typed for it are ignored (crowdfunded.go).
//
// Choices (see docs/pipeline.md): a period is the UTC date of the reward's
// timestamp (YYYY-MM-DD); a contribution counts for a period when its `at` is
// at or before the reward's timestamp; carry-in is the carry-out of the same
// recipient in the same pool and role in the latest earlier period.
package entitle
