// Package pools is the stage behind `nodeshare pools create|show|list`: a
// pool's terms become events on the compacted dao.pools.v1 (key
// <dao>/<pool id>), never edited in place. It owns: deriving the pool's
// deposit and bond accounts from the DAO treasury and the pool id
// (schemas.DepositSubaccount), checking the terms with the lifecycle rules
// before anything is written (pipeline/lifecycle: the same checks as
// `pools replay`, errors naming the field and the value), and refusing a
// change of terms once any block on ic.ledger-blocks.v1 moves ICP to or
// from the pool's accounts (stricter than the rules' "first accepted
// deposit", so published lifecycle transfers never change). Propose records the
// DAO's NNS proposal for a funded pool (proposal_submitted on
// dao.pool-facts.v1), once. It decides no amount
// and opens no connection: its port is the event log.
package pools
