package connect

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/nodeshare/nodeshare/schemas"
)

// nnsRewardPeriodSeconds is Governance's NODE_PROVIDER_REWARD_PERIOD_SECONDS.
const nnsRewardPeriodSeconds = 2_629_800

// pollRewards returns Governance's reward events: on the first poll the
// history since Config.SinceSeconds (or since the newest reward already
// on the topic, whichever is later), paged; afterwards the most recent
// event, paging again only when more than one period was missed.
func (c *Connector) pollRewards(ctx context.Context) ([]schemas.RewardEvent, error) {
	if !c.polled {
		newest, err := c.newestRewardOnTopic(ctx)
		if err != nil {
			return nil, err
		}
		return c.rewardsSince(ctx, max(c.cfg.SinceSeconds, newest))
	}
	var latest *schemas.RewardEvent
	err := c.call(ctx, "governance get_most_recent_monthly_node_provider_rewards", func(ctx context.Context) error {
		var err error
		latest, err = c.p.Governance.MostRecentRewardEvent(ctx)
		return err
	})
	if err != nil || latest == nil {
		return nil, err
	}
	if c.newestReward == 0 || latest.TimestampSeconds <= c.newestReward || latest.TimestampSeconds-c.newestReward <= nnsRewardPeriodSeconds*3/2 {
		return []schemas.RewardEvent{*latest}, nil
	}
	// More than one period since the last poll: fetch what was missed.
	return c.rewardsSince(ctx, c.newestReward)
}

// rewardsSince returns every reward event with timestamp >= start, newest
// first, paging by lowering the end of the date filter (Governance has no
// cursor). Each page is one call, retried on its own. On an error it
// returns the pages read so far with the error.
func (c *Connector) rewardsSince(ctx context.Context, start uint64) ([]schemas.RewardEvent, error) {
	var out []schemas.RewardEvent
	var end *uint64
	for {
		var page []schemas.RewardEvent
		var full bool
		err := c.call(ctx, "governance list_node_provider_rewards", func(ctx context.Context) error {
			var err error
			page, full, err = c.p.Governance.RewardEvents(ctx, start, end)
			return err
		})
		if err != nil {
			return out, err
		}
		out = append(out, page...)
		if !full || len(page) == 0 {
			return out, nil
		}
		oldest := page[len(page)-1].TimestampSeconds
		if oldest == 0 || oldest <= start {
			return out, nil
		}
		// The end only moves down, so paging ends.
		if end != nil && oldest > *end {
			return out, fmt.Errorf("governance list_node_provider_rewards: the page below %d ends at %d, not below it: paging stopped", *end, oldest)
		}
		next := oldest - 1
		end = &next
	}
}

// newestRewardOnTopic is the newest reward timestamp the connector (source
// ic) already published, 0 when none.
func (c *Connector) newestRewardOnTopic(ctx context.Context) (uint64, error) {
	msgs, err := c.p.Log.ReadAll(ctx, c.cfg.topic(schemas.TopicNodeRewards))
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

// rewardFacts maps one reward event to one NodeReward per provider entry,
// keyed schemas.NodeRewardKey. An entry that cannot be mapped is left out
// and reported; the others are still published.
func (c *Connector) rewardFacts(m schemas.RewardEvent, fetched string) ([]schemas.Fact, error) {
	var out []schemas.Fact
	var errs []error
	prov := withFetchTime(m.Provenance, fetched)
	for i, r := range m.Rewards {
		if r.NodeProvider == "" {
			errs = append(errs, fmt.Errorf("governance reward %d entry %d: no node_provider id: skipped", m.TimestampSeconds, i))
			continue
		}
		if r.AmountE8s > math.MaxInt64 || m.XDRPermyriadPerICP > math.MaxInt64 {
			errs = append(errs, fmt.Errorf("governance reward %d provider %s: amount or rate does not fit in int64: skipped", m.TimestampSeconds, r.NodeProvider))
			continue
		}
		nr := schemas.NodeReward{
			NodeProvider:       r.NodeProvider,
			TimestampSeconds:   m.TimestampSeconds,
			AmountE8s:          int64(r.AmountE8s),
			XDRPermyriadPerICP: int64(m.XDRPermyriadPerICP),
			RewardAccount:      r.RewardAccount,
		}
		if m.RegistryVersion != nil {
			nr.RegistryVersion = *m.RegistryVersion
		}
		if m.XDRPermyriadPerICP == 0 {
			c.log.Warn("governance reported no xdr_conversion_rate for the reward: published with rate 0, the entitlement processor will dead-letter it",
				"node_provider", nr.NodeProvider, "timestamp_seconds", m.TimestampSeconds)
		}
		if r.ToNeuron {
			c.log.Warn("reward minted to a neuron, not an account", "node_provider", nr.NodeProvider, "timestamp_seconds", m.TimestampSeconds)
		}
		f, err := schemas.NewFact(c.cfg.topic(schemas.TopicNodeRewards), schemas.TypeNodeReward, schemas.NodeRewardKey(nr.NodeProvider, nr.TimestampSeconds), prov, nr)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, f)
	}
	return out, errors.Join(errs...)
}
