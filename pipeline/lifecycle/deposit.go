package lifecycle

import "github.com/nodeshare/nodeshare/pipeline/money"

// depositStake applies a deposit to the deposit account (docs/pool-rules.md
// "Deposits to the deposit account", steps 1-4, in that order).
func (p *Pool) depositStake(f *Fact) {
	p.received(f)
	refund := func(amount money.E8s, reason RefundReason) {
		if amount > 0 {
			p.pay(TransferRefund, p.terms.DepositAccount, f.From, amount, reason, decimal(f.BlockIndex), f.At.String())
		}
	}
	// 1. Only a pool in funding takes stake.
	if p.state != StateFunding {
		reason := ReasonClosed
		if p.state == StateExpired {
			reason = ReasonLate
		}
		refund(f.AmountE8s, reason)
		return
	}
	// 2. The minimum applies to the deposit as sent.
	if f.AmountE8s < p.terms.MinContributionE8s {
		refund(f.AmountE8s, ReasonBelowMinimum)
		return
	}
	// 3. Accept what fits under the target and the identity's cap.
	idName := p.identityOf(f.From)
	var idAccepted money.E8s
	if id := p.identities[idName]; id != nil {
		idAccepted = id.accepted
	}
	targetRoom := p.terms.TargetE8s - p.acceptedTotal
	capRoom := p.capE8s - idAccepted
	accepted := min(f.AmountE8s, targetRoom, capRoom)
	if accepted > 0 {
		p.accept(f.From, idName, accepted, f.At.String())
	}
	if rest := f.AmountE8s - accepted; rest > 0 {
		// When both bounds bind equally, the target is what bound.
		reason := ReasonOverTarget
		if capRoom < targetRoom {
			reason = ReasonOverSponsorCap
		}
		refund(rest, reason)
	}
	// 4. Funded the moment the target is reached.
	if p.acceptedTotal == p.terms.TargetE8s {
		p.state, p.fundedAt = StateFunded, f.At.String()
	}
}

// accept adds one accepted contribution to its account and identity.
func (p *Pool) accept(account, idName string, amount money.E8s, at string) {
	s := p.sponsors[account]
	if s == nil {
		id := p.identities[idName]
		if id == nil {
			id = &identity{id: idName}
			p.identities[idName] = id
		}
		s = &sponsor{account: account, ident: id, firstAt: at}
		p.sponsors[account] = s
	}
	s.accepted += amount
	s.ident.accepted += amount
	s.slashed += money.ApplyBps(amount, p.terms.SlashBps)
	p.acceptedTotal += amount
	p.stakeHeld += amount
}

// depositBond applies a deposit to the bond account (docs/pool-rules.md
// "Deposits to the bond account"): only the purchaser's, only in
// funding..adopted, only up to bond_e8s in total.
func (p *Pool) depositBond(f *Fact) {
	p.received(f)
	cause, at := decimal(f.BlockIndex), f.At.String()
	if f.From != p.terms.Purchaser {
		p.pay(TransferRefund, p.terms.BondAccount, f.From, f.AmountE8s, ReasonNotPurchaser, cause, at)
		return
	}
	if !inRange(p.state, StateFunding, StateAdopted) {
		p.pay(TransferRefund, p.terms.BondAccount, f.From, f.AmountE8s, ReasonClosed, cause, at)
		return
	}
	accepted := min(f.AmountE8s, p.terms.BondE8s-p.bondAccepted)
	p.bondAccepted += accepted
	p.bondHeld += accepted
	p.pay(TransferRefund, p.terms.BondAccount, f.From, f.AmountE8s-accepted, ReasonOverBond, cause, at)
	// The deposit that completes the bond of an adopted pool whose node is
	// up settles it; its refund (if any) is listed first, as it arose first.
	if accepted > 0 && p.bondComplete() && p.state == StateAdopted && p.nodeUp {
		p.settle(cause, at)
	}
}

// received books a deposit's arrival: its block index is taken and its
// amount counts toward "all deposits" in conservation.
func (p *Pool) received(f *Fact) {
	p.blocks.add(f.BlockIndex)
	p.depositedE8s += uint64(f.AmountE8s)
}

func (p *Pool) bondComplete() bool { return p.bondAccepted == p.terms.BondE8s }
