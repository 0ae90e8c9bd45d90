package connect

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/nodeshare/nodeshare/schemas"
)

// maxPeriodDays bounds the NRC days of one reward period.
const maxPeriodDays = 62

// periodDays is the inclusive UTC day range of a reward period: the
// event's start_date..end_date, or, when Governance did not record them,
// the 2,629,800 s before its timestamp (last day = the day before).
func periodDays(m schemas.RewardEvent) (from, to schemas.Date) {
	if m.StartDate != nil && m.EndDate != nil {
		return *m.StartDate, *m.EndDate
	}
	at := time.Unix(int64(m.TimestampSeconds), 0).UTC()
	return schemas.DateOf(at.Add(-nnsRewardPeriodSeconds * time.Second)), schemas.DateOf(at.AddDate(0, 0, -1))
}

// daysIn lists from..to inclusive, at most maxPeriodDays.
func daysIn(from, to schemas.Date) []schemas.Date {
	var out []schemas.Date
	for t := from.Time(); !t.After(to.Time()) && len(out) < maxPeriodDays; t = t.AddDate(0, 0, 1) {
		out = append(out, schemas.DateOf(t))
	}
	return out
}

func (c *Connector) keep(np string) bool { return len(c.want) == 0 || c.want[np] }

// pollNRC reads the NRC for the days of this poll's reward periods and the
// last Config.NRCRecentDays complete days, and publishes the per-node
// daily results and, for every period the NRC covers completely, each
// node's period weight. It returns the facts, the days the NRC answered
// with results (oldest first, every provider's nodes: the pool watcher's
// evidence), the days queried and the days the NRC had no results for.
func (c *Connector) pollNRC(ctx context.Context, rewards []schemas.RewardEvent, fetched string) ([]schemas.Fact, []schemas.NodeRewardsDay, int, int, error) {
	// A period whose weights are on the topic for every provider of the
	// reward is done: its days are not queried again. A weight's key is
	// schemas.NodePeriodWeightKey: the reward's key, "/", the node id.
	weighed := map[string]bool{}
	msgs, err := c.p.Log.ReadAll(ctx, c.cfg.topic(schemas.TopicNodePeriodWeights))
	if err != nil {
		return nil, nil, 0, 0, err
	}
	for _, m := range msgs {
		k := string(m.Key)
		if i := strings.LastIndexByte(k, '/'); i > 0 {
			weighed[k[:i]] = true
		}
	}
	done := func(m schemas.RewardEvent) bool {
		for _, r := range m.Rewards {
			if r.NodeProvider != "" && c.keep(r.NodeProvider) && !weighed[schemas.NodeRewardKey(r.NodeProvider, m.TimestampSeconds)] {
				return false
			}
		}
		return true
	}

	days := map[schemas.Date]bool{}
	today := schemas.DateOf(c.clock.Now())
	for i := 1; i <= c.cfg.NRCRecentDays; i++ {
		days[schemas.DateOf(today.Time().AddDate(0, 0, -i))] = true
	}
	var pending []schemas.RewardEvent
	for _, m := range rewards {
		if done(m) {
			continue
		}
		pending = append(pending, m)
		for _, d := range daysIn(periodDays(m)) {
			if d.Time().Before(today.Time()) {
				days[d] = true
			}
		}
	}
	sorted := make([]schemas.Date, 0, len(days))
	for d := range days {
		sorted = append(sorted, d)
	}
	slices.SortFunc(sorted, func(a, b schemas.Date) int { return a.Time().Compare(b.Time()) })

	results := map[schemas.Date]*schemas.NodeRewardsDay{}
	missing := 0
	var errs []error
	for _, d := range sorted {
		var res schemas.NodeRewardsDay
		err := c.call(ctx, "nrc get_node_providers_rewards_calculation "+d.String(), func(ctx context.Context) error {
			var err error
			res, err = c.p.NRC.NodeRewards(ctx, d)
			return err
		})
		if err != nil {
			errs = append(errs, err)
			break // the canister or the network is failing: the next poll retries
		}
		if res.Missing != "" {
			missing++
			c.log.Debug("nrc has no results for the day", "day", d.String(), "reason", res.Missing)
			continue
		}
		results[d] = &res
	}

	var out []schemas.Fact
	var answered []schemas.NodeRewardsDay
	for _, d := range sorted {
		res := results[d]
		if res == nil {
			continue
		}
		answered = append(answered, *res)
		prov := withFetchTime(res.Provenance, fetched)
		for _, n := range res.Nodes {
			if !c.keep(n.NodeProvider) {
				continue
			}
			f, err := schemas.NewFact(c.cfg.topic(schemas.TopicNodeDailyRewards), schemas.TypeNodeDailyReward,
				schemas.NodeDailyRewardKey(n.NodeProvider, n.NodeID, n.Day), prov, n)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			out = append(out, f)
		}
	}

	// Period weights: only for periods whose every day has results.
	for _, m := range pending {
		from, to := periodDays(m)
		pdays := daysIn(from, to)
		answers := make([]schemas.NodeRewardsDay, 0, len(pdays))
		for _, d := range pdays {
			if results[d] == nil {
				break
			}
			answers = append(answers, *results[d])
		}
		if len(pdays) == 0 || len(answers) != len(pdays) {
			c.log.Info("period weights not published: the NRC lacks days of the period", "reward_timestamp_seconds", m.TimestampSeconds, "from", from.String(), "to", to.String())
			continue
		}
		prov := withFetchTime(answers[0].Provenance, fetched)
		prov.Method += " (sum over the period's days)"
		for _, r := range m.Rewards {
			if r.NodeProvider == "" || !c.keep(r.NodeProvider) {
				continue
			}
			ws, err := periodWeights(r.NodeProvider, m.TimestampSeconds, from, to, answers)
			errs = append(errs, err)
			for _, w := range ws {
				f, err := schemas.NewFact(c.cfg.topic(schemas.TopicNodePeriodWeights), schemas.TypeNodePeriodWeight,
					schemas.NodePeriodWeightKey(w.NodeProvider, w.RewardTimestampSeconds, w.NodeID), prov, w)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				out = append(out, f)
			}
		}
	}
	return out, answered, len(sorted), missing, errors.Join(errs...)
}
