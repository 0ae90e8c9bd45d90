package lifecycle

import (
	"cmp"
	"slices"
)

// Result is the output for the facts applied so far, with its
// LifecycleSHA256. It shares nothing with the pool: later facts do not
// change it.
func (p *Pool) Result() Output {
	o := Output{
		PoolID:       p.terms.PoolID,
		RulesVersion: RulesVersion,
		State:        p.state,
		FundedAt:     p.fundedAt,
		SettledAt:    p.settledAt,
		RetiredAt:    p.retiredAt,
		StakeHeldE8s: p.stakeHeld,
		BondHeldE8s:  p.bondHeld,
		Sponsors:     make([]Sponsor, 0, len(p.sponsors)),
		Transfers:    slices.Clone(p.transfers),
		Retained:     p.retained,
		Votes:        make([]VoteResult, 0, len(p.votes)),
	}
	if o.Transfers == nil {
		o.Transfers = []Transfer{}
	}
	for _, s := range p.sortedSponsors() {
		o.Sponsors = append(o.Sponsors, Sponsor{Sponsor: s.account, Identity: s.ident.id, AcceptedE8s: s.accepted, FirstAcceptedAt: s.firstAt})
	}
	for _, v := range p.votes {
		o.Votes = append(o.Votes, v.result())
	}
	slices.SortFunc(o.Votes, func(a, b VoteResult) int { return cmp.Compare(a.VoteID, b.VoteID) })
	o.LifecycleSHA256 = LifecycleSHA256(o)
	return o
}
