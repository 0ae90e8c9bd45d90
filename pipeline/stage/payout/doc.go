// Package payout is the payout stage: plan, approve, run, resume and status
// of one DAO period's transfers. It owns the order that makes a payout
// exactly-once:
//
//   - plan: the manifest (pipeline/payout decides every amount) is stored
//     once, intents first and the header last; planning again returns the
//     stored manifest, never a new created_at_time;
//   - run: before the first signature every check passes (the entitlements
//     still plan to the approved manifest, conservation, caps, the ledger
//     fee, the treasury balance); then each unpaid intent is sent with its
//     memo and created_at_time (the ledger de-duplicates) until a verified
//     outcome is recorded; transient failures are retried by the one retry
//     policy (package retry);
//   - durable before effect: a result is recorded only from a verified
//     answer, and an intent gets a new created_at_time (a new attempt) only
//     when the ledger has certified TooOld and its blocks hold none of the
//     intent's attempts; the attempt is stored before it is signed.
//
// Its ports are Store (DurableStore: the event log, then the tables) and
// Ledger (connectors/ic.PayoutLedger). It never decides money (the rules
// in pipeline/payout do), never opens a connection, and reads time only
// from its Clock. The Crash* points are where the kill tests and the
// deterministic simulation stop it.
package payout
