package allocation

import (
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nodeshare/nodeshare/pipeline/money"
)

// rulesV1 is ALLOCATION_RULES.md version v1, frozen. Do not change what it
// computes: add rulesV2 in its own file and register it beside this one.
type rulesV1 struct{}

func (rulesV1) Version() string { return "v1" }

// Allocate implements level 2 of v1 (and the rejected-proposal refunds).
func (v rulesV1) Allocate(in PoolPeriod) (PoolResult, error) {
	if err := validatePeriodScalars(in); err != nil {
		return PoolResult{}, err
	}
	refund := in.Proposal != nil && in.Proposal.Status == ProposalRejected
	var slashBps money.Bps
	if refund {
		slashBps = in.Proposal.SlashBps
	}
	g, err := groupSponsors(in.Contributions, refund, slashBps)
	if err != nil {
		return PoolResult{}, err
	}
	res := PoolResult{
		RulesVersion:            v.Version(),
		PoolID:                  in.PoolID,
		Period:                  in.Period,
		StakeTotalE8s:           g.total,
		Shares:                  g.shares,
		RateXDRPermyriadPerICP:  in.RateXDRPermyriadPerICP,
		HosterFixedXDRPermyriad: in.Hoster.FixedXDRPermyriad,
		HosterFeeBps:            in.Hoster.FeeBps,
		DAOFeeBps:               in.DAOFeeBps,
		WhalePremiumBps:         in.WhalePremiumBps,
		LedgerFeeE8s:            in.LedgerFeeE8s,
		MinPayoutE8s:            in.MinPayoutE8s,
	}
	if in.Proposal != nil {
		res.Proposal = &ProposalOutcome{Status: in.Proposal.Status, SlashBps: slashBps}
	}

	if refund {
		// Rejected proposal: the principal is refunded less the slash, which
		// goes to the DAO. groupSponsors already put each sponsor's refund
		// (the sum of its per-contribution refunds) in ShareE8s.
		if g.total > uint64(money.MaxE8s) {
			return PoolResult{}, inputErr("", "contributions", "total %d e8s exceeds %d and cannot be refunded in one period", g.total, int64(money.MaxE8s))
		}
		res.GrossE8s = money.E8s(g.total)
		res.DAOFeeE8s = money.E8s(g.slashed)
		res.DistributableE8s = res.GrossE8s - res.DAOFeeE8s
		res.Proposal.SlashedE8s = res.DAOFeeE8s
	} else {
		// Step 2: hoster fee, capped at G.
		G := in.GrossE8s
		H := G
		if fixed, fits := money.XDRToE8s(in.Hoster.FixedXDRPermyriad, in.RateXDRPermyriadPerICP); fits {
			// Both terms are <= MaxE8s, so the uint64 sum cannot wrap.
			if sum := uint64(fixed) + uint64(money.ApplyBps(G, in.Hoster.FeeBps)); sum < uint64(G) {
				H = money.E8s(sum)
			}
		}
		// Steps 3 and 4.
		Dfee := money.ApplyBps(G-H, in.DAOFeeBps)
		D := G - H - Dfee
		res.GrossE8s, res.HosterFeeE8s, res.DAOFeeE8s, res.DistributableE8s = G, H, Dfee, D

		// Step 5: whale.
		w := g.whale
		res.WhaleCandidate = res.Shares[w].Sponsor
		P := money.ApplyBps(D, in.WhalePremiumBps)
		W, _, ok := money.MulDivFloor(uint64(D), uint64(res.Shares[w].StakeE8s), g.total)
		if !ok {
			return PoolResult{}, invariantErr("whale pro-rata share overflows")
		}
		res.PremiumE8s, res.WhaleProRataE8s = P, money.E8s(W)
		if len(res.Shares) >= 2 && uint64(P) > W {
			res.Whale = res.Shares[w].Sponsor
			res.Shares[w].ShareE8s = P
			// Step 6 over the others: T = S - s_whale.
			if err := splitProRata(res.Shares, w, uint64(D-P), g.total-uint64(res.Shares[w].StakeE8s)); err != nil {
				return PoolResult{}, err
			}
		} else if err := splitProRata(res.Shares, -1, uint64(D), g.total); err != nil {
			return PoolResult{}, err
		}
	}

	// Step 7: payouts, sponsors then hoster.
	if err := settleShares(res.Shares, in.CarryIn, in.LedgerFeeE8s, in.MinPayoutE8s); err != nil {
		return PoolResult{}, err
	}
	res.Hoster.Account = in.Hoster.Account
	res.Hoster.CarryInE8s = in.Hoster.CarryInE8s
	owed, ok := money.AddE8s(res.HosterFeeE8s, in.Hoster.CarryInE8s)
	if !ok {
		return PoolResult{}, inputErr("hoster", "carry_in_e8s", "plus the hoster fee %d exceeds %d e8s, got %d", res.HosterFeeE8s, int64(money.MaxE8s), in.Hoster.CarryInE8s)
	}
	res.Hoster.Payout = settle(owed, in.LedgerFeeE8s, in.MinPayoutE8s)

	if err := CheckInvariants(res); err != nil {
		return PoolResult{}, err
	}
	return res, nil
}

// settle applies step 7 to one recipient: pay owed - F if that is at least
// max(M, 1), the recipient bearing the ledger fee F; otherwise carry it all.
func settle(owed, fee, minPayout money.E8s) Payout {
	threshold := max(minPayout, 1)
	// owed - fee >= threshold, without underflow: owed >= fee + threshold
	// in uint64 (both terms <= MaxE8s, so the sum cannot wrap).
	if uint64(owed) >= uint64(fee)+uint64(threshold) {
		return Payout{OwedE8s: owed, TransferE8s: owed - fee, FeeE8s: fee}
	}
	return Payout{OwedE8s: owed, CarryOutE8s: owed}
}

// settleShares adds each sponsor's carry-in and settles it. Every key of
// carryIn must be a sponsor of the pool.
func settleShares(shares []Share, carryIn map[string]money.E8s, fee, minPayout money.E8s) error {
	hits := 0
	for i := range shares {
		s := &shares[i]
		if len(carryIn) > 0 {
			if c, ok := carryIn[s.Sponsor]; ok {
				hits++
				if c < 0 {
					return inputErr("", carryField(s.Sponsor), "must be >= 0, got %d", c)
				}
				s.CarryInE8s = c
			}
		}
		owed, ok := money.AddE8s(s.ShareE8s, s.CarryInE8s)
		if !ok {
			return inputErr("", carryField(s.Sponsor), "plus the share %d exceeds %d e8s, got %d", s.ShareE8s, int64(money.MaxE8s), s.CarryInE8s)
		}
		p := settle(owed, fee, minPayout)
		s.TransferE8s, s.FeeE8s, s.CarryOutE8s = p.TransferE8s, p.FeeE8s, p.CarryOutE8s
	}
	if hits != len(carryIn) {
		// Report the smallest unknown account, so the message is the same for
		// any map order.
		var unknown []string
		for acct := range carryIn {
			if _, found := slices.BinarySearchFunc(shares, acct, func(s Share, a string) int { return strings.Compare(s.Sponsor, a) }); !found {
				unknown = append(unknown, acct)
			}
		}
		slices.Sort(unknown)
		return inputErr("", carryField(unknown[0]), "has no contribution in this pool (a carry is paid only to a sponsor of the pool), got %d", carryIn[unknown[0]])
	}
	return nil
}

func validatePeriodScalars(in PoolPeriod) error {
	if in.PoolID == "" || !utf8.ValidString(in.PoolID) {
		return inputErr("", "pool_id", "must be a non-empty UTF-8 string, got %q", in.PoolID)
	}
	if !utf8.ValidString(in.Period) || in.Period == "" {
		return inputErr("", "period", "must be a non-empty UTF-8 string, got %q", in.Period)
	}
	if err := in.GrossE8s.Validate(); err != nil {
		return inputErr("", "gross_e8s", "%v", err)
	}
	if err := in.RateXDRPermyriadPerICP.Validate(); err != nil {
		return inputErr("", "xdr_permyriad_per_icp", "%v", err)
	}
	if in.Hoster.Account == "" || !utf8.ValidString(in.Hoster.Account) {
		return inputErr("hoster", "account", "must be a non-empty UTF-8 string, got %q", in.Hoster.Account)
	}
	if err := in.Hoster.FixedXDRPermyriad.Validate(); err != nil {
		return inputErr("hoster", "fixed_xdr_permyriad", "%v", err)
	}
	if err := in.Hoster.FeeBps.Validate(); err != nil {
		return inputErr("hoster", "bps", "%v", err)
	}
	if err := in.Hoster.CarryInE8s.Validate(); err != nil {
		return inputErr("hoster", "carry_in_e8s", "%v", err)
	}
	if err := in.DAOFeeBps.Validate(); err != nil {
		return inputErr("", "dao_fee_bps", "%v", err)
	}
	if err := in.WhalePremiumBps.Validate(); err != nil {
		return inputErr("", "whale_premium_bps", "%v", err)
	}
	if in.WhalePremiumBps >= money.BpsDenominator {
		return inputErr("", "whale_premium_bps", "must be < 10000 (a premium of 100%% or more leaves nothing pro rata), got %d", in.WhalePremiumBps)
	}
	if err := in.LedgerFeeE8s.Validate(); err != nil {
		return inputErr("", "ledger_fee_e8s", "%v", err)
	}
	if err := in.MinPayoutE8s.Validate(); err != nil {
		return inputErr("", "min_payout_e8s", "%v", err)
	}
	if len(in.Contributions) == 0 {
		return inputErr("", "contributions", "must not be empty (a pool with no funded stake cannot be allocated)")
	}
	if p := in.Proposal; p != nil {
		switch p.Status {
		case ProposalAdopted:
			if p.SlashBps != 0 {
				return inputErr("proposal", "slash_bps", "must be 0 unless status is %q, got %d", ProposalRejected, p.SlashBps)
			}
		case ProposalRejected:
			if err := p.SlashBps.Validate(); err != nil {
				return inputErr("proposal", "slash_bps", "%v", err)
			}
			if in.GrossE8s != 0 {
				return inputErr("", "gross_e8s", "must be 0 for a rejected proposal (the node earned nothing), got %d", in.GrossE8s)
			}
		default:
			return inputErr("proposal", "status", "must be %q or %q, got %q", ProposalAdopted, ProposalRejected, string(p.Status))
		}
	}
	return nil
}

// grouped is the contributions folded into one line per sponsor.
type grouped struct {
	shares  []Share // sorted by Sponsor, StakeE8s set (ShareE8s = refund when slashing)
	total   uint64  // S
	whale   int     // index of the step-5 whale in shares
	slashed uint64  // sum of per-contribution slashes (refunds only)
}

// groupSponsors validates the contributions and folds them per sponsor
// (step 1). Inputs already sorted by sponsor (and by id) are verified in one
// pass and used as they are; otherwise one index of int32 is sorted, which is
// the only extra allocation. Either way the result does not depend on the
// input order.
func groupSponsors(cs []Contribution, refund bool, slashBps money.Bps) (grouped, error) {
	for i := range cs {
		c := &cs[i]
		if c.ID == "" || !utf8.ValidString(c.ID) {
			return grouped{}, inputErr(contributionPath(i, c.ID), "id", "must be a non-empty UTF-8 string, got %q", c.ID)
		}
		if c.Sponsor == "" || !utf8.ValidString(c.Sponsor) {
			return grouped{}, inputErr(contributionPath(i, c.ID), "sponsor", "must be a non-empty UTF-8 string, got %q", c.Sponsor)
		}
		if c.AmountE8s < 0 {
			return grouped{}, inputErr(contributionPath(i, c.ID), "amount_e8s", "must be >= 0, got %d", c.AmountE8s)
		}
		if c.At.IsZero() {
			return grouped{}, inputErr(contributionPath(i, c.ID), "at", "must be set (RFC 3339 time of the funding transfer)")
		}
	}
	if len(cs) > 1<<31-1 {
		return grouped{}, inputErr("", "contributions", "more than %d entries", 1<<31-1)
	}

	// Duplicate ids: sorted strictly by id means none; otherwise sort an index.
	var order []int32
	byID := true
	for i := 1; i < len(cs); i++ {
		if cs[i].ID <= cs[i-1].ID {
			byID = false
			break
		}
	}
	if !byID {
		order = make([]int32, len(cs))
		for i := range order {
			order[i] = int32(i)
		}
		slices.SortFunc(order, func(a, b int32) int {
			if c := strings.Compare(cs[a].ID, cs[b].ID); c != 0 {
				return c
			}
			return int(a - b)
		})
		for k := 1; k < len(order); k++ {
			a, b := order[k-1], order[k]
			if cs[a].ID == cs[b].ID {
				return grouped{}, inputErr(contributionPath(int(b), cs[b].ID), "id", "duplicates contributions[%d]: contribution ids must be unique, got %q", a, cs[b].ID)
			}
		}
	}

	// Grouping order: by sponsor. Input sorted by sponsor is used in place.
	bySponsor := true
	for i := 1; i < len(cs); i++ {
		if cs[i].Sponsor < cs[i-1].Sponsor {
			bySponsor = false
			break
		}
	}
	if bySponsor {
		order = order[:0]
	} else {
		if order == nil {
			order = make([]int32, len(cs))
		}
		for i := range order {
			order[i] = int32(i)
		}
		slices.SortFunc(order, func(a, b int32) int { return strings.Compare(cs[a].Sponsor, cs[b].Sponsor) })
	}
	index := func(k int) int {
		if len(order) == 0 {
			return k
		}
		return int(order[k])
	}
	at := func(k int) *Contribution { return &cs[index(k)] }

	n := 1
	for k := 1; k < len(cs); k++ {
		if at(k).Sponsor != at(k-1).Sponsor {
			n++
		}
	}
	g := grouped{shares: make([]Share, n)}
	var whaleAt time.Time
	si := -1
	var first time.Time // earliest at of the current sponsor
	for k := 0; k < len(cs); k++ {
		c := at(k)
		if si < 0 || c.Sponsor != g.shares[si].Sponsor {
			if si >= 0 {
				g.considerWhale(si, first, &whaleAt)
			}
			si++
			g.shares[si].Sponsor = c.Sponsor
			first = c.At
		} else if c.At.Before(first) {
			first = c.At
		}
		s := &g.shares[si]
		stake, ok := money.AddE8s(s.StakeE8s, c.AmountE8s)
		if !ok {
			return grouped{}, inputErr(contributionPath(index(k), c.ID), "amount_e8s", "makes the stake of sponsor %q exceed %d e8s, got %d", c.Sponsor, int64(money.MaxE8s), c.AmountE8s)
		}
		s.StakeE8s = stake
		if refund {
			// Rejected proposal: refund = amount - floor(amount * slash_bps
			// / 10000), per contribution, summed per sponsor.
			slash := money.ApplyBps(c.AmountE8s, slashBps)
			s.ShareE8s += c.AmountE8s - slash // <= stake, cannot overflow
			g.slashed += uint64(slash)
		}
	}
	g.considerWhale(si, first, &whaleAt)

	for i := range g.shares {
		t := g.total + uint64(g.shares[i].StakeE8s)
		if t < g.total {
			return grouped{}, inputErr("contributions", "amount_e8s", "sum to more than 2^64-1 e8s")
		}
		g.total = t
	}
	if g.total == 0 {
		return grouped{}, inputErr("contributions", "amount_e8s", "sum to 0: a pool with no funded stake cannot be allocated")
	}
	return g, nil
}

// considerWhale applies step 5's order to sponsor si, visited in id order:
// larger stake wins, then the earlier first contribution; on a full tie the
// sponsor seen first (the smaller id) stays.
func (g *grouped) considerWhale(si int, first time.Time, whaleAt *time.Time) {
	if si == 0 {
		g.whale, *whaleAt = 0, first
		return
	}
	best := g.shares[g.whale].StakeE8s
	s := g.shares[si].StakeE8s
	if s > best || (s == best && first.Before(*whaleAt)) {
		g.whale, *whaleAt = si, first
	}
}

func carryField(acct string) string { return "carry_in[" + strconv.Quote(acct) + "]" }
