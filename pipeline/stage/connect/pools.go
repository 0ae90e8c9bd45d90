package connect

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nodeshare/nodeshare/schemas"
)

// What the stage reads of the pools: their terms on dao.pools.v1 and the
// lifecycle facts already on dao.pool-facts.v1.

// The fact types of dao.pool-facts.v1 (docs/pool-rules.md, schemas.PoolFact).
const (
	factProposalSubmitted = "proposal_submitted"
	factProposalDecided   = "proposal_decided"
	factNodeUp            = "node_up"
	factNodeDown          = "node_down"
	factTick              = "tick"
	factVoteOpened        = "vote_opened"
)

// poolsView is the pools with terms on dao.pools.v1.
type poolsView struct {
	// pools is the latest record of every pool whose latest record has
	// terms, by DAO and pool id.
	pools []schemas.Pool
	// accounts are the deposit and bond accounts of every record with
	// terms, older terms versions included (a block to an account a pool
	// once had is still the pool's), and their treasuries' default
	// accounts.
	accounts map[string]bool
	// treasuries are the treasuries' default accounts: every block that
	// moves their balance is kept (the NNS mints rewards to them), so
	// finance can add their balance up from the blocks.
	treasuries map[string]bool
}

// holds reports whether b is a transfer to or from one of the pools'
// accounts (a deposit, a bond, or money leaving the pool), or any block
// that moves a treasury's balance (a mint to it, a transfer, burn or
// approve from it).
func (v poolsView) holds(b schemas.LedgerBlock) bool {
	if v.treasuries[b.To] || v.treasuries[b.From] {
		return true
	}
	return b.Op == "transfer" && (v.accounts[b.To] || v.accounts[b.From])
}

// readPools reads dao.pools.v1. Records that do not decode are left out:
// the processor dead-letters them.
func (c *Connector) readPools(ctx context.Context) (poolsView, error) {
	topic := c.cfg.topic(schemas.TopicPools)
	msgs, err := c.p.Log.ReadAll(ctx, topic)
	if err != nil {
		return poolsView{}, fmt.Errorf("pools: read %s: %w", topic, err)
	}
	v := poolsView{accounts: map[string]bool{}, treasuries: map[string]bool{}}
	latest := map[string]schemas.Pool{}
	for _, m := range msgs {
		env, err := schemas.DecodeEnvelope(m.Value)
		if err != nil || env.Type != schemas.TypePool {
			continue
		}
		var p schemas.Pool
		if env.DecodePayload(schemas.TypePool, &p) != nil {
			continue
		}
		latest[schemas.PoolKey(p.DAO, p.PoolID)] = p
		if t := p.Terms; t != nil {
			for _, a := range []string{t.DepositAccount, t.BondAccount} {
				if a != "" {
					v.accounts[a] = true
				}
			}
			// The treasury's own account: the NNS mints the rewards to it
			// and the reward payouts leave it; finance reconciles it
			// (docs/finance.md).
			if treasury, err := schemas.AccountOf(t.Treasury, [32]byte{}); err == nil && t.Treasury != "" {
				v.treasuries[treasury.ID] = true
			}
		}
	}
	keys := make([]string, 0, len(latest))
	for k, p := range latest {
		if p.Terms != nil {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		v.pools = append(v.pools, latest[k])
	}
	return v, nil
}

// poolFacts are one pool's facts on dao.pool-facts.v1.
type poolFacts struct {
	// submitted are the proposal_submitted facts, decided the
	// proposal_decided ones by proposal id.
	submitted []schemas.PoolFact
	decided   map[uint64]schemas.PoolFact
	// nodes are each node's node_up and node_down facts, oldest first.
	nodes map[string][]schemas.PoolFact
	// voteCloses are the closes_at of the pool's opened votes.
	voteCloses []string
}

// readPoolFacts reads dao.pool-facts.v1, by pool key.
func (c *Connector) readPoolFacts(ctx context.Context) (map[string]*poolFacts, error) {
	topic := c.cfg.topic(schemas.TopicPoolFacts)
	msgs, err := c.p.Log.ReadAll(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("pools: read %s: %w", topic, err)
	}
	out := map[string]*poolFacts{}
	for _, m := range msgs {
		env, err := schemas.DecodeEnvelope(m.Value)
		if err != nil || env.Type != schemas.TypePoolFact {
			continue
		}
		var f schemas.PoolFact
		if env.DecodePayload(schemas.TypePoolFact, &f) != nil {
			continue
		}
		pf := out[schemas.PoolKey(f.DAO, f.PoolID)]
		if pf == nil {
			pf = &poolFacts{decided: map[uint64]schemas.PoolFact{}, nodes: map[string][]schemas.PoolFact{}}
			out[schemas.PoolKey(f.DAO, f.PoolID)] = pf
		}
		switch {
		case f.Type == factProposalSubmitted && f.ProposalID != nil:
			pf.submitted = append(pf.submitted, f)
		case f.Type == factProposalDecided && f.ProposalID != nil:
			pf.decided[*f.ProposalID] = f
		case f.Type == factNodeUp || f.Type == factNodeDown:
			pf.nodes[f.NodeID] = append(pf.nodes[f.NodeID], f)
		case f.Type == factVoteOpened && f.ClosesAt != "":
			pf.voteCloses = append(pf.voteCloses, f.ClosesAt)
		}
	}
	for _, pf := range out {
		for id, fs := range pf.nodes {
			slices.SortStableFunc(fs, func(a, b schemas.PoolFact) int { return parseAt(a.At).Compare(parseAt(b.At)) })
			pf.nodes[id] = fs
		}
	}
	return out, nil
}

// parseAt reads a fact's RFC 3339 time; a time that does not parse is the
// zero time (such a fact sorts first and moves nothing).
func parseAt(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}
	}
	return t
}

// pollPools is the pool watcher: for every pool with terms, the decision
// of each proposal submitted for it (proposals.go) and its nodes joining
// and leaving the NRC data of this poll (nodes.go). days are the NRC days
// read in this poll that had results, oldest first; nil when the NRC is
// not polled.
func (c *Connector) pollPools(ctx context.Context, days []schemas.NodeRewardsDay, fetched string) ([]schemas.Fact, error) {
	view, err := c.readPools(ctx)
	if err != nil {
		return nil, err
	}
	known, err := c.readPoolFacts(ctx)
	if err != nil {
		return nil, err
	}
	var out []schemas.Fact
	var errs []error
	for _, p := range view.pools {
		pf := known[schemas.PoolKey(p.DAO, p.PoolID)]
		if pf == nil {
			continue // nothing submitted: nothing to watch yet
		}
		fs, err := c.proposalFacts(ctx, p, pf, fetched)
		out = append(out, fs...)
		errs = append(errs, err)
		if days != nil {
			fs, err := c.nodeFacts(p, pf, days, fetched)
			out = append(out, fs...)
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// poolFact is f as a fact on dao.pool-facts.v1.
func (c *Connector) poolFact(f schemas.PoolFact, prov schemas.Provenance) (schemas.Fact, error) {
	return schemas.NewFact(c.cfg.topic(schemas.TopicPoolFacts), schemas.TypePoolFact, schemas.PoolFactKey(f), prov, f)
}
