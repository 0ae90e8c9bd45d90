// Package ic is the connector to the Internet Computer: the ICP ledger
// (ICRC-1 fee, balance, transfer; the ledger's own transfer to an account
// identifier; blocks read from the ledger and its archives and proven
// against the certified tip, blockreader.go), NNS Governance and the CMC
// for node provider rewards, proposal outcomes and ICP/XDR rates, and the
// Node Rewards Canister for per-node daily rewards (the level-1 weights).
// It is built on agent-go v0.9.2.
//
// It must never disable certificate or query-signature verification. The
// root key is the mainnet key unless Config.FetchRootKey is set, which is only
// allowed for a local replica or the simulator in ops/icsim (it trusts
// /api/v2/status unauthenticated) and is refused for mainnet hosts.
//
// agent-go v0.9.2 does not verify the certificate of a synchronous
// (/api/v3|v4 call, HTTP 200) reply. Money moves here, so Transfer (and
// TransferToAccountID and ProposalInfo, which go the same way) builds and
// signs the request itself and verifies every certificate it relies on:
// BLS signature against the root key, freshness (VerifyTime), and the
// request_status/<request id> path. A forged reply is an error, never a
// result. On the asynchronous path (HTTP 202) it polls read_state through
// agent-go, which verifies those certificates. The IC signs once per round,
// so the replies of a round share a root hash and signature: the BLS check
// is cached per (root key, canister, delegation, signature, root hash), and
// only successes are cached (certcache.go). Freshness and the request_status
// lookup run for every reply.
//
// Errors: a ledger refusal is a *TransferError (Duplicate means the transfer
// already happened, see IsDuplicate); anything else is an *Error whose
// Transient flag says whether retrying with the same request (same
// created_at_time and memo, which the ledger de-duplicates) is safe and
// useful; OutcomeUnknown marks a transfer that may or may not have been
// executed and must be resent with the same arguments or reconciled from
// blocks.
package ic
