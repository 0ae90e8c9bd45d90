package connect

import (
	"fmt"
	"time"

	"github.com/nodeshare/nodeshare/schemas"
)

// nodeFacts watches pool p's nodes (schemas.Pool.Nodes) in the NRC days
// of this poll: node_up on the first day a node is in the NRC's results
// while it was not up, node_down on the first day it is missing while it
// was up. A day is evidence only when the NRC had results for it (days
// holds only those). The node's state is its latest fact on
// dao.pool-facts.v1; days up to that fact's day are already accounted for.
//
// A pool's nodes are watched from its adoption on (a proposal_decided
// adopted fact on the topic or found in this poll): the lifecycle takes
// node_up only in state adopted, and a node_up published earlier would be
// dead-lettered and never repeated. For the same reason a node_up is never
// dated before the adoption: at is the day's midnight (UTC, RFC 3339), or
// the adoption's at when the node appears on the adoption's own day.
// node_down is at the midnight of the first day missing.
//
// Days the poll did not read are not seen: after an outage longer than
// Config.NRCRecentDays a change is dated on the first day read that shows
// it (later than it happened, never earlier).
func (c *Connector) nodeFacts(p schemas.Pool, pf *poolFacts, days []schemas.NodeRewardsDay, fetched string) ([]schemas.Fact, error) {
	adopted, ok := adoption(pf)
	if !ok {
		return nil, nil
	}
	adoptedAt, err := time.Parse(time.RFC3339Nano, adopted.At)
	if err != nil {
		return nil, fmt.Errorf("pool %s/%s: proposal_decided at %q: %w", p.DAO, p.PoolID, adopted.At, err)
	}
	adoptedDay := schemas.DateOf(adoptedAt).Time()
	present := make([]map[string]bool, len(days))
	for i, d := range days {
		present[i] = map[string]bool{}
		for _, n := range d.Nodes {
			present[i][n.NodeID] = true
		}
	}
	var out []schemas.Fact
	seen := map[string]bool{}
	for _, n := range p.Nodes {
		if seen[n.NodeID] || n.NodeID == "" {
			continue
		}
		seen[n.NodeID] = true
		up, after := false, time.Time{}
		if fs := pf.nodes[n.NodeID]; len(fs) > 0 {
			last := fs[len(fs)-1]
			up, after = last.Type == factNodeUp, schemas.DateOf(parseAt(last.At)).Time()
		}
		for i, d := range days {
			day := d.Day.Time()
			if day.Before(adoptedDay) || !day.After(after) {
				continue
			}
			f := schemas.PoolFact{DAO: p.DAO, PoolID: p.PoolID, NodeID: n.NodeID}
			switch {
			case present[i][n.NodeID] && !up:
				f.Type, f.At = factNodeUp, day.Format(time.RFC3339)
				if day.Before(adoptedAt) {
					f.At = adopted.At
				}
			case !present[i][n.NodeID] && up:
				f.Type, f.At = factNodeDown, day.Format(time.RFC3339)
			default:
				continue
			}
			up, after = f.Type == factNodeUp, day
			fact, err := c.poolFact(f, withFetchTime(d.Provenance, fetched))
			if err != nil {
				return out, err
			}
			out = append(out, fact)
			c.log.Info("pool node "+f.Type, "dao", p.DAO, "pool_id", p.PoolID, "node_id", n.NodeID, "at", f.At)
		}
	}
	return out, nil
}

// adoption is the pool's adopted proposal_decided fact for a proposal
// submitted for it, if there is one.
func adoption(pf *poolFacts) (schemas.PoolFact, bool) {
	for _, s := range pf.submitted {
		if d, ok := pf.decided[*s.ProposalID]; ok && d.Status == "adopted" {
			return d, true
		}
	}
	return schemas.PoolFact{}, false
}
