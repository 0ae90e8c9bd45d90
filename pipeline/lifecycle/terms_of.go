package lifecycle

import (
	"fmt"

	"github.com/nodeshare/nodeshare/pipeline/money"
	"github.com/nodeshare/nodeshare/schemas"
)

// TermsOf is the lifecycle terms of a pool record (its schemas.PoolTerms,
// the wire form on dao.pools.v1), checked as New checks them: an error
// names the place (terms.funding_deadline, terms.target_e8s, ...). p must
// carry terms.
func TermsOf(p schemas.Pool) (Terms, error) {
	t := p.Terms
	if t == nil {
		return Terms{}, fmt.Errorf("terms: pool %s has none", p.PoolID)
	}
	deadline, err := ParseTime(t.FundingDeadline)
	if err != nil {
		return Terms{}, fmt.Errorf("terms.funding_deadline: %w", err)
	}
	lockup, err := ParseTime(t.LockupUntil)
	if err != nil {
		return Terms{}, fmt.Errorf("terms.lockup_until: %w", err)
	}
	terms := Terms{
		PoolID: p.PoolID, DepositAccount: t.DepositAccount, TargetE8s: money.E8s(t.TargetE8s),
		MinContributionE8s: money.E8s(t.MinContributionE8s), MaxSponsorBps: money.Bps(t.MaxSponsorBps),
		FundingDeadline: deadline, Purchaser: t.Purchaser, SlashBps: money.Bps(t.SlashBps), BondE8s: money.E8s(t.BondE8s),
		BondAccount: t.BondAccount, LockupUntil: lockup, MaxVotingBps: money.Bps(t.MaxVotingBps),
		LedgerFeeE8s: money.E8s(t.LedgerFeeE8s), Identities: t.Identities,
	}
	if _, err := New(terms); err != nil {
		return Terms{}, err
	}
	return terms, nil
}
