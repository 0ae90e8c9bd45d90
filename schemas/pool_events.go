package schemas

import "strconv"

// The pool lifecycle's topics (docs/pools.md). Deposits are not facts of
// their own: they are the ledger's blocks to a pool's deposit or bond
// account, on ic.ledger-blocks.v1.
const (
	// TopicPoolFacts holds the lifecycle facts other than deposits: the
	// NNS proposal (submitted by the DAO, decided by governance) and the
	// node joining and leaving the node rewards data.
	TopicPoolFacts = "dao.pool-facts.v1"
	// TopicPoolLifecycle holds what the lifecycle processor derived: each
	// pool's state after its latest fact, and every transfer the lifecycle
	// owes (refunds, settlement, bond return and forfeit), once each.
	TopicPoolLifecycle = "dao.pool-lifecycle.v1"
)

// Event types of the pool lifecycle.
const (
	TypePoolFact     = "pool_fact"
	TypePoolState    = "pool_state"
	TypePoolTransfer = "pool_transfer"
)

// PoolTopics are the lifecycle's topics; Topics() includes them.
func PoolTopics() []TopicSpec {
	return []TopicSpec{
		{Name: TopicPoolFacts, Partitions: 1, Key: "<dao>/<pool id>/<fact type>/<proposal id, node id/at, at for a tick, vote id, or vote id/voter/nonce for a ballot>"},
		{Name: TopicPoolLifecycle, Partitions: 1, Key: "<dao>/<pool id>/state, <dao>/<pool id>/transfer/<seq>"},
	}
}

// PoolFact is one lifecycle fact about a pool that is not a deposit, in
// the words of docs/pool-rules.md: Type is proposal_submitted (ProposalID),
// proposal_decided (ProposalID, Status adopted|rejected|failed), node_up
// or node_down (NodeID), tick (only lets time pass: the connector's clock
// for a pool's deadline and lock-up end), vote_opened (VoteID, Kind,
// Subject, ClosesAt, ThresholdBps) or ballot (Ballot, signed by the
// voter's key). At is RFC 3339: for a ballot, the time it was received.
type PoolFact struct {
	DAO        string  `json:"dao"`
	PoolID     string  `json:"pool_id"`
	Type       string  `json:"type"`
	At         string  `json:"at"`
	ProposalID *uint64 `json:"proposal_id,omitempty"`
	Status     string  `json:"status,omitempty"`
	NodeID     string  `json:"node_id,omitempty"`

	VoteID       string        `json:"vote_id,omitempty"`
	Kind         string        `json:"kind,omitempty"`
	Subject      string        `json:"subject,omitempty"`
	ClosesAt     string        `json:"closes_at,omitempty"`
	ThresholdBps *int64        `json:"threshold_bps,omitempty"`
	Ballot       *SignedBallot `json:"ballot,omitempty"`
}

// PoolFactKey is a fact's key on dao.pool-facts.v1: a proposal fact is
// keyed by its proposal id (one submission, one decision per proposal),
// a node fact by the node and its time (a node may come and go), a tick
// by its time.
func PoolFactKey(f PoolFact) string {
	base := PoolKey(f.DAO, f.PoolID) + "/" + f.Type + "/"
	switch {
	case f.Type == "tick":
		return base + f.At
	case f.Type == "vote_opened":
		return base + f.VoteID
	case f.Type == "ballot" && f.Ballot != nil:
		return base + f.Ballot.VoteID + "/" + f.Ballot.Voter + "/" + strconv.FormatUint(f.Ballot.Nonce, 10)
	}
	if f.ProposalID != nil {
		return base + strconv.FormatUint(*f.ProposalID, 10)
	}
	return base + f.NodeID + "/" + f.At
}

// PoolTransfer is one transfer a pool's lifecycle owes (docs/pool-rules.md
// "Transfers"): To is the account identifier it goes back to (64 hex),
// Seq its row in the lifecycle's transfers. A row with TransferE8s 0 is
// dust kept by the DAO: nothing is sent.
type PoolTransfer struct {
	DAO    string `json:"dao"`
	PoolID string `json:"pool_id"`
	Seq    int    `json:"seq"`
	Kind   string `json:"kind"` // refund, settlement, bond_return, bond_forfeit
	// From is the pool account the money leaves (64 hex): the deposit
	// account, or the bond account for bond refunds, returns and
	// forfeits. The payout signs from its subaccount.
	From        string  `json:"from"`
	To          string  `json:"to"`
	GrossE8s    int64   `json:"gross_e8s"`
	TransferE8s int64   `json:"transfer_e8s"`
	FeeE8s      int64   `json:"fee_e8s"`
	Reason      *string `json:"reason"`
	Cause       string  `json:"cause"`
	At          string  `json:"at"`
	// TermsVersion is the version of the terms the transfer was computed
	// under.
	TermsVersion int `json:"terms_version"`
}

// PoolTransferKey is a transfer's key on dao.pool-lifecycle.v1.
func PoolTransferKey(dao, poolID string, seq int) string {
	return PoolKey(dao, poolID) + "/transfer/" + strconv.Itoa(seq)
}

// PoolState is a pool's lifecycle after the facts known so far: the
// `pools replay` output (Output, the contract's JSON object, with its
// lifecycle_sha256) as of the latest fact applied.
type PoolState struct {
	DAO          string `json:"dao"`
	PoolID       string `json:"pool_id"`
	TermsVersion int    `json:"terms_version"`
	AsOf         string `json:"as_of"`
	Facts        int    `json:"facts"`
	State        string `json:"state"`
	Output       string `json:"output"`
	// SettledAt and RetiredAt bound the pool's active time (RFC 3339 as
	// the facts gave it; "" until it happens): a crowdfunded pool earns
	// the rewards minted inside it (pipeline/entitle).
	SettledAt string `json:"settled_at,omitempty"`
	RetiredAt string `json:"retired_at,omitempty"`
	// Stakes are the sponsor accounts' accepted totals, as in Output, with
	// the time of each account's first accepted deposit: the
	// contributions the reward allocation is computed from.
	Stakes []PoolStake `json:"stakes,omitempty"`
	// Votes are the pool's votes with what each decides (kind and subject,
	// docs/governance.md "What a passed vote changes") and when it closes,
	// sorted by vote_id: the processors that apply a passed vote read them.
	// Their tallies are in Output.
	Votes []PoolVote `json:"votes,omitempty"`
}

// PoolVote is one vote of a pool as its state records it. ClosesAt is
// when a passed vote takes effect; Status is open until the close fires
// (the first fact after ClosesAt), then passed or failed.
type PoolVote struct {
	VoteID   string `json:"vote_id"`
	Kind     string `json:"kind"`
	Subject  string `json:"subject"`
	OpenedAt string `json:"opened_at"`
	ClosesAt string `json:"closes_at"`
	Status   string `json:"status"`
}

// PoolStake is one sponsor account's stake in a crowdfunded pool.
type PoolStake struct {
	Account         string `json:"account"`
	Identity        string `json:"identity"`
	AcceptedE8s     int64  `json:"accepted_e8s"`
	FirstAcceptedAt string `json:"first_accepted_at"`
}

// PoolStateKey is a pool's state key on dao.pool-lifecycle.v1.
func PoolStateKey(dao, poolID string) string { return PoolKey(dao, poolID) + "/state" }
