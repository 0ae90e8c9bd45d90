package connect

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/nodeshare/nodeshare/schemas"
)

// proposalFacts asks Governance about every proposal submitted for pool p
// (a proposal_submitted fact, which the DAO publishes with `nodeshare pools
// propose`) that has no proposal_decided fact yet, and returns the
// decisions that are final (Proposals.ProposalDecision: executed as
// adopted, rejected, failed; an adopted proposal not yet executed waits,
// since the lifecycle takes one decision per proposal, only in state
// proposed). A decided proposal is not asked about again.
//
// The lifecycle takes facts in time order, so a decision is never dated
// before its submission: when Governance's time is earlier than the
// submission's at (the DAO recorded the submission late), the decision is
// published at the submission's at, and logged.
func (c *Connector) proposalFacts(ctx context.Context, p schemas.Pool, pf *poolFacts, fetched string) ([]schemas.Fact, error) {
	subs := slices.Clone(pf.submitted)
	slices.SortFunc(subs, func(a, b schemas.PoolFact) int { return cmp.Compare(*a.ProposalID, *b.ProposalID) })
	var out []schemas.Fact
	var errs []error
	for _, sub := range subs {
		id := *sub.ProposalID
		if _, ok := pf.decided[id]; ok {
			continue
		}
		var d *schemas.PoolFact
		var prov schemas.Provenance
		err := c.call(ctx, fmt.Sprintf("governance get_proposal_info %d", id), func(ctx context.Context) error {
			var err error
			d, prov, err = c.p.Proposals.ProposalDecision(ctx, id)
			return err
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("pool %s/%s: %w", p.DAO, p.PoolID, err))
			continue
		}
		if d == nil {
			c.log.Debug("proposal not decided yet", "dao", p.DAO, "pool_id", p.PoolID, "proposal_id", id)
			continue
		}
		f := schemas.PoolFact{DAO: p.DAO, PoolID: p.PoolID, Type: factProposalDecided, At: d.At, ProposalID: &id, Status: d.Status}
		if s := parseAt(sub.At); !s.IsZero() && parseAt(f.At).Before(s) {
			c.log.Warn("governance decided the proposal before the DAO's recorded submission: the decision is dated at the submission",
				"dao", p.DAO, "pool_id", p.PoolID, "proposal_id", id, "decided_at", f.At, "submitted_at", sub.At)
			f.At = sub.At
		}
		fact, err := c.poolFact(f, withFetchTime(prov, fetched))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, fact)
		pf.decided[id] = f
	}
	return out, errors.Join(errs...)
}
