// Package lifecycle is the pool lifecycle processor's stage (run by
// `nodeshare process` beside the entitlement processor): it turns the
// ledger's deposits and the pools' NNS and node facts into the lifecycle of
// each crowdfunded pool, by the rules of pipeline/lifecycle (imported here
// as rules), and publishes what they decide on dao.pool-lifecycle.v1. The
// package is named after the rules it runs; inside it the rules are always
// `rules` (docs/pipeline.md "The lifecycle processor").
//
// It owns, for each batch the consume loop (connectors/kafka.ConsumeStage)
// hands it from dao.pools.v1, dao.pool-facts.v1 and ic.ledger-blocks.v1:
//   - the pools: the latest terms of every pool on dao.pools.v1, and the
//     map from its deposit and bond accounts back to it, so that a block to
//     an account of no pool is skipped after one map look-up, without
//     decoding or hashing it (peek.go);
//   - the order of a pool's facts: by time; at one instant deposits before
//     pool facts, deposits by block index, pool facts in topic order
//     (facts.go). A fact that arrives after a later fact of its pool was
//     applied is put in its place in time when that changes no transfer
//     already published, and dead-lettered as out of order otherwise
//     (pool.go);
//   - dead letters: a fact the rules refuse, a pool fact of no pool, terms
//     the rules refuse, a record that does not decode: DLQ v1 on
//     dao.dlq.v1 with the reason, once per source record (the stage knows
//     the dead letters already written: read at start, then its own);
//   - outputs: every transfer once under <dao>/<pool>/transfer/<seq>, and
//     the pool's state under <dao>/<pool>/state whenever its content
//     changed. A transfer never changes: a result that would change one
//     stops the stage (an error, no commit) instead of publishing it;
//   - "durable before effect" and its order: the batch's dead letters, then
//     its states and transfers, the states first (one write when they fit
//     one produce request); the loop commits the offsets only after both
//     are acknowledged. Each state record carries in a header
//     (HeaderHandled) the input positions it reflects, so a restarted
//     processor knows exactly which facts its predecessor applied
//     (rebuild.go).
//
// State: one rules.Pool per pool, kept in memory between batches (a batch
// applies only its new facts), rebuilt from the topics when the stage
// starts and after a batch failed (a redelivery), so that a restarted
// processor publishes what a running one would have. A conservation or
// other invariant failure of the rules is fatal: the batch fails and the
// stage stops; it is never dead-lettered.
//
// It never decides an amount (pipeline/lifecycle does), never reads a clock
// (time is the facts' own), and never imports a connector or a driver: it
// reads and writes the log through its port, Log (ports.go), which
// cmd/nodeshare fills with connectors/kafka.Log.
package lifecycle
