package lifecycle

import "math/bits"

// fail records the first invariant error raised while a fact was being
// applied; checkInvariants reports it, and the pool refuses every later fact.
func (p *Pool) fail(err error) {
	if p.broken == nil {
		p.broken = err
	}
}

// checkInvariants runs after every fact (docs/pool-rules.md
// "Conservation"):
//
//	all deposits = stake held + bond held + sum(transfer + fee) + retained.slash + retained.dust
//
// plus the bounds the rules imply: nothing negative, stake held never above
// the accepted total, which never exceeds the target, and the bond held
// never above what was accepted, which never exceeds bond_e8s. A failure
// is ErrInvariant: a bug in this package, never bad input.
func (p *Pool) checkInvariants() error {
	if p.broken != nil {
		return p.broken
	}
	switch {
	case p.acceptedTotal < 0 || p.acceptedTotal > p.terms.TargetE8s:
		p.fail(invariantErr("pool %s: accepted total %d outside 0..target %d", p.terms.PoolID, p.acceptedTotal, p.terms.TargetE8s))
	case p.stakeHeld < 0 || p.stakeHeld > p.acceptedTotal:
		p.fail(invariantErr("pool %s: stake held %d outside 0..accepted total %d", p.terms.PoolID, p.stakeHeld, p.acceptedTotal))
	case p.bondHeld < 0 || p.bondHeld > p.bondAccepted || p.bondAccepted > p.terms.BondE8s:
		p.fail(invariantErr("pool %s: bond held %d, accepted %d, bond_e8s %d", p.terms.PoolID, p.bondHeld, p.bondAccepted, p.terms.BondE8s))
	case p.retained.SlashE8s < 0 || p.retained.SlashE8s > p.acceptedTotal:
		p.fail(invariantErr("pool %s: slash %d outside 0..accepted total %d", p.terms.PoolID, p.retained.SlashE8s, p.acceptedTotal))
	}
	if p.broken != nil {
		return p.broken
	}
	var sum, carry, c uint64
	sum, c = bits.Add64(uint64(p.stakeHeld), uint64(p.bondHeld), 0)
	carry += c
	sum, c = bits.Add64(sum, p.paidE8s, 0)
	carry += c
	sum, c = bits.Add64(sum, uint64(p.retained.SlashE8s), 0)
	carry += c
	sum, c = bits.Add64(sum, p.retained.DustE8s, 0)
	carry += c
	if carry != 0 || sum != p.depositedE8s {
		p.fail(invariantErr("pool %s: conservation broken after fact %d: deposits %d != stake held %d + bond held %d + transfers and fees %d + slash %d + dust %d",
			p.terms.PoolID, p.applied, p.depositedE8s, p.stakeHeld, p.bondHeld, p.paidE8s, p.retained.SlashE8s, p.retained.DustE8s))
		return p.broken
	}
	return nil
}
