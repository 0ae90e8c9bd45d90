package lifecycle

import (
	"cmp"
	"slices"
	"unicode/utf8"

	"github.com/nodeshare/nodeshare/pipeline/money"
)

// Pool is one pool's lifecycle state machine: a pure function of its terms
// and the facts applied so far, in the goka sense (state, event) ->
// (state, outputs, error). A stream processor keeps one Pool per pool id
// and calls Apply for each fact; `nodeshare pools replay` does the same
// over a list (Replay).
//
// A Pool is not safe for concurrent use. It never reads a clock: time moves
// only with the facts' `at`.
type Pool struct {
	terms  Terms
	capE8s money.E8s // floor(target * max_sponsor_bps / 10000): the most one identity may hold

	state   State
	lastAt  Time // the previous fact's at; zero before the first fact
	applied int  // facts applied

	// Timed rules (docs/pool-rules.md "Time").
	deadlineFired, lockupFired bool
	openVotes                  []*vote // not yet closed, by (closes_at, vote_id)

	fundedAt, settledAt string
	retiredAt           string // the node_down's at; not in the contract's output

	acceptedTotal money.E8s // sum of accepted stake; stays after settlement and refunds
	stakeHeld     money.E8s
	bondAccepted  money.E8s // bond accepted in total (never decreases)
	bondHeld      money.E8s

	proposalID uint64 // valid from proposal_submitted on
	nodeID     string // the last node_up's node; "" until one
	nodeUp     bool

	sponsors   map[string]*sponsor  // by account; only accounts with accepted > 0
	identities map[string]*identity // by identity; only identities with accepted > 0
	blocks     blockSet             // block indices seen (deposit and bond accounts: one ledger)
	votes      map[string]*vote

	transfers []Transfer
	retained  Retained

	// Conservation accounts (docs/pool-rules.md "Conservation"). Every deposit is at
	// most 2^63-1 and Apply refuses a deposit that would take the total
	// beyond 2^64-1, so these and every sum below them fit a uint64.
	depositedE8s uint64
	paidE8s      uint64 // sum of transfer + fee over all transfers

	broken error // the first invariant failure; the pool is unusable after it
}

type sponsor struct {
	account  string
	ident    *identity
	accepted money.E8s
	// firstAt is the verbatim at of the account's first accepted deposit
	// (the allocation's whale tie-break, pipeline/entitle).
	firstAt string
	// slashed is the sum over this account's accepted contributions of
	// floor(accepted_i * slash_bps / 10000), kept as they arrive because
	// the rules floor the slash per contribution, not per sponsor.
	slashed money.E8s
}

type identity struct {
	id       string
	accepted money.E8s
}

// New creates the pool of terms in state funding, after validating the
// terms (an *InputError with a `terms.` place when they are bad).
func New(terms Terms) (*Pool, error) {
	if err := validateTerms(&terms); err != nil {
		return nil, err
	}
	ids := make(map[string]string, len(terms.Identities))
	for acct, id := range terms.Identities {
		ids[acct] = id
	}
	terms.Identities = ids
	return &Pool{
		terms:      terms,
		capE8s:     money.ApplyBps(terms.TargetE8s, terms.MaxSponsorBps),
		state:      StateFunding,
		sponsors:   make(map[string]*sponsor),
		identities: make(map[string]*identity),
		votes:      make(map[string]*vote),
	}, nil
}

func validateTerms(t *Terms) error {
	if err := checkID(t.PoolID); err != nil {
		return inputErr("terms.pool_id", "%s", err)
	}
	if err := ValidateAccount(t.DepositAccount); err != nil {
		return inputErr("terms.deposit_account", "%s", err)
	}
	if t.TargetE8s <= 0 {
		return inputErr("terms.target_e8s", "must be > 0, got %d", t.TargetE8s)
	}
	if t.MinContributionE8s < 0 {
		return inputErr("terms.min_contribution_e8s", "must be >= 0, got %d", t.MinContributionE8s)
	}
	if err := checkBps(t.MaxSponsorBps, 1); err != nil {
		return inputErr("terms.max_sponsor_bps", "%s", err)
	}
	if t.FundingDeadline.IsZero() {
		return inputErr("terms.funding_deadline", "is required")
	}
	if err := ValidateAccount(t.Purchaser); err != nil {
		return inputErr("terms.purchaser", "%s", err)
	}
	if err := checkBps(t.SlashBps, 0); err != nil {
		return inputErr("terms.slash_bps", "%s", err)
	}
	if t.BondE8s < 0 {
		return inputErr("terms.bond_e8s", "must be >= 0, got %d", t.BondE8s)
	}
	if err := ValidateAccount(t.BondAccount); err != nil {
		return inputErr("terms.bond_account", "%s", err)
	}
	if t.BondAccount == t.DepositAccount {
		// A deposit is routed by its `to`: one account for both would make
		// every deposit ambiguous.
		return inputErr("terms.bond_account", "must differ from deposit_account, got %s for both", quote(t.BondAccount))
	}
	if t.LockupUntil.IsZero() {
		return inputErr("terms.lockup_until", "is required")
	}
	if err := checkBps(t.MaxVotingBps, 1); err != nil {
		return inputErr("terms.max_voting_bps", "%s", err)
	}
	if t.LedgerFeeE8s < 0 {
		return inputErr("terms.ledger_fee_e8s", "must be >= 0, got %d", t.LedgerFeeE8s)
	}
	// Sorted, so that of several bad entries the same one is named every run.
	accts := make([]string, 0, len(t.Identities))
	for acct := range t.Identities {
		accts = append(accts, acct)
	}
	slices.Sort(accts)
	for _, acct := range accts {
		place := "terms.identities." + acct
		if err := ValidateAccount(acct); err != nil {
			return inputErr("terms.identities", "key %s", err)
		}
		id := t.Identities[acct]
		if err := checkID(id); err != nil {
			return inputErr(place, "%s", err)
		}
		if ValidateAccount(id) == nil {
			// An account without an attested identity is its own identity, so
			// an identity spelled like an account would merge with it.
			return inputErr(place, "must not be an account identifier, got %s", quote(id))
		}
	}
	return nil
}

func checkBps(b money.Bps, min money.Bps) error {
	if b < min || b > money.BpsDenominator {
		return errorf("must be between %d and %d, got %d", min, money.BpsDenominator, b)
	}
	return nil
}

// checkID accepts any UTF-8 string as an id (pool, node, vote, identity),
// the empty string included: the rules put no other bound on ids, and the
// output must be valid UTF-8 JSON.
func checkID(s string) error {
	if !utf8.ValidString(s) {
		return errorf("must be valid UTF-8, got %s", quote(s))
	}
	return nil
}

// State is the pool's state after the facts applied so far (timed rules
// due after the last fact have not fired: only a later fact fires them).
func (p *Pool) State() State { return p.state }

// Terms returns the pool's terms (Identities is the pool's copy: do not
// modify it).
func (p *Pool) Terms() Terms { return p.terms }

// Apply fires every timed rule due strictly before f.At (deadline, vote
// closes by vote_id, lock-up end, in time order), then applies f, and
// returns the transfers that arose, in order, with their Seq.
//
// If f is invalid (an *InputError matching ErrInvalidInput, its place
// relative to the fact such as "amount_e8s"), the pool is unchanged and no
// timed rule has fired: the caller may dead-letter f and go on. An error
// matching ErrInvariant means a bug; the pool must then be discarded.
//
// The returned slice is the caller's.
func (p *Pool) Apply(f Fact) ([]Transfer, error) {
	if p.broken != nil {
		return nil, p.broken
	}
	if err := p.check(&f); err != nil {
		return nil, err
	}
	start := len(p.transfers)
	p.fireBefore(f.At)
	p.lastAt = f.At
	p.applied++
	switch f.Type {
	case FactDeposit:
		if f.To == p.terms.DepositAccount {
			p.depositStake(&f)
		} else {
			p.depositBond(&f)
		}
	case FactProposalSubmitted:
		p.state, p.proposalID = StateProposed, f.ProposalID
	case FactProposalDecided:
		p.decide(&f)
	case FactNodeUp:
		p.nodeIsUp(&f)
	case FactNodeDown:
		p.nodeIsDown(&f)
	case FactVoteOpened:
		p.openVote(&f)
	case FactBallot:
		p.castBallot(&f)
	case FactTick:
		// Only lets time pass: the timed rules above have fired.
	}
	if err := p.checkInvariants(); err != nil {
		return nil, err
	}
	if len(p.transfers) == start {
		return nil, nil
	}
	return slices.Clone(p.transfers[start:]), nil
}

// stateAt is the state the pool will be in once the timed rules due strictly
// before at have fired. Only the deadline changes a state (funding ->
// expired); lock-up end moves money, and vote closes touch only votes.
func (p *Pool) stateAt(at Time) State {
	if p.state == StateFunding && !p.deadlineFired && p.terms.FundingDeadline.Before(at) {
		return StateExpired
	}
	return p.state
}

// stateRank orders the non-terminal states, for the rules' ranges such as
// "funded..active". Terminal states rank 0 and fall in no range.
func stateRank(s State) int {
	switch s {
	case StateFunding:
		return 1
	case StateFunded:
		return 2
	case StateProposed:
		return 3
	case StateAdopted:
		return 4
	case StateActive:
		return 5
	}
	return 0
}

func inRange(s, from, to State) bool {
	r := stateRank(s)
	return r != 0 && stateRank(from) <= r && r <= stateRank(to)
}

// pay appends one transfer of gross e8s under the fee rule
// (docs/pool-rules.md "Transfers and the ledger fee"): the recipient bears
// the ledger fee when gross > fee; a gross of 1..fee is listed as
// sent-nothing and kept as dust; 0 makes no row.
func (p *Pool) pay(kind TransferKind, from, to string, gross money.E8s, reason RefundReason, cause, at string) {
	if gross <= 0 {
		return
	}
	t := Transfer{Seq: len(p.transfers), Kind: kind, From: from, To: to, GrossE8s: gross, Reason: reason, Cause: cause, At: at}
	if fee := p.terms.LedgerFeeE8s; gross > fee {
		t.TransferE8s, t.FeeE8s = gross-fee, fee
		p.paidE8s += uint64(gross)
	} else {
		p.retained.DustE8s += uint64(gross)
	}
	p.transfers = append(p.transfers, t)
}

// sortedSponsors returns the sponsors in account byte order: the order of
// every set of transfers that arise together.
func (p *Pool) sortedSponsors() []*sponsor {
	out := make([]*sponsor, 0, len(p.sponsors))
	for _, s := range p.sponsors {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *sponsor) int { return cmp.Compare(a.account, b.account) })
	return out
}

// identityOf is the identity an account votes and is capped as.
func (p *Pool) identityOf(account string) string {
	if id, ok := p.terms.Identities[account]; ok {
		return id
	}
	return account
}
