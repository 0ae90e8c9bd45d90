package allocation

import (
	"cmp"
	"math/big"
	"slices"
	"strconv"

	"github.com/nodeshare/nodeshare/pipeline/money"
)

// versionV2 is the name rulesV2 is registered under.
const versionV2 = "v2"

// rulesV2 is docs/allocation-rules.md version v2: a period may see several
// hoster engagements (a DAO vote can end a hoster or change its terms
// mid-period), each paid for the seconds it ran inside the period. It
// differs from v1 only in step 2 and the hoster's payout, so it embeds v1:
// SplitReward (level 1) and VotingWeights are v1's, and Allocate runs v1's
// steps 1 and 3-7 unchanged (see Allocate).
type rulesV2 struct{ rulesV1 }

func (rulesV2) Version() string { return versionV2 }

// pinnedRate and pinnedHoster make v1's step 2 yield a given H exactly:
// with a rate of 1e8 XDR permyriad per ICP, floor(H * 1e8 / 1e8) = H, and
// with 0 bps nothing is added, so v1 computes min(G, H) = H (H <= G).
const (
	pinnedRate   = money.XDRPermyriadPerICP(money.E8sPerICP)
	pinnedHoster = "hosters"
)

// Allocate implements level 2 of v2 (and the rejected-proposal refunds).
//
// Step 2 (ALLOCATION_RULES "Version v2"): for each engagement j in order of
// from, with o_j its seconds inside the period and L the period's length,
//
//	H_j = min(G - (H_1 + ... + H_{j-1}),
//	          floor((floor(fixed_j * 1e8 / rate) + floor(G * bps_j / 10000)) * o_j / L))
//
// computed exactly (engagementFee), and H = sum H_j. Steps 1 and 3-6, the
// sponsors' step 7 and the refunds are v1's: rules_v1.go is frozen and is
// the only implementation of them, so v2 calls rulesV1.Allocate with step 2
// pinned to H (pinnedRate) and then replaces v1's single hoster by the
// engagements, each settled by step 7 as its own recipient with
// owed = H_j + carry_in. A rejected proposal has G = 0, so every H_j is 0
// and each engagement is paid its carry-in only, as v1's hoster is.
func (v rulesV2) Allocate(in PoolPeriod) (PoolResult, error) {
	order, err := validateV2(in)
	if err != nil {
		return PoolResult{}, err
	}
	G := in.GrossE8s
	start, end := in.PeriodStartUnixSeconds, in.PeriodEndUnixSeconds
	engagements := make([]EngagementPayout, len(order))
	var H money.E8s // H_1 + ... + H_j so far, <= G
	for k, i := range order {
		e := &in.Hosters[i]
		o := overlapSeconds(e.FromUnixSeconds, e.ToUnixSeconds, start, end)
		hj := engagementFee(G, in.RateXDRPermyriadPerICP, e.FixedXDRPermyriad, e.FeeBps, o, end-start, G-H)
		H += hj
		owed, ok := money.AddE8s(hj, e.CarryInE8s)
		if !ok {
			return PoolResult{}, inputErr("", hosterField(i, "carry_in_e8s"), "plus the engagement's hoster fee %d exceeds %d e8s, got %d", hj, int64(money.MaxE8s), e.CarryInE8s)
		}
		engagements[k] = EngagementPayout{
			Account: e.Account, FixedXDRPermyriad: e.FixedXDRPermyriad, FeeBps: e.FeeBps,
			FromUnixSeconds: e.FromUnixSeconds, ToUnixSeconds: e.ToUnixSeconds,
			OverlapSeconds: o, HosterFeeE8s: hj, CarryInE8s: e.CarryInE8s,
			Payout: settle(owed, in.LedgerFeeE8s, in.MinPayoutE8s),
		}
	}

	pinned := in
	pinned.Hosters, pinned.PeriodStartUnixSeconds, pinned.PeriodEndUnixSeconds = nil, 0, 0
	pinned.RateXDRPermyriadPerICP = pinnedRate
	pinned.Hoster = HosterTerms{Account: pinnedHoster, FixedXDRPermyriad: money.XDRPermyriad(H)}
	res, err := v.rulesV1.Allocate(pinned)
	if err != nil {
		return PoolResult{}, err
	}
	if res.HosterFeeE8s != H {
		return PoolResult{}, invariantErr("pool %s: v1's step 2 pinned to H %d gave %d", in.PoolID, H, res.HosterFeeE8s)
	}
	res.RulesVersion = v.Version()
	res.RateXDRPermyriadPerICP = in.RateXDRPermyriadPerICP
	res.HosterFixedXDRPermyriad, res.HosterFeeBps = 0, 0
	res.Hoster = HosterPayout{}
	res.Hosters = engagements
	res.PeriodStartUnixSeconds, res.PeriodEndUnixSeconds = start, end
	if err := CheckInvariants(res); err != nil {
		return PoolResult{}, err
	}
	return res, nil
}

// overlapSeconds is o_j: the seconds of [from, to) inside [start, end).
// Every bound is in 0..2^63-1, so the difference cannot overflow.
func overlapSeconds(from, to, start, end int64) int64 {
	lo, hi := max(from, start), min(to, end)
	if hi <= lo {
		return 0
	}
	return hi - lo
}

// engagementFee is step 2 of v2 for one engagement: min(remaining,
// floor((floor(fixed * 1e8 / rate) + floor(G * bps / 10000)) * o / L)).
// The fixed part alone may exceed 2^64 (fixed up to 2^63-1 times 1e8), and
// the rules forbid capping it before it is prorated by o / L (a fixed fee
// of twice the gross for a third of the period is two thirds of the gross,
// not a third), so the products are exact big integers; the only floors are
// the three the rules write. rate > 0, L > 0 and 0 <= o <= L.
func engagementFee(G money.E8s, rate money.XDRPermyriadPerICP, fixed money.XDRPermyriad, bps money.Bps, o, L int64, remaining money.E8s) money.E8s {
	if o == 0 || remaining == 0 {
		return 0 // the formula's value: a product with o = 0, or min(0, x)
	}
	a := new(big.Int).Mul(big.NewInt(int64(fixed)), big.NewInt(int64(money.E8sPerICP)))
	a.Quo(a, big.NewInt(int64(rate))) // floor: both operands >= 0
	a.Add(a, big.NewInt(int64(money.ApplyBps(G, bps))))
	a.Mul(a, big.NewInt(o))
	a.Quo(a, big.NewInt(L))
	if a.Cmp(big.NewInt(int64(remaining))) >= 0 {
		return remaining
	}
	return money.E8s(a.Int64())
}

// validateV2 checks a v2 input before anything is computed and returns the
// engagements' indexes in order of from. The scalars common with v1 are
// checked by v1's own validatePeriodScalars (same fields, same messages),
// with v1's hoster, which v2 has not, filled in.
func validateV2(in PoolPeriod) ([]int, error) {
	if in.Hoster != (HosterTerms{}) {
		return nil, inputErr("", "hoster", "is not a field of rules v2: the hoster is paid per engagement, in \"hosters\"")
	}
	common := in
	common.Hoster = HosterTerms{Account: pinnedHoster}
	if err := validatePeriodScalars(common); err != nil {
		return nil, err
	}
	start, end := in.PeriodStartUnixSeconds, in.PeriodEndUnixSeconds
	if start < 0 {
		return nil, inputErr("", "period_start", "must be >= 0 (Unix seconds), got %d", start)
	}
	if end < 0 {
		return nil, inputErr("", "period_end", "must be >= 0 (Unix seconds), got %d", end)
	}
	if end <= start {
		return nil, inputErr("", "period_end", "must be greater than period_start (%d): the period's length L must be > 0, got %d", start, end)
	}
	for i := range in.Hosters {
		if err := validateEngagement(i, &in.Hosters[i]); err != nil {
			return nil, err
		}
	}
	order := make([]int, len(in.Hosters))
	for i := range order {
		order[i] = i
	}
	hs := in.Hosters
	slices.SortFunc(order, func(a, b int) int {
		if c := cmp.Compare(hs[a].FromUnixSeconds, hs[b].FromUnixSeconds); c != 0 {
			return c
		}
		return a - b
	})
	// Sorted by from, two engagements intersect only if some neighbours do.
	for k := 1; k < len(order); k++ {
		p, q := &hs[order[k-1]], &hs[order[k]]
		if q.FromUnixSeconds < p.ToUnixSeconds {
			return nil, inputErr("", hosterField(order[k], "from"), "lies inside hosters[%d], [%d, %d): engagements must not overlap (one may start at the to of another), got %d",
				order[k-1], p.FromUnixSeconds, p.ToUnixSeconds, q.FromUnixSeconds)
		}
	}
	return order, nil
}

func validateEngagement(i int, e *HosterEngagement) error {
	if !validID(e.Account) {
		return inputErr("", hosterField(i, "account"), "must be a non-empty UTF-8 string, got %q", e.Account)
	}
	if err := e.FixedXDRPermyriad.Validate(); err != nil {
		return inputErr("", hosterField(i, "fixed_xdr_permyriad"), "%v", err)
	}
	if err := e.FeeBps.Validate(); err != nil {
		return inputErr("", hosterField(i, "bps"), "%v", err)
	}
	if e.FromUnixSeconds < 0 {
		return inputErr("", hosterField(i, "from"), "must be >= 0 (Unix seconds), got %d", e.FromUnixSeconds)
	}
	if e.ToUnixSeconds <= e.FromUnixSeconds {
		return inputErr("", hosterField(i, "to"), "must be greater than from (%d), got %d", e.FromUnixSeconds, e.ToUnixSeconds)
	}
	if err := e.CarryInE8s.Validate(); err != nil {
		return inputErr("", hosterField(i, "carry_in_e8s"), "%v", err)
	}
	return nil
}

// hosterField names a field of engagement i the way the input spells it:
// hosters[1].to.
func hosterField(i int, field string) string {
	return "hosters[" + strconv.Itoa(i) + "]." + field
}
