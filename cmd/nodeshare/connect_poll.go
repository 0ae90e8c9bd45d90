package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/aviate-labs/agent-go/principal"
	"github.com/shopspring/decimal"

	"github.com/nodeshare/nodeshare/connectors/dashboard"
	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/pipeline/entitle"
	"github.com/nodeshare/nodeshare/schemas"
)

// pollStats is what one poll did.
type pollStats struct {
	publishStats
	nrcQueried int
	nrcMissing int
	alarms     int
}

// nnsRewardPeriodSeconds is Governance's NODE_PROVIDER_REWARD_PERIOD_SECONDS.
const nnsRewardPeriodSeconds = 2_629_800

// maxPeriodDays bounds the NRC days of one reward period.
const maxPeriodDays = 62

// call runs f with a per-call timeout, retrying transient failures (IC or
// dashboard) with a doubling backoff, up to cc.Attempts tries.
func (c *connector) call(ctx context.Context, what string, f func(context.Context) error) error {
	wait := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, c.cc.CallTimeout)
		err := f(cctx)
		cancel()
		if err == nil {
			return nil
		}
		transient := ic.IsTransient(err) || dashboard.IsTransient(err)
		if !transient || attempt >= c.cc.Attempts || ctx.Err() != nil {
			return fmt.Errorf("%s: %w (attempt %d of %d)", what, err, attempt, c.cc.Attempts)
		}
		c.log.Warn("transient failure, retrying", "call", what, "attempt", attempt, "wait", wait.String(), "error", err.Error())
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s: %w (stopped: %v)", what, err, ctx.Err())
		case <-t.C:
		}
		wait = min(wait*2, 30*time.Second)
	}
}

// provenance of an IC fact.
func (c *connector) icProv(canister principal.Principal, method string, certNanos uint64, fetched string) schemas.Provenance {
	return schemas.Provenance{Source: "ic", Canister: canister.String(), Method: method, CertTimeNanos: certNanos, FetchTime: fetched}
}

func newFact(topic, typ, key string, prov schemas.Provenance, payload any) (fact, error) {
	env, err := schemas.NewEnvelope(typ, key, prov, payload)
	if err != nil {
		return fact{}, err
	}
	return fact{topic: topic, key: key, env: env}, nil
}

// poll reads every source once and publishes the new facts. A failing
// source does not stop the others; the errors are joined.
func (c *connector) poll(ctx context.Context) (pollStats, error) {
	var st pollStats
	var errs []error
	var facts []fact
	fetched := c.now().UTC().Format(time.RFC3339Nano)

	rewards, method, rewardsErr := c.pollRewards(ctx)
	errs = append(errs, rewardsErr)
	for _, m := range rewards {
		fs, err := c.rewardFacts(m, method, fetched)
		facts = append(facts, fs...)
		errs = append(errs, err)
	}

	spot, avg, fs, err := c.pollCMC(ctx, fetched)
	facts = append(facts, fs...)
	errs = append(errs, err)

	if c.dash != nil {
		fs, alarms, err := c.pollDashboard(ctx, spot, avg, fetched)
		facts = append(facts, fs...)
		st.alarms = alarms
		errs = append(errs, err)
	}

	if !c.cc.NRCOff {
		fs, queried, missing, err := c.pollNRC(ctx, rewards, fetched)
		facts = append(facts, fs...)
		st.nrcQueried, st.nrcMissing = queried, missing
		errs = append(errs, err)
	}

	ps, err := publishIfNew(ctx, c.brokers, c.prod, facts)
	st.publishStats = ps
	errs = append(errs, err)
	// Only a poll whose rewards were read and published moves the resume
	// point; otherwise the next poll pages the history again.
	if err == nil && rewardsErr == nil {
		for _, m := range rewards {
			c.newestReward = max(c.newestReward, m.TimestampSeconds)
		}
		c.polled = true
	}
	return st, errors.Join(errs...)
}

// pollRewards returns Governance's reward events: on the first poll the
// history since --since-seconds (or since the newest reward already on the
// topic), paging list_node_provider_rewards; afterwards the most recent
// event, paging again only when events were missed.
func (c *connector) pollRewards(ctx context.Context) ([]ic.MonthlyNodeProviderRewards, string, error) {
	var out []ic.MonthlyNodeProviderRewards
	if !c.polled {
		start := c.cc.SinceSeconds
		newest, err := c.newestRewardOnTopic(ctx)
		if err != nil {
			return nil, "", err
		}
		start = max(start, newest)
		err = c.call(ctx, "governance list_node_provider_rewards", func(ctx context.Context) error {
			var err error
			out, err = c.ic.NodeProviderRewardsSince(ctx, start)
			return err
		})
		return out, "list_node_provider_rewards", err
	}
	var latest *ic.MonthlyNodeProviderRewards
	err := c.call(ctx, "governance get_most_recent_monthly_node_provider_rewards", func(ctx context.Context) error {
		var err error
		latest, err = c.ic.MostRecentNodeProviderRewards(ctx)
		return err
	})
	if err != nil || latest == nil {
		return nil, "get_most_recent_monthly_node_provider_rewards", err
	}
	if c.newestReward == 0 || latest.TimestampSeconds <= c.newestReward || latest.TimestampSeconds-c.newestReward <= nnsRewardPeriodSeconds*3/2 {
		return []ic.MonthlyNodeProviderRewards{*latest}, "get_most_recent_monthly_node_provider_rewards", nil
	}
	// More than one period since the last poll: fetch what was missed.
	err = c.call(ctx, "governance list_node_provider_rewards", func(ctx context.Context) error {
		var err error
		out, err = c.ic.NodeProviderRewardsSince(ctx, c.newestReward)
		return err
	})
	return out, "list_node_provider_rewards", err
}

func (c *connector) newestRewardOnTopic(ctx context.Context) (uint64, error) {
	msgs, err := readAllSettled(ctx, c.brokers, c.cc.topic(schemas.TopicNodeRewards))
	if err != nil {
		return 0, err
	}
	var newest uint64
	for _, m := range msgs {
		env, err := schemas.DecodeEnvelope(m.Value)
		if err != nil || env.Provenance.Source != "ic" {
			continue
		}
		var r schemas.NodeReward
		if env.DecodePayload(schemas.TypeNodeReward, &r) == nil {
			newest = max(newest, r.TimestampSeconds)
		}
	}
	return newest, nil
}

// rewardAccount is where Governance minted the reward: the ICRC-1 text of
// the provider's default account when the mint went there (or no account
// was named), else the legacy 64-hex account identifier.
func rewardAccount(r ic.NodeProviderReward) string {
	def := ic.Account{Owner: r.NodeProvider.ID}
	switch {
	case r.ToNeuron:
		return ""
	case r.ToAccount == nil:
		return ic.AccountText(def)
	case *r.ToAccount == ic.LegacyAccountID(def):
		return ic.AccountText(def)
	}
	return r.ToAccount.String()
}

// rewardFacts maps one MonthlyNodeProviderRewards to one NodeReward per
// RewardNodeProvider entry, keyed <np principal>/<timestamp seconds>.
func (c *connector) rewardFacts(m ic.MonthlyNodeProviderRewards, method, fetched string) ([]fact, error) {
	var out []fact
	var errs []error
	prov := c.icProv(ic.GovernanceCanisterID, method, 0, fetched)
	for i, r := range m.Rewards {
		np := r.NodeProvider.ID
		if len(np.Raw) == 0 {
			errs = append(errs, fmt.Errorf("governance reward %d entry %d: no node_provider id: skipped", m.TimestampSeconds, i))
			continue
		}
		if r.AmountE8s > math.MaxInt64 || m.XDRPermyriadPerICP > math.MaxInt64 {
			errs = append(errs, fmt.Errorf("governance reward %d provider %s: amount or rate does not fit in int64: skipped", m.TimestampSeconds, np))
			continue
		}
		nr := schemas.NodeReward{
			NodeProvider:       np.String(),
			TimestampSeconds:   m.TimestampSeconds,
			AmountE8s:          int64(r.AmountE8s),
			XDRPermyriadPerICP: int64(m.XDRPermyriadPerICP),
			RewardAccount:      rewardAccount(r),
		}
		if m.RegistryVersion != nil {
			nr.RegistryVersion = *m.RegistryVersion
		}
		if m.XDRPermyriadPerICP == 0 {
			c.log.Warn("governance reported no xdr_conversion_rate for the reward: published with rate 0, the entitlement processor will dead-letter it", "node_provider", nr.NodeProvider, "timestamp_seconds", m.TimestampSeconds)
		}
		if r.ToNeuron {
			c.log.Warn("reward minted to a neuron, not an account", "node_provider", nr.NodeProvider, "timestamp_seconds", m.TimestampSeconds)
		}
		f, err := newFact(c.cc.topic(schemas.TopicNodeRewards), schemas.TypeNodeReward, entitle.RewardEventID(nr), prov, nr)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, f)
	}
	return out, errors.Join(errs...)
}

// pollCMC reads the certified spot rate and 30-day average.
func (c *connector) pollCMC(ctx context.Context, fetched string) (spot, avg *ic.ICPXDRRate, out []fact, err error) {
	var errs []error
	for _, k := range []struct {
		kind, method string
		read         func(context.Context) (ic.ICPXDRRate, error)
		dst          **ic.ICPXDRRate
	}{
		{"spot", "get_icp_xdr_conversion_rate", c.ic.ICPXDRRate, &spot},
		{"avg30", "get_average_icp_xdr_conversion_rate", c.ic.AverageICPXDRRate, &avg},
	} {
		var r ic.ICPXDRRate
		if err := c.call(ctx, "cmc "+k.method, func(ctx context.Context) error {
			var err error
			r, err = k.read(ctx)
			return err
		}); err != nil {
			errs = append(errs, err)
			continue
		}
		*k.dst = &r
		if r.XDRPermyriadPerICP > math.MaxInt64 || r.XDRPermyriadPerICP == 0 {
			errs = append(errs, fmt.Errorf("cmc %s: rate %d out of range: not published", k.method, r.XDRPermyriadPerICP))
			continue
		}
		rate := schemas.Rate{Kind: k.kind, TimestampSeconds: r.TimestampSeconds, XDRPermyriadPerICP: int64(r.XDRPermyriadPerICP)}
		f, err := newFact(c.cc.topic(schemas.TopicRates), schemas.TypeRate, fmt.Sprintf("cmc/%s/%d", k.kind, r.TimestampSeconds),
			c.icProv(ic.CMCCanisterID, k.method, r.CertTimeNanos, fetched), rate)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, f)
	}
	return spot, avg, out, errors.Join(errs...)
}

// pollDashboard reads the dashboard's spot and average rates, publishes
// the newest points (XDR permyriad truncated to an integer, like the CMC's
// unit) and compares them with the certified CMC rates: a difference beyond
// the tolerance is a source_mismatch alarm.
func (c *connector) pollDashboard(ctx context.Context, spot, avg *ic.ICPXDRRate, fetched string) ([]fact, int, error) {
	var out []fact
	var errs []error
	alarms := 0
	for _, k := range []struct {
		kind, path string
		read       func(context.Context, time.Time, time.Time, int) ([]dashboard.RatePoint, error)
		cmc        *ic.ICPXDRRate
	}{
		{"spot", dashboard.PathRates, c.dash.Rates, spot},
		{"avg30", dashboard.PathAverageRates, c.dash.AverageRates, avg},
	} {
		var start, end time.Time
		if k.cmc != nil {
			at := time.Unix(int64(k.cmc.TimestampSeconds), 0)
			start, end = at.Add(-c.cc.Tolerance.MaxSkew), at.Add(c.cc.Tolerance.MaxSkew)
		}
		// The dashboard client retries transient failures itself.
		cctx, cancel := context.WithTimeout(ctx, time.Duration(c.cc.Attempts+1)*c.cc.CallTimeout)
		pts, err := k.read(cctx, start, end, 0)
		cancel()
		if err != nil {
			errs = append(errs, fmt.Errorf("dashboard %s: %w", k.kind, err))
			continue
		}
		prov := schemas.Provenance{Source: "dashboard", Method: "GET " + k.path, FetchTime: fetched}
		if p, ok := dashboard.Latest(pts); ok {
			v := p.XDRPermyriadPerICP.Truncate(0)
			if v.IsPositive() && v.LessThan(decimal.NewFromInt(math.MaxInt64)) {
				rate := schemas.Rate{Kind: k.kind, TimestampSeconds: p.TimestampSeconds, XDRPermyriadPerICP: v.IntPart()}
				f, err := newFact(c.cc.topic(schemas.TopicRates), schemas.TypeRate, fmt.Sprintf("dashboard/%s/%d", k.kind, p.TimestampSeconds), prov, rate)
				if err != nil {
					errs = append(errs, err)
				} else {
					out = append(out, f)
				}
			}
		}
		if k.cmc == nil {
			continue // nothing certified to compare with
		}
		cmp := dashboard.Compare(k.cmc.TimestampSeconds, k.cmc.XDRPermyriadPerICP, pts, c.cc.Tolerance)
		switch {
		case cmp.Mismatch:
			alarms++
			a := schemas.SourceMismatch{Kind: k.kind, CMCTimestampSeconds: cmp.CMCTimestampSeconds, CMCXDRPermyriadPerICP: cmp.CMCXDRPermyriadPerICP,
				DashboardTimestampSeconds: cmp.DashboardTimestampSeconds, DashboardXDRPermyriadPerICP: cmp.DashboardXDRPermyriad.String(),
				DiffBps: cmp.DiffBps.StringFixed(2), ToleranceBps: c.cc.Tolerance.MaxDiffBps, Detail: cmp.Reason}
			key := fmt.Sprintf("%s/%d/%d", k.kind, cmp.CMCTimestampSeconds, cmp.DashboardTimestampSeconds)
			f, err := newFact(c.cc.topic(schemas.TopicSourceAlarms), schemas.TypeSourceMismatch, key,
				schemas.Provenance{Source: "nodeshare", Method: "connect cross-check cmc/dashboard", FetchTime: fetched}, a)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			out = append(out, f)
			c.log.Error("source mismatch: dashboard disagrees with the certified CMC rate", "kind", k.kind, "cmc_xdr_permyriad_per_icp", cmp.CMCXDRPermyriadPerICP,
				"dashboard_xdr_permyriad_per_icp", cmp.DashboardXDRPermyriad.String(), "diff_bps", cmp.DiffBps.StringFixed(2), "tolerance_bps", c.cc.Tolerance.MaxDiffBps)
		case !cmp.Compared:
			c.log.Warn("rates not compared", "kind", k.kind, "reason", cmp.Reason)
		}
	}
	return out, alarms, errors.Join(errs...)
}

// periodDays is the inclusive UTC day range of a reward period: the
// event's start_date..end_date, or, when Governance did not record them,
// the 2,629,800 s before its timestamp (last day = the day before).
func periodDays(m ic.MonthlyNodeProviderRewards) (from, to ic.Date) {
	if m.StartDate != nil && m.EndDate != nil {
		return *m.StartDate, *m.EndDate
	}
	at := time.Unix(int64(m.TimestampSeconds), 0).UTC()
	return ic.DateOf(at.Add(-nnsRewardPeriodSeconds * time.Second)), ic.DateOf(at.AddDate(0, 0, -1))
}

func daysIn(from, to ic.Date) []ic.Date {
	var out []ic.Date
	for t := from.Time(); !t.After(to.Time()) && len(out) < maxPeriodDays; t = t.AddDate(0, 0, 1) {
		out = append(out, ic.DateOf(t))
	}
	return out
}

// f64Text is the shortest decimal text that reads back to f.
func f64Text(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// pollNRC reads the NRC for the days of this poll's reward periods and the
// last NRCRecentDays days, and publishes per-node daily results and, for
// every period the NRC covers completely, each node's period weight.
func (c *connector) pollNRC(ctx context.Context, rewards []ic.MonthlyNodeProviderRewards, fetched string) ([]fact, int, int, error) {
	want := map[string]bool{}
	for _, p := range c.cc.NRCProviders {
		want[p] = true
	}
	keep := func(np string) bool { return len(want) == 0 || want[np] }

	// A period whose weights are on the topic for every provider of the
	// reward is done: its days are not queried again.
	weighed := map[string]bool{} // "<np>/<reward ts>"
	msgs, err := readAllSettled(ctx, c.brokers, c.cc.topic(schemas.TopicNodePeriodWeights))
	if err != nil {
		return nil, 0, 0, err
	}
	for _, m := range msgs {
		k := string(m.Key)
		if i := strings.LastIndexByte(k, '/'); i > 0 {
			weighed[k[:i]] = true
		}
	}
	done := func(m ic.MonthlyNodeProviderRewards) bool {
		for _, r := range m.Rewards {
			np := r.NodeProvider.ID.String()
			if len(r.NodeProvider.ID.Raw) > 0 && keep(np) && !weighed[fmt.Sprintf("%s/%d", np, m.TimestampSeconds)] {
				return false
			}
		}
		return true
	}

	days := map[ic.Date]bool{}
	today := ic.DateOf(c.now())
	for i := 1; i <= c.cc.NRCRecentDays; i++ {
		days[ic.DateOf(today.Time().AddDate(0, 0, -i))] = true
	}
	var pending []ic.MonthlyNodeProviderRewards
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
	sorted := make([]ic.Date, 0, len(days))
	for d := range days {
		sorted = append(sorted, d)
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Time().Before(sorted[j].Time()) })

	results := map[ic.Date]*ic.DailyResults{}
	missing := 0
	var errs []error
	for _, d := range sorted {
		var res *ic.DailyResults
		err := c.call(ctx, "nrc get_node_providers_rewards_calculation "+d.String(), func(ctx context.Context) error {
			var err error
			res, err = c.ic.NodeProvidersRewardsCalculation(ctx, d)
			return err
		})
		if ic.IsNRCError(err) {
			missing++
			c.log.Debug("nrc has no results for the day", "day", d.String(), "reason", err.Error())
			continue
		}
		if err != nil {
			errs = append(errs, err)
			break // the canister or the network is failing: the next poll retries
		}
		results[d] = res
	}

	var out []fact
	prov := c.icProv(ic.NRCCanisterID, "get_node_providers_rewards_calculation", 0, fetched)
	for _, d := range sorted {
		res := results[d]
		if res == nil {
			continue
		}
		for _, p := range res.Providers {
			np := p.NodeProvider.String()
			if !keep(np) {
				continue
			}
			for _, n := range p.Nodes {
				nd := schemas.NodeDailyReward{
					Day: d.String(), NodeProvider: np, NodeID: n.NodeID.String(), NodeRewardType: n.NodeRewardType, Region: n.Region, DCID: n.DCID,
					SubnetMember: n.SubnetMember, NumBlocksProposed: n.NumBlocksProposed, NumBlocksFailed: n.NumBlocksFailed,
					OriginalFailureRate: f64Text(n.OriginalFailureRate), RelativeFailureRate: f64Text(n.RelativeFailureRate),
					SubnetAssignedFailureRate: f64Text(n.SubnetAssignedFailureRate), ExtrapolatedFailureRate: f64Text(n.ExtrapolatedFailureRate),
					PerformanceMultiplier: f64Text(n.PerformanceMultiplier), RewardsReduction: f64Text(n.RewardsReduction),
					BaseXDRPermyriad: f64Text(n.BaseXDRPermyriad), AdjustedXDRPermyriad: f64Text(n.AdjustedXDRPermyriad),
				}
				if n.Subnet != nil {
					nd.Subnet = n.Subnet.String()
				}
				key := fmt.Sprintf("%s/%s/%s", np, nd.NodeID, nd.Day)
				f, err := newFact(c.cc.topic(schemas.TopicNodeDailyRewards), schemas.TypeNodeDailyReward, key, prov, nd)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				out = append(out, f)
			}
		}
	}

	// Period weights: only for periods whose every day has results.
	wprov := schemas.Provenance{Source: "ic", Canister: ic.NRCCanisterID.String(), Method: "get_node_providers_rewards_calculation (sum over the period's days)", FetchTime: fetched}
	for _, m := range pending {
		from, to := periodDays(m)
		pdays := daysIn(from, to)
		complete := len(pdays) > 0
		for _, d := range pdays {
			if results[d] == nil {
				complete = false
			}
		}
		if !complete {
			c.log.Info("period weights not published: the NRC lacks days of the period", "reward_timestamp_seconds", m.TimestampSeconds, "from", from.String(), "to", to.String())
			continue
		}
		for _, r := range m.Rewards {
			np := r.NodeProvider.ID.String()
			if len(r.NodeProvider.ID.Raw) == 0 || !keep(np) {
				continue
			}
			sums := map[string]decimal.Decimal{}
			count := map[string]int{}
			for _, d := range pdays {
				for _, p := range results[d].Providers {
					if p.NodeProvider.String() != np {
						continue
					}
					for _, n := range p.Nodes {
						v, err := decimal.NewFromString(f64Text(n.AdjustedXDRPermyriad))
						if err != nil {
							errs = append(errs, fmt.Errorf("nrc %s node %s: %w", d, n.NodeID, err))
							continue
						}
						id := n.NodeID.String()
						sums[id] = sums[id].Add(v)
						count[id]++
					}
				}
			}
			ids := make([]string, 0, len(sums))
			for id := range sums {
				ids = append(ids, id)
			}
			sort.Strings(ids)
			for _, id := range ids {
				w := sums[id].Truncate(0)
				if !w.LessThan(decimal.NewFromInt(math.MaxInt64)) {
					errs = append(errs, fmt.Errorf("nrc weight of node %s overflows int64", id))
					continue
				}
				rewardID := entitle.RewardEventID(schemas.NodeReward{NodeProvider: np, TimestampSeconds: m.TimestampSeconds})
				pw := schemas.NodePeriodWeight{NodeProvider: np, RewardTimestampSeconds: m.TimestampSeconds, RewardEventID: rewardID, NodeID: id,
					FromDay: from.String(), ToDay: to.String(), Days: len(pdays), DaysWithNode: count[id], AdjustedSum: sums[id].String(), WeightXDRPermyriad: w.IntPart()}
				f, err := newFact(c.cc.topic(schemas.TopicNodePeriodWeights), schemas.TypeNodePeriodWeight, rewardID+"/"+id, wprov, pw)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				out = append(out, f)
			}
		}
	}
	return out, len(sorted), missing, errors.Join(errs...)
}
