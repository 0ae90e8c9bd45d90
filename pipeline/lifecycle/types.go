package lifecycle

import "github.com/nodeshare/nodeshare/pipeline/money"

// RulesVersion names the rules this package implements. It is written into
// every output and so into its hash: a rule change is a new version beside
// this one, never an edit of it.
const RulesVersion = "lifecycle-v1"

// Terms are a pool's terms (docs/pool-rules.md "Terms"), fixed when the
// pool is created. New validates them; see docs/pool-rules.md for each
// field's range.
type Terms struct {
	PoolID             string
	DepositAccount     string // sponsors send ICP here
	TargetE8s          money.E8s
	MinContributionE8s money.E8s
	MaxSponsorBps      money.Bps // of TargetE8s, per identity
	FundingDeadline    Time
	Purchaser          string // receives the stake at settlement; the only bond depositor
	SlashBps           money.Bps
	BondE8s            money.E8s
	BondAccount        string
	LockupUntil        Time
	MaxVotingBps       money.Bps // of the pool's stake, per identity
	LedgerFeeE8s       money.E8s
	// Identities maps an account to its attested identity; accounts of one
	// identity count as one sponsor for the cap and for votes. An account
	// that is not a key is its own identity. Only looked up, never iterated
	// for a decision, and copied by New.
	Identities map[string]string
}

// State is where a pool is in its life (docs/pool-rules.md "States").
type State string

// The states. Funding to retired is the normal path; expired, rejected and
// failed are the ends that refund.
const (
	StateFunding  State = "funding"
	StateFunded   State = "funded"
	StateProposed State = "proposed"
	StateAdopted  State = "adopted"
	StateActive   State = "active"
	StateRetired  State = "retired"
	StateExpired  State = "expired"
	StateRejected State = "rejected"
	StateFailed   State = "failed"
)

// FactType is the `type` of a fact.
type FactType string

// The fact types of the `nodeshare pools replay` contract.
const (
	FactDeposit           FactType = "deposit"
	FactProposalSubmitted FactType = "proposal_submitted"
	FactProposalDecided   FactType = "proposal_decided"
	FactNodeUp            FactType = "node_up"
	FactNodeDown          FactType = "node_down"
	FactVoteOpened        FactType = "vote_opened"
	FactBallot            FactType = "ballot"
	FactTick              FactType = "tick"
)

// ProposalStatus is the NNS outcome in a proposal_decided fact.
type ProposalStatus string

// The NNS outcomes.
const (
	ProposalAdopted  ProposalStatus = "adopted"
	ProposalRejected ProposalStatus = "rejected"
	ProposalFailed   ProposalStatus = "failed"
)

// VoteKind is what a DAO vote decides.
type VoteKind string

// The vote kinds.
const (
	VoteGrantHosterAccess VoteKind = "grant_hoster_access"
	VoteTerminateHoster   VoteKind = "terminate_hoster"
	VoteChangeHosterTerms VoteKind = "change_hoster_terms"
	VoteAdoptRulesVersion VoteKind = "adopt_rules_version"
	VoteApproveManifest   VoteKind = "approve_manifest"
)

// Choice is a ballot's choice.
type Choice string

// The ballot choices.
const (
	ChoiceYes     Choice = "yes"
	ChoiceNo      Choice = "no"
	ChoiceAbstain Choice = "abstain"
)

// Fact is one fact of a pool's stream: a tagged union, of which Apply reads
// Type, At and the fields listed for Type (the others are ignored).
type Fact struct {
	Type FactType
	At   Time

	// deposit
	BlockIndex uint64
	To         string
	From       string
	AmountE8s  money.E8s

	// proposal_submitted, proposal_decided
	ProposalID uint64
	Status     ProposalStatus // proposal_decided

	// node_up, node_down
	NodeID string

	// vote_opened (VoteID also for ballot)
	VoteID       string
	Kind         VoteKind
	Subject      string
	ClosesAt     Time
	ThresholdBps money.Bps

	// ballot
	Voter  string
	Choice Choice
	// Nonce orders a voter's signed ballots in one vote (the running
	// system's, docs/governance.md): when not 0 it must be above the
	// voter's last accepted nonce in that vote, or the ballot is a replay.
	// The contract's ballots carry none (0: not checked).
	Nonce uint64
}

// TransferKind says why money leaves the pool.
type TransferKind string

// The transfer kinds.
const (
	TransferRefund      TransferKind = "refund"
	TransferSettlement  TransferKind = "settlement"
	TransferBondReturn  TransferKind = "bond_return"
	TransferBondForfeit TransferKind = "bond_forfeit"
)

// RefundReason says why a deposit was refunded on arrival.
type RefundReason string

// The refund reasons; the empty reason is a transfer that is not a refund
// on arrival (null in JSON).
const (
	ReasonLate           RefundReason = "late"
	ReasonClosed         RefundReason = "closed"
	ReasonBelowMinimum   RefundReason = "below_minimum"
	ReasonOverTarget     RefundReason = "over_target"
	ReasonOverSponsorCap RefundReason = "over_sponsor_cap"
	ReasonNotPurchaser   RefundReason = "not_purchaser"
	ReasonOverBond       RefundReason = "over_bond"
)

// VoteStatus is a vote's state.
type VoteStatus string

// The vote states.
const (
	VoteOpen   VoteStatus = "open"
	VotePassed VoteStatus = "passed"
	VoteFailed VoteStatus = "failed"
)

// Transfer is one row of the output's transfers: money that leaves the
// pool's accounts. GrossE8s = TransferE8s + FeeE8s, except for dust
// (0 < gross <= ledger fee), which is listed with TransferE8s = FeeE8s = 0
// and kept by the DAO.
type Transfer struct {
	Seq  int
	Kind TransferKind
	// From is the pool account the money leaves: deposit_account for
	// refunds of stake and the settlement, bond_account for bond refunds,
	// returns and forfeits. It is not part of the contract's output (the
	// payouts sign from it, pipeline/stage/payout).
	From        string
	To          string
	GrossE8s    money.E8s
	TransferE8s money.E8s
	FeeE8s      money.E8s
	Reason      RefundReason // "" (null) unless a refund on arrival
	Cause       string       // block_index or proposal_id in decimal, "deadline", "lockup_end" or a node_id
	At          string       // verbatim input text
}

// Sponsor is an account with accepted stake.
type Sponsor struct {
	Sponsor     string
	Identity    string // the attested identity, or the account itself
	AcceptedE8s money.E8s
	// FirstAcceptedAt is the verbatim at of the account's first accepted
	// deposit; not part of the contract's output (the allocation's whale
	// tie-break reads it, pipeline/entitle).
	FirstAcceptedAt string
}

// Retained is what the DAO keeps.
type Retained struct {
	SlashE8s money.E8s
	// DustE8s is uint64: it is bounded by the pool's deposits, which may
	// total up to 2^64-1 (see Pool.Apply), not by one amount.
	DustE8s uint64
}

// VoteResult is one vote as the output shows it.
type VoteResult struct {
	VoteID         string
	Kind           VoteKind
	Status         VoteStatus
	YesE8s         money.E8s
	NoE8s          money.E8s
	AbstainE8s     money.E8s
	WeightTotalE8s money.E8s
}

// Output is the `nodeshare pools replay` output object. FundedAt and
// SettledAt are "" until they happen (null in JSON). Sponsors and Votes are
// sorted by id bytes; Transfers are in the order they arose.
type Output struct {
	PoolID       string
	RulesVersion string
	State        State
	FundedAt     string
	SettledAt    string
	// RetiredAt is the at of the node_down that retired the pool ("" until
	// then); not part of the contract's output (the reward allocation
	// reads it, pipeline/entitle).
	RetiredAt       string
	StakeHeldE8s    money.E8s
	BondHeldE8s     money.E8s
	Sponsors        []Sponsor
	Transfers       []Transfer
	Retained        Retained
	Votes           []VoteResult
	LifecycleSHA256 string
}
