package allocation

import (
	"math/bits"
	"strings"

	"github.com/nodeshare/nodeshare/pipeline/money"
)

// CheckInvariants verifies a result on its own: conservation
// (G = H + D_fee + sum(share_i), D = G - H - D_fee), per recipient
// owed = transfer + fee + carry_out with nothing paid beyond what is owed,
// shares sorted and unique by sponsor, and the whale never below its
// pro-rata share. Under v2 also H = sum H_j, each H_j step 2's value for
// its engagement, and the engagements sorted by from and disjoint
// (checkEngagements). Allocate calls it on every run; a payout run should call it
// again on a manifest it has read back before signing anything. A failure is
// ErrInvariant: a bug, never bad input.
func CheckInvariants(r PoolResult) error {
	for _, v := range []money.E8s{r.GrossE8s, r.HosterFeeE8s, r.DAOFeeE8s, r.DistributableE8s, r.LedgerFeeE8s, r.MinPayoutE8s} {
		if v < 0 {
			return invariantErr("pool %s period %s: negative amount %d", r.PoolID, r.Period, v)
		}
	}
	if r.HosterFeeE8s > r.GrossE8s || r.DAOFeeE8s > r.GrossE8s-r.HosterFeeE8s ||
		r.DistributableE8s != r.GrossE8s-r.HosterFeeE8s-r.DAOFeeE8s {
		return invariantErr("pool %s period %s: D %d != G %d - H %d - D_fee %d", r.PoolID, r.Period, r.DistributableE8s, r.GrossE8s, r.HosterFeeE8s, r.DAOFeeE8s)
	}
	var sum, carry uint64
	whaleFound := r.Whale == ""
	for i := range r.Shares {
		s := &r.Shares[i]
		if i > 0 && strings.Compare(r.Shares[i-1].Sponsor, s.Sponsor) >= 0 {
			return invariantErr("pool %s: shares not sorted by unique sponsor at %q", r.PoolID, s.Sponsor)
		}
		if s.StakeE8s < 0 || s.ShareE8s < 0 || s.CarryInE8s < 0 {
			return invariantErr("pool %s sponsor %q: negative stake, share or carry-in", r.PoolID, s.Sponsor)
		}
		if err := checkPayout(&r, "sponsor", s.Sponsor, s.ShareE8s, s.CarryInE8s, Payout{
			OwedE8s: s.ShareE8s + s.CarryInE8s, TransferE8s: s.TransferE8s, FeeE8s: s.FeeE8s, CarryOutE8s: s.CarryOutE8s,
		}); err != nil {
			return err
		}
		sum, carry = bits.Add64(sum, uint64(s.ShareE8s), 0)
		if carry != 0 {
			return invariantErr("pool %s: sum of shares overflows", r.PoolID)
		}
		if s.Sponsor == r.Whale {
			whaleFound = true
			if s.ShareE8s < r.WhaleProRataE8s || s.ShareE8s != r.PremiumE8s {
				return invariantErr("pool %s: whale %q share %d is not its premium %d or below its pro-rata share %d", r.PoolID, s.Sponsor, s.ShareE8s, r.PremiumE8s, r.WhaleProRataE8s)
			}
		}
	}
	if !whaleFound {
		return invariantErr("pool %s: whale %q is not a sponsor", r.PoolID, r.Whale)
	}
	if sum != uint64(r.DistributableE8s) {
		return invariantErr("pool %s period %s: G %d != H %d + D_fee %d + sum(shares) %d", r.PoolID, r.Period, r.GrossE8s, r.HosterFeeE8s, r.DAOFeeE8s, sum)
	}
	if r.HasEngagements() {
		if err := checkEngagements(&r); err != nil {
			return err
		}
	} else {
		if len(r.Hosters) != 0 || r.PeriodStartUnixSeconds != 0 || r.PeriodEndUnixSeconds != 0 {
			return invariantErr("pool %s: a %s result has v2 engagements or period bounds", r.PoolID, r.RulesVersion)
		}
		h := r.Hoster
		if err := checkPayout(&r, "hoster", h.Account, r.HosterFeeE8s, h.CarryInE8s, h.Payout); err != nil {
			return err
		}
	}
	if p := r.Proposal; p != nil && p.Status == ProposalRejected {
		if p.SlashedE8s != r.DAOFeeE8s || r.HosterFeeE8s != 0 || r.Whale != "" {
			return invariantErr("pool %s: refund: slashed %d != DAO fee %d, or a hoster fee or whale was set", r.PoolID, p.SlashedE8s, r.DAOFeeE8s)
		}
	}
	return nil
}

// checkPayout takes the recipient's kind and account apart so that the
// success path builds no string (no allocation per sponsor), and r by
// pointer so that 1M calls do not copy the result header 1M times.
func checkPayout(r *PoolResult, kind, acct string, amount, carryIn money.E8s, p Payout) error {
	owed, ok := money.AddE8s(amount, carryIn)
	if !ok || owed != p.OwedE8s {
		return invariantErr("pool %s %s %q: owed %d != amount %d + carry-in %d", r.PoolID, kind, acct, p.OwedE8s, amount, carryIn)
	}
	if p.TransferE8s < 0 || p.FeeE8s < 0 || p.CarryOutE8s < 0 {
		return invariantErr("pool %s %s %q: negative transfer, fee or carry-out", r.PoolID, kind, acct)
	}
	if p.TransferE8s > owed || uint64(p.TransferE8s)+uint64(p.FeeE8s)+uint64(p.CarryOutE8s) != uint64(owed) {
		return invariantErr("pool %s %s %q: owed %d != transfer %d + fee %d + carry-out %d", r.PoolID, kind, acct, owed, p.TransferE8s, p.FeeE8s, p.CarryOutE8s)
	}
	paid := p.TransferE8s > 0
	if paid && (p.FeeE8s != r.LedgerFeeE8s || p.CarryOutE8s != 0 || p.TransferE8s < max(r.MinPayoutE8s, 1)) {
		return invariantErr("pool %s %s %q: transfer %d with fee %d (want %d), carry-out %d, minimum %d", r.PoolID, kind, acct, p.TransferE8s, p.FeeE8s, r.LedgerFeeE8s, p.CarryOutE8s, r.MinPayoutE8s)
	}
	if !paid && p.FeeE8s != 0 {
		return invariantErr("pool %s %s %q: fee %d charged without a transfer", r.PoolID, kind, acct, p.FeeE8s)
	}
	return nil
}

// checkEngagements is CheckInvariants for v2's hosters: v1's single hoster
// unset, a period of positive length, the engagements in order of from,
// each [from, to) non-empty and disjoint from the next, overlap_seconds
// equal to its seconds inside the period, H_j equal to step 2's value
// (recomputed from the terms the result binds, so a stored result whose
// fee was edited is caught), H = sum H_j, and each settled by step 7.
func checkEngagements(r *PoolResult) error {
	if r.Hoster != (HosterPayout{}) || r.HosterFixedXDRPermyriad != 0 || r.HosterFeeBps != 0 {
		return invariantErr("pool %s: a v2 result has v1's single hoster set", r.PoolID)
	}
	start, end := r.PeriodStartUnixSeconds, r.PeriodEndUnixSeconds
	if start < 0 || end <= start {
		return invariantErr("pool %s: period [%d, %d) is empty or negative", r.PoolID, start, end)
	}
	refund := r.Proposal != nil && r.Proposal.Status == ProposalRejected
	var sum money.E8s
	for j := range r.Hosters {
		e := &r.Hosters[j]
		if e.FromUnixSeconds < 0 || e.ToUnixSeconds <= e.FromUnixSeconds {
			return invariantErr("pool %s hoster %q: engagement [%d, %d) is empty or negative", r.PoolID, e.Account, e.FromUnixSeconds, e.ToUnixSeconds)
		}
		if j > 0 && e.FromUnixSeconds < r.Hosters[j-1].ToUnixSeconds {
			return invariantErr("pool %s hoster %q: engagement from %d is before the previous one's to %d (unsorted or overlapping)", r.PoolID, e.Account, e.FromUnixSeconds, r.Hosters[j-1].ToUnixSeconds)
		}
		if o := overlapSeconds(e.FromUnixSeconds, e.ToUnixSeconds, start, end); e.OverlapSeconds != o {
			return invariantErr("pool %s hoster %q: overlap %d s, want %d s", r.PoolID, e.Account, e.OverlapSeconds, o)
		}
		want := money.E8s(0) // a refund has G = 0: no engagement earns a fee
		if !refund {
			if r.RateXDRPermyriadPerICP <= 0 || e.FixedXDRPermyriad < 0 || e.FeeBps < 0 || e.FeeBps > money.BpsDenominator {
				return invariantErr("pool %s hoster %q: terms or rate out of range", r.PoolID, e.Account)
			}
			want = engagementFee(r.GrossE8s, r.RateXDRPermyriadPerICP, e.FixedXDRPermyriad, e.FeeBps, e.OverlapSeconds, end-start, r.GrossE8s-sum)
		}
		if e.HosterFeeE8s != want {
			return invariantErr("pool %s hoster %q: engagement fee %d, step 2 gives %d", r.PoolID, e.Account, e.HosterFeeE8s, want)
		}
		sum += e.HosterFeeE8s // <= G: each H_j is at most what is left of G
		if err := checkPayout(r, "hoster", e.Account, e.HosterFeeE8s, e.CarryInE8s, e.Payout); err != nil {
			return err
		}
	}
	if sum != r.HosterFeeE8s {
		return invariantErr("pool %s period %s: H %d != sum of the engagements' fees %d", r.PoolID, r.Period, r.HosterFeeE8s, sum)
	}
	return nil
}
