package lifecycle

import "github.com/nodeshare/nodeshare/pipeline/money"

// decide applies the NNS outcome of the pool's proposal.
func (p *Pool) decide(f *Fact) {
	cause, at := decimal(f.ProposalID), f.At.String()
	switch f.Status {
	case ProposalAdopted:
		p.state = StateAdopted
	case ProposalRejected:
		p.state = StateRejected
		p.refundAll(true, cause, at)
	case ProposalFailed:
		p.state = StateFailed
		p.refundAll(false, cause, at)
	}
}

// refundAll ends a pool that refunds (expired, rejected, failed): one
// transfer per sponsor account in byte order, less its per-contribution
// slash when slash is set, then the bond held back to the purchaser
// (docs/pool-rules.md "Endings that refund").
func (p *Pool) refundAll(slash bool, cause, at string) {
	for _, s := range p.sortedSponsors() {
		gross := s.accepted
		if slash {
			gross -= s.slashed
			p.retained.SlashE8s += s.slashed
		}
		p.stakeHeld -= s.accepted
		p.pay(TransferRefund, p.terms.DepositAccount, s.account, gross, "", cause, at)
	}
	p.returnBond(cause, at)
}

func (p *Pool) returnBond(cause, at string) {
	p.pay(TransferBondReturn, p.terms.BondAccount, p.terms.Purchaser, p.bondHeld, "", cause, at)
	p.bondHeld = 0
}

// nodeIsUp records the node; the pool settles now if the bond is complete.
// node_up may repeat while adopted (the bond still incomplete); the last
// node named is the node that node_down must name.
func (p *Pool) nodeIsUp(f *Fact) {
	p.nodeID, p.nodeUp = f.NodeID, true
	if p.bondComplete() {
		p.settle(f.NodeID, f.At.String())
	}
}

// settle pays the purchaser the accepted total (which is all the stake
// held: nothing leaves the stake before settlement; conservation would
// catch it otherwise): the pool is active from now on. Sponsors keep their
// accepted totals as stake for rewards and votes.
func (p *Pool) settle(cause, at string) {
	p.pay(TransferSettlement, p.terms.DepositAccount, p.terms.Purchaser, p.acceptedTotal, "", cause, at)
	p.stakeHeld = 0
	p.state, p.settledAt = StateActive, at
}

// nodeIsDown retires the pool. Before lockup_until the bond is forfeited to
// the sponsors by their accepted totals; from lockup_until on, a bond still
// held (the lock-up ended before the pool was active) is returned.
func (p *Pool) nodeIsDown(f *Fact) {
	cause, at := f.NodeID, f.At.String()
	p.state, p.retiredAt = StateRetired, at
	if f.At.Before(p.terms.LockupUntil) {
		p.forfeitBond(cause, at)
		return
	}
	p.returnBond(cause, at)
}

// forfeitBond splits the bond held between the sponsor accounts by their
// accepted totals, largest remainder with ties by smallest account, one
// bond_forfeit transfer per non-zero part, in account order.
func (p *Pool) forfeitBond(cause, at string) {
	sponsors := p.sortedSponsors()
	weights := make([]money.E8s, len(sponsors))
	for i, s := range sponsors {
		weights[i] = s.accepted
	}
	parts, err := largestRemainder(p.bondHeld, weights, p.acceptedTotal)
	if err != nil {
		p.fail(err)
		return
	}
	for i, s := range sponsors {
		p.pay(TransferBondForfeit, p.terms.BondAccount, s.account, parts[i], "", cause, at)
	}
	p.bondHeld = 0
}
