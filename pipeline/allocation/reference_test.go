package allocation

import (
	"sort"
	"time"

	"github.com/shopspring/decimal"

	"github.com/nodeshare/nodeshare/pipeline/money"
)

// referenceAllocate is an independent, deliberately plain implementation of
// docs/allocation-rules.md v1 level 2 with shopspring/decimal, a map and full sorts.
// It is the oracle of the property and fuzz tests and the baseline of the
// benchmarks. It assumes valid input (the tests only call it on inputs that
// Allocate accepted) and shares no code with the package except the types.
func referenceAllocate(in PoolPeriod) PoolResult {
	dec := func(v int64) decimal.Decimal { return decimal.NewFromInt(v) }
	floorDiv := func(a, b decimal.Decimal) (decimal.Decimal, decimal.Decimal) { return a.QuoRem(b, 0) }
	toE8s := func(d decimal.Decimal) money.E8s { return money.E8s(d.IntPart()) }

	type agg struct {
		stake, refund decimal.Decimal
		first         time.Time
	}
	refund := in.Proposal != nil && in.Proposal.Status == ProposalRejected
	m := map[string]*agg{}
	slashed := decimal.Zero
	for _, c := range in.Contributions {
		a, ok := m[c.Sponsor]
		if !ok {
			a = &agg{stake: decimal.Zero, refund: decimal.Zero, first: c.At}
			m[c.Sponsor] = a
		}
		amt := dec(int64(c.AmountE8s))
		a.stake = a.stake.Add(amt)
		if c.At.Before(a.first) {
			a.first = c.At
		}
		if refund {
			s, _ := floorDiv(amt.Mul(dec(int64(in.Proposal.SlashBps))), dec(10000))
			a.refund = a.refund.Add(amt.Sub(s))
			slashed = slashed.Add(s)
		}
	}
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	S := decimal.Zero
	for _, id := range ids {
		S = S.Add(m[id].stake)
	}
	r := PoolResult{
		RulesVersion: "v1", PoolID: in.PoolID, Period: in.Period,
		StakeTotalE8s:           S.BigInt().Uint64(),
		RateXDRPermyriadPerICP:  in.RateXDRPermyriadPerICP,
		HosterFixedXDRPermyriad: in.Hoster.FixedXDRPermyriad,
		HosterFeeBps:            in.Hoster.FeeBps,
		DAOFeeBps:               in.DAOFeeBps,
		WhalePremiumBps:         in.WhalePremiumBps,
		LedgerFeeE8s:            in.LedgerFeeE8s,
		MinPayoutE8s:            in.MinPayoutE8s,
		Shares:                  make([]Share, len(ids)),
	}
	share := map[string]decimal.Decimal{}
	if in.Proposal != nil {
		r.Proposal = &ProposalOutcome{Status: in.Proposal.Status}
		if refund {
			r.Proposal.SlashBps = in.Proposal.SlashBps
		}
	}
	if refund {
		r.GrossE8s = toE8s(S)
		r.DAOFeeE8s = toE8s(slashed)
		r.DistributableE8s = toE8s(S.Sub(slashed))
		r.Proposal.SlashedE8s = r.DAOFeeE8s
		for _, id := range ids {
			share[id] = m[id].refund
		}
	} else {
		G := dec(int64(in.GrossE8s))
		fixed, _ := floorDiv(dec(int64(in.Hoster.FixedXDRPermyriad)).Mul(dec(100_000_000)), dec(int64(in.RateXDRPermyriadPerICP)))
		pct, _ := floorDiv(G.Mul(dec(int64(in.Hoster.FeeBps))), dec(10000))
		H := decimal.Min(G, fixed.Add(pct))
		Dfee, _ := floorDiv(G.Sub(H).Mul(dec(int64(in.DAOFeeBps))), dec(10000))
		D := G.Sub(H).Sub(Dfee)
		r.GrossE8s, r.HosterFeeE8s, r.DAOFeeE8s, r.DistributableE8s = toE8s(G), toE8s(H), toE8s(Dfee), toE8s(D)

		byWhale := append([]string(nil), ids...)
		sort.SliceStable(byWhale, func(i, j int) bool {
			a, b := m[byWhale[i]], m[byWhale[j]]
			if c := a.stake.Cmp(b.stake); c != 0 {
				return c > 0
			}
			if !a.first.Equal(b.first) {
				return a.first.Before(b.first)
			}
			return byWhale[i] < byWhale[j]
		})
		w := byWhale[0]
		r.WhaleCandidate = w
		P, _ := floorDiv(D.Mul(dec(int64(in.WhalePremiumBps))), dec(10000))
		W, _ := floorDiv(D.Mul(m[w].stake), S)
		r.PremiumE8s, r.WhaleProRataE8s = toE8s(P), toE8s(W)
		X, T, skip := D, S, ""
		if len(ids) >= 2 && P.GreaterThan(W) {
			r.Whale = w
			share[w] = P
			X, T, skip = D.Sub(P), S.Sub(m[w].stake), w
		}
		type rem struct {
			r  decimal.Decimal
			id string
		}
		var rems []rem
		given := decimal.Zero
		for _, id := range ids {
			if id == skip {
				continue
			}
			q, rr := floorDiv(X.Mul(m[id].stake), T)
			share[id] = q
			given = given.Add(q)
			rems = append(rems, rem{rr, id})
		}
		sort.Slice(rems, func(i, j int) bool {
			if c := rems[i].r.Cmp(rems[j].r); c != 0 {
				return c > 0
			}
			return rems[i].id < rems[j].id
		})
		left := X.Sub(given).IntPart()
		for i := int64(0); i < left; i++ {
			share[rems[i].id] = share[rems[i].id].Add(decimal.NewFromInt(1))
		}
	}
	F := dec(int64(in.LedgerFeeE8s))
	threshold := dec(int64(max(in.MinPayoutE8s, 1)))
	pay := func(owed decimal.Decimal) Payout {
		p := Payout{OwedE8s: toE8s(owed)}
		if owed.Sub(F).GreaterThanOrEqual(threshold) {
			p.TransferE8s, p.FeeE8s = toE8s(owed.Sub(F)), toE8s(F)
		} else {
			p.CarryOutE8s = toE8s(owed)
		}
		return p
	}
	for i, id := range ids {
		c := in.CarryIn[id]
		p := pay(share[id].Add(dec(int64(c))))
		r.Shares[i] = Share{Sponsor: id, StakeE8s: toE8s(m[id].stake), ShareE8s: toE8s(share[id]), CarryInE8s: c,
			TransferE8s: p.TransferE8s, FeeE8s: p.FeeE8s, CarryOutE8s: p.CarryOutE8s}
	}
	r.Hoster = HosterPayout{Account: in.Hoster.Account, CarryInE8s: in.Hoster.CarryInE8s,
		Payout: pay(dec(int64(r.HosterFeeE8s)).Add(dec(int64(in.Hoster.CarryInE8s))))}
	return r
}
