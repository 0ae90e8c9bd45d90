package allocation

import (
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nodeshare/nodeshare/pipeline/money"
)

// rulesV1 is docs/allocation-rules.md version v1, frozen. Do not change what it
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
	var sp split // stays inactive for refunds

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
			sp, err = splitProRata(res.Shares, w, uint64(D-P), g.total-uint64(res.Shares[w].StakeE8s))
		} else {
			sp, err = splitProRata(res.Shares, -1, uint64(D), g.total)
		}
		if err != nil {
			return PoolResult{}, err
		}
	}

	// Steps 6 (leftover units) and 7 (payouts) in one pass, then the hoster.
	if err := finishShares(res.Shares, &sp, in.CarryIn, in.LedgerFeeE8s, in.MinPayoutE8s); err != nil {
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

// finishShares makes the last pass over the shares: it hands out the
// leftover units of the split (step 6), adds the carry-in and settles each
// sponsor (step 7). The carries are copied in first (applyCarryIn).
func finishShares(shares []Share, sp *split, carryIn map[string]money.E8s, fee, minPayout money.E8s) error {
	if len(carryIn) > 0 {
		if err := applyCarryIn(shares, carryIn); err != nil {
			return err
		}
	}
	threshold := uint64(max(minPayout, 1)) + uint64(fee) // see settle
	for i := range shares {
		s := &shares[i]
		if sp.unit(i, s.TransferE8s) {
			s.ShareE8s++
		}
		owed, ok := money.AddE8s(s.ShareE8s, s.CarryInE8s)
		if !ok {
			return inputErr("", carryField(s.Sponsor), "plus the share %d exceeds %d e8s, got %d", s.ShareE8s, int64(money.MaxE8s), s.CarryInE8s)
		}
		// settle, inlined: this loop runs once per sponsor.
		if uint64(owed) >= threshold {
			s.TransferE8s, s.FeeE8s, s.CarryOutE8s = owed-fee, fee, 0
		} else {
			s.TransferE8s, s.FeeE8s, s.CarryOutE8s = 0, 0, owed
		}
	}
	return sp.done()
}

// applyCarryIn copies the carries into shares (sorted by sponsor). Every key
// must be a sponsor of the pool with a non-negative amount; when several are
// not, the smallest account is reported, so the message does not depend on
// map order. Few carries are binary-searched; many are looked up per share.
func applyCarryIn(shares []Share, carryIn map[string]money.E8s) error {
	bad, badUnknown := "", false
	note := func(acct string, unknown bool) {
		if bad == "" || acct < bad {
			bad, badUnknown = acct, unknown
		}
	}
	cmp := func(s Share, a string) int { return strings.Compare(s.Sponsor, a) }
	if len(carryIn)*8 < len(shares) {
		for acct, v := range carryIn {
			i, found := slices.BinarySearchFunc(shares, acct, cmp)
			switch {
			case !found:
				note(acct, true)
			case v < 0:
				note(acct, false)
			default:
				shares[i].CarryInE8s = v
			}
		}
	} else {
		hits := 0
		for i := range shares {
			if v, ok := carryIn[shares[i].Sponsor]; ok {
				hits++
				if v < 0 {
					note(shares[i].Sponsor, false)
				}
				shares[i].CarryInE8s = v
			}
		}
		if hits != len(carryIn) {
			for acct := range carryIn {
				if _, found := slices.BinarySearchFunc(shares, acct, cmp); !found {
					note(acct, true)
				}
			}
		}
	}
	switch {
	case bad == "":
		return nil
	case badUnknown:
		return inputErr("", carryField(bad), "has no contribution in this pool (a carry is paid only to a sponsor of the pool), got %d", carryIn[bad])
	default:
		return inputErr("", carryField(bad), "must be >= 0, got %d", carryIn[bad])
	}
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
// (step 1). One pass validates and checks whether the input is already
// sorted by id (then ids are unique) and by sponsor (then it is folded in
// place); only when it is not does it sort a []int32 index, the one extra
// allocation. Either way the result does not depend on the input order.
func groupSponsors(cs []Contribution, refund bool, slashBps money.Bps) (grouped, error) {
	if len(cs) == 0 {
		return grouped{}, inputErr("", "contributions", "must not be empty (a pool with no funded stake cannot be allocated)")
	}
	if len(cs) > 1<<31-1 {
		return grouped{}, inputErr("", "contributions", "more than %d entries", 1<<31-1)
	}
	byID, bySponsor := true, true
	n := 1 // distinct sponsors, valid while bySponsor
	for i := range cs {
		c := &cs[i]
		if !validID(c.ID) {
			return grouped{}, inputErr(contributionPath(i, c.ID), "id", "must be a non-empty UTF-8 string, got %q", c.ID)
		}
		if !validID(c.Sponsor) {
			return grouped{}, inputErr(contributionPath(i, c.ID), "sponsor", "must be a non-empty UTF-8 string, got %q", c.Sponsor)
		}
		if c.AmountE8s < 0 {
			return grouped{}, inputErr(contributionPath(i, c.ID), "amount_e8s", "must be >= 0, got %d", c.AmountE8s)
		}
		if c.At.IsZero() {
			return grouped{}, inputErr(contributionPath(i, c.ID), "at", "must be set (RFC 3339 time of the funding transfer)")
		}
		if i == 0 {
			continue
		}
		if byID && c.ID <= cs[i-1].ID {
			byID = false
		}
		if bySponsor {
			switch strings.Compare(c.Sponsor, cs[i-1].Sponsor) {
			case -1:
				bySponsor = false
			case 1:
				n++
			}
		}
	}

	var order []int32
	index := func() []int32 {
		if order == nil {
			order = make([]int32, len(cs))
		}
		for i := range order {
			order[i] = int32(i)
		}
		return order
	}
	if !byID {
		// Duplicate ids: sort an index by (id, position) and compare
		// neighbours; the later position is reported.
		idx := index()
		slices.SortFunc(idx, func(a, b int32) int {
			if c := strings.Compare(cs[a].ID, cs[b].ID); c != 0 {
				return c
			}
			return int(a - b)
		})
		for k := 1; k < len(idx); k++ {
			a, b := idx[k-1], idx[k]
			if cs[a].ID == cs[b].ID {
				return grouped{}, inputErr(contributionPath(int(b), cs[b].ID), "id", "duplicates contributions[%d]: contribution ids must be unique, got %q", a, cs[b].ID)
			}
		}
	}
	if !bySponsor {
		idx := index()
		slices.SortFunc(idx, func(a, b int32) int { return strings.Compare(cs[a].Sponsor, cs[b].Sponsor) })
		n = 1
		for k := 1; k < len(idx); k++ {
			if cs[idx[k]].Sponsor != cs[idx[k-1]].Sponsor {
				n++
			}
		}
	}

	f := folder{g: grouped{shares: make([]Share, n)}, si: -1, refund: refund, slashBps: slashBps}
	if bySponsor && n == len(cs) && !refund {
		// Fast path: sorted input, one contribution per sponsor, so every
		// contribution starts a new sponsor and no string is compared again.
		for i := range cs {
			c := &cs[i]
			// Field by field: the slice is freshly zeroed, and a whole-struct
			// store would copy (with write barriers) 64 bytes instead of 24.
			sh := &f.g.shares[i]
			sh.Sponsor, sh.StakeE8s = c.Sponsor, c.AmountE8s
			t := f.g.total + uint64(c.AmountE8s)
			if t < f.g.total {
				return grouped{}, inputErr(contributionPath(i, c.ID), "amount_e8s", "makes the pool's total stake exceed 2^64-1 e8s, got %d", c.AmountE8s)
			}
			f.g.total = t
			f.g.considerWhale(i, c.At, &f.whaleAt)
		}
		f.si = -1
	} else if bySponsor {
		for i := range cs {
			if err := f.add(&cs[i], i); err != nil {
				return grouped{}, err
			}
		}
	} else {
		for _, i := range order {
			if err := f.add(&cs[i], int(i)); err != nil {
				return grouped{}, err
			}
		}
	}
	if f.si >= 0 {
		f.g.considerWhale(f.si, f.first, &f.whaleAt)
	}
	g := f.g
	if g.total == 0 {
		return grouped{}, inputErr("contributions", "amount_e8s", "sum to 0: a pool with no funded stake cannot be allocated")
	}
	return g, nil
}

// folder accumulates contributions visited in sponsor order.
type folder struct {
	g        grouped
	si       int       // current sponsor's index in g.shares
	first    time.Time // current sponsor's earliest at
	whaleAt  time.Time
	refund   bool
	slashBps money.Bps
}

func (f *folder) add(c *Contribution, pos int) error {
	if f.si < 0 || c.Sponsor != f.g.shares[f.si].Sponsor {
		if f.si >= 0 {
			f.g.considerWhale(f.si, f.first, &f.whaleAt)
		}
		f.si++
		f.g.shares[f.si].Sponsor = c.Sponsor
		f.first = c.At
	} else if c.At.Before(f.first) {
		f.first = c.At
	}
	s := &f.g.shares[f.si]
	stake, ok := money.AddE8s(s.StakeE8s, c.AmountE8s)
	if !ok {
		return inputErr(contributionPath(pos, c.ID), "amount_e8s", "makes the stake of sponsor %q exceed %d e8s, got %d", c.Sponsor, int64(money.MaxE8s), c.AmountE8s)
	}
	s.StakeE8s = stake
	t := f.g.total + uint64(c.AmountE8s)
	if t < f.g.total {
		return inputErr(contributionPath(pos, c.ID), "amount_e8s", "makes the pool's total stake exceed 2^64-1 e8s, got %d", c.AmountE8s)
	}
	f.g.total = t
	if f.refund {
		// Rejected proposal: refund = amount - floor(amount * slash_bps
		// / 10000), per contribution, summed per sponsor.
		slash := money.ApplyBps(c.AmountE8s, f.slashBps)
		s.ShareE8s += c.AmountE8s - slash // <= stake, cannot overflow
		f.g.slashed += uint64(slash)
	}
	return nil
}

// validID reports whether s is a non-empty UTF-8 string, with a fast path
// for ASCII (account ids and contribution ids usually are).
func validID(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return utf8.ValidString(s)
		}
	}
	return true
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
