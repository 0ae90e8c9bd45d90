// Package icsim is a local Internet Computer replica simulator that the real,
// unmodified agent-go v0.9.2 client talks to over HTTP.
//
// It owns: the IC HTTP interface (status, call v3/v4, query v2/v3,
// read_state v2/v3, subnet read_state), CBOR envelopes, request ids computed
// from the decoded content, sender signature and ingress_expiry checks,
// BLS-signed certificates under its own root key (no delegation), Ed25519
// signed query responses whose node key is published under the NNS subnet id
// (tdb26…) so agent-go's query verification stays on, and the canisters the
// payout pipeline needs: the ICP ledger (ICRC-1 and the ledger's own legacy
// transfer, with the real ledger's checks in its order and its
// de-duplication; blocks hashed as the ledger hashes them, the tip hash as
// certified data; archive canisters once the ledger archives), Governance
// (node-provider rewards, proposals), the CMC rates with certified data, and
// the Node Rewards Canister (node days, nodes joining and leaving).
//
// Fidelity rule: where the simulator plays a canister, it follows that
// canister's code in dfinity/ic, and its tests name the file and function
// they reproduce (ledger_fidelity_test.go). Where it cannot (no neurons, no
// inter-canister calls), the admin API stands in and the README says so.
//
// It must never be pointed at by production configuration: its root key is
// fetched unauthenticated from /api/v2/status, which is only acceptable for a
// local simulator.
//
// Certification rounds: like the IC, which certifies its state once per
// round, synchronous call replies are certified in rounds (group commit,
// rounds.go). Calls that arrive while a round is being signed gather in the
// next one; each round is BLS-signed once, and each caller gets that
// signature with the round's tree pruned to its own request_status/<rid>
// and /time. A lone call signs its own round at once. read_state and the CMC
// certificate are still signed one by one.
//
// Time: the HTTP layer (ingress_expiry checks and the certificate /time) runs
// on the wall clock because agent-go checks certificate freshness against its
// own wall clock. Canister time (ledger block timestamps, the 24 h
// de-duplication window, CreatedInFuture) runs on the controllable clock
// (wall clock plus an offset set through the admin API); block timestamps
// never go back even when that clock does.
//
// It is run by its own command, ops/icsim/cmd/icsim (ops/stack builds it).
package icsim
