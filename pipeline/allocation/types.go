package allocation

import (
	"time"

	"github.com/nodeshare/nodeshare/pipeline/money"
)

// PoolPeriod is the input of one pool's period (docs/allocation-rules.md level 2).
// The order of Contributions does not matter: the result and its manifest
// hash are the same for any permutation. Allocate never modifies it.
type PoolPeriod struct {
	PoolID string
	Period string
	// GrossE8s is the pool's part of the NP reward (G). For a rejected
	// proposal it must be 0: the node never earned anything.
	GrossE8s money.E8s
	// RateXDRPermyriadPerICP is the rate the NNS used for this reward.
	RateXDRPermyriadPerICP money.XDRPermyriadPerICP
	Hoster                 HosterTerms
	DAOFeeBps              money.Bps
	WhalePremiumBps        money.Bps
	LedgerFeeE8s           money.E8s
	MinPayoutE8s           money.E8s
	// Contributions are the pool's funded contributions, in any order.
	Contributions []Contribution
	// CarryIn maps a sponsor account to the e8s carried from earlier periods.
	// Only sponsors with a contribution in this pool may appear (no withdrawal
	// path exists, so a sponsor never leaves the pool). Lookups only: the map
	// order never decides anything.
	CarryIn map[string]money.E8s
	// Proposal is nil for a normal period. A rejected proposal turns the
	// period into refunds with a slash (docs/allocation-rules.md "Rejected proposal").
	Proposal *Proposal

	// Rules v2 only (docs/allocation-rules.md "Version v2"): the hoster
	// engagements replace Hoster (which must then be left zero), in any
	// order, and the period is [PeriodStartUnixSeconds, PeriodEndUnixSeconds).
	// v1 refuses an input that sets them.
	Hosters                []HosterEngagement
	PeriodStartUnixSeconds int64
	PeriodEndUnixSeconds   int64
}

// HosterEngagement is one engagement of a hoster within a period (rules
// v2): its terms and the interval [FromUnixSeconds, ToUnixSeconds) it ran.
// An account may hold several engagements; each is its own recipient.
type HosterEngagement struct {
	Account           string
	FixedXDRPermyriad money.XDRPermyriad
	FeeBps            money.Bps
	FromUnixSeconds   int64
	ToUnixSeconds     int64
	CarryInE8s        money.E8s
}

// HosterTerms are the node hoster's account and fee terms.
type HosterTerms struct {
	Account           string
	FixedXDRPermyriad money.XDRPermyriad
	FeeBps            money.Bps
	CarryInE8s        money.E8s
}

// Contribution is one funded contribution.
type Contribution struct {
	ID        string
	Sponsor   string // ledger account, ICRC-1 textual form; compared as bytes
	AmountE8s money.E8s
	At        time.Time
	// From is the account the ICP came from, if known (voting hints only).
	From string
	// BlockIndex is the ledger block of the funding transfer, if HasBlockIndex
	// (voting hints only).
	BlockIndex    uint64
	HasBlockIndex bool
}

// ProposalStatus is the NNS outcome of the pool's node proposal.
type ProposalStatus string

const (
	ProposalAdopted  ProposalStatus = "adopted"
	ProposalRejected ProposalStatus = "rejected"
)

// Proposal says what happened to the pool's proposal.
type Proposal struct {
	Status   ProposalStatus
	SlashBps money.Bps // only meaningful when Status is rejected
}

// PoolResult is one pool's period, computed under RulesVersion. Shares are
// sorted by sponsor id (bytewise). Every amount is e8s.
type PoolResult struct {
	RulesVersion string
	PoolID       string
	Period       string

	GrossE8s         money.E8s // G (for a rejected proposal: the refunded principal)
	HosterFeeE8s     money.E8s // H
	DAOFeeE8s        money.E8s // D_fee (for a rejected proposal: the slashed e8s)
	DistributableE8s money.E8s // D = G - H - D_fee

	// Whale is the account that received the premium, "" when none applied.
	Whale string
	// WhaleCandidate is the sponsor with the largest stake after the tie-breaks
	// (step 5), whether or not the premium applied; "" for refunds.
	WhaleCandidate string
	// PremiumE8s is P = floor(D * whale_premium_bps / 10000) and
	// WhaleProRataE8s is W = floor(D * s_whale / S), kept for the explanation.
	PremiumE8s      money.E8s
	WhaleProRataE8s money.E8s
	// StakeTotalE8s is S, the sum of all stakes; it may exceed MaxE8s.
	StakeTotalE8s uint64

	// Hoster is the single hoster of v1. Under v2 it is zero and the
	// hoster is paid per engagement in Hosters (see HasEngagements).
	Hoster HosterPayout
	// Hosters are v2's engagements in order of from; HosterFeeE8s is the
	// sum of their fees. Nil under v1.
	Hosters []EngagementPayout
	Shares  []Share

	// Proposal is nil when the input had none.
	Proposal *ProposalOutcome

	// The parameters the result was computed with, so the manifest binds them
	// and an explanation can be written from the result alone.
	RateXDRPermyriadPerICP  money.XDRPermyriadPerICP
	HosterFixedXDRPermyriad money.XDRPermyriad
	HosterFeeBps            money.Bps
	DAOFeeBps               money.Bps
	WhalePremiumBps         money.Bps
	LedgerFeeE8s            money.E8s
	MinPayoutE8s            money.E8s
	// The period bounds (v2; zero under v1).
	PeriodStartUnixSeconds int64
	PeriodEndUnixSeconds   int64
}

// HasEngagements reports whether r pays the hoster per engagement (Hosters,
// rules v2) rather than through the single Hoster (v1). The rules version
// decides, not the length of Hosters: a v2 period may have no engagement.
func (r *PoolResult) HasEngagements() bool { return r.RulesVersion == versionV2 }

// Payout is how one recipient's owed amount is settled (step 7):
// Owed = Transfer + Fee + CarryOut.
type Payout struct {
	OwedE8s     money.E8s
	TransferE8s money.E8s
	FeeE8s      money.E8s
	CarryOutE8s money.E8s
}

// HosterPayout is the hoster's settlement; OwedE8s = HosterFeeE8s + CarryInE8s.
type HosterPayout struct {
	Account    string
	CarryInE8s money.E8s
	Payout
}

// EngagementPayout is one hoster engagement's line under v2: its terms,
// OverlapSeconds (o_j, its seconds inside the period), HosterFeeE8s (H_j)
// and its settlement, OwedE8s = HosterFeeE8s + CarryInE8s.
type EngagementPayout struct {
	Account           string
	FixedXDRPermyriad money.XDRPermyriad
	FeeBps            money.Bps
	FromUnixSeconds   int64
	ToUnixSeconds     int64
	OverlapSeconds    int64
	HosterFeeE8s      money.E8s
	CarryInE8s        money.E8s
	Payout
}

// Share is one sponsor's line. Owed is ShareE8s + CarryInE8s and
// ShareE8s + CarryInE8s = TransferE8s + FeeE8s + CarryOutE8s.
type Share struct {
	Sponsor     string
	StakeE8s    money.E8s
	ShareE8s    money.E8s // for a rejected proposal: the refund
	CarryInE8s  money.E8s
	TransferE8s money.E8s
	FeeE8s      money.E8s
	CarryOutE8s money.E8s
}

// OwedE8s is ShareE8s + CarryInE8s (Allocate checked that it fits).
func (s Share) OwedE8s() money.E8s { return s.ShareE8s + s.CarryInE8s }

// ProposalOutcome records a proposal in the result.
type ProposalOutcome struct {
	Status     ProposalStatus
	SlashBps   money.Bps
	SlashedE8s money.E8s // to the DAO account; equals DAOFeeE8s when rejected
}

// PoolWeight is one pool's weight for the level-1 split: the XDR permyriad
// its nodes earned in the period.
type PoolWeight struct {
	PoolID             string
	WeightXDRPermyriad money.XDRPermyriad
}

// PoolGross is one pool's part of the NP reward.
type PoolGross struct {
	PoolID   string
	GrossE8s money.E8s
}
