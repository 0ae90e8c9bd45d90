package ic

import (
	"context"
	"errors"
	"strconv"

	"github.com/nodeshare/nodeshare/schemas"
)

// ConnectSource is the IC as the connect stage (pipeline/stage/connect)
// sees it: Governance's reward events, the CMC's certified rates and the
// Node Rewards Canister's daily results, mapped to schemas types with the
// provenance of each read. It adds no retries: the stage retries transient
// failures (*Error.IsTransient) through pipeline/stage/retry.
type ConnectSource struct{ Client *Client }

const (
	portOpListRewards      = "list_node_provider_rewards"
	portOpMostRecentReward = "get_most_recent_monthly_node_provider_rewards"
	portOpSpotRate         = "get_icp_xdr_conversion_rate"
	portOpAverageRate      = "get_average_icp_xdr_conversion_rate"
	portOpNRCCalculation   = "get_node_providers_rewards_calculation"
)

// RewardEvents is one page of list_node_provider_rewards: the events with
// a timestamp in [startSeconds, endSeconds] (nil end: open), newest first.
// full reports a page as long as Governance returns
// (MaxListNodeProviderRewards), so older events may follow below the
// oldest one.
func (s ConnectSource) RewardEvents(ctx context.Context, startSeconds uint64, endSeconds *uint64) (page []schemas.RewardEvent, full bool, err error) {
	ms, err := s.Client.ListNodeProviderRewards(ctx, &startSeconds, endSeconds)
	if err != nil {
		return nil, false, err
	}
	page = make([]schemas.RewardEvent, 0, len(ms))
	for _, m := range ms {
		page = append(page, rewardEventOf(m, portOpListRewards))
	}
	return page, len(ms) >= MaxListNodeProviderRewards, nil
}

// MostRecentRewardEvent is get_most_recent_monthly_node_provider_rewards,
// nil when Governance has no reward event.
func (s ConnectSource) MostRecentRewardEvent(ctx context.Context) (*schemas.RewardEvent, error) {
	m, err := s.Client.MostRecentNodeProviderRewards(ctx)
	if err != nil || m == nil {
		return nil, err
	}
	ev := rewardEventOf(*m, portOpMostRecentReward)
	return &ev, nil
}

// SpotRate is the CMC's certified get_icp_xdr_conversion_rate.
func (s ConnectSource) SpotRate(ctx context.Context) (schemas.CertifiedRate, error) {
	r, err := s.Client.ICPXDRRate(ctx)
	return certifiedRateOf(r, portOpSpotRate), err
}

// AverageRate is the CMC's certified get_average_icp_xdr_conversion_rate
// (the 30-day average).
func (s ConnectSource) AverageRate(ctx context.Context) (schemas.CertifiedRate, error) {
	r, err := s.Client.AverageICPXDRRate(ctx)
	return certifiedRateOf(r, portOpAverageRate), err
}

// NodeRewards is the NRC's get_node_providers_rewards_calculation for day.
// The canister's own Err answer (no results for the day) is not an error:
// it comes back as NodeRewardsDay.Missing.
func (s ConnectSource) NodeRewards(ctx context.Context, day schemas.Date) (schemas.NodeRewardsDay, error) {
	out := schemas.NodeRewardsDay{Day: day, Provenance: schemas.Provenance{Source: "ic", Canister: NRCCanisterID.String(), Method: portOpNRCCalculation}}
	res, err := s.Client.NodeProvidersRewardsCalculation(ctx, Date(day))
	var nrcErr *NRCError
	if errors.As(err, &nrcErr) {
		out.Missing = nrcErr.Error()
		return out, nil
	}
	if err != nil {
		return out, err
	}
	for _, p := range res.Providers {
		np := p.NodeProvider.String()
		for _, n := range p.Nodes {
			nd := schemas.NodeDailyReward{
				Day: day.String(), NodeProvider: np, NodeID: n.NodeID.String(), NodeRewardType: n.NodeRewardType, Region: n.Region, DCID: n.DCID,
				SubnetMember: n.SubnetMember, NumBlocksProposed: n.NumBlocksProposed, NumBlocksFailed: n.NumBlocksFailed,
				OriginalFailureRate: nrcFloatText(n.OriginalFailureRate), RelativeFailureRate: nrcFloatText(n.RelativeFailureRate),
				SubnetAssignedFailureRate: nrcFloatText(n.SubnetAssignedFailureRate), ExtrapolatedFailureRate: nrcFloatText(n.ExtrapolatedFailureRate),
				PerformanceMultiplier: nrcFloatText(n.PerformanceMultiplier), RewardsReduction: nrcFloatText(n.RewardsReduction),
				BaseXDRPermyriad: nrcFloatText(n.BaseXDRPermyriad), AdjustedXDRPermyriad: nrcFloatText(n.AdjustedXDRPermyriad),
			}
			if n.Subnet != nil {
				nd.Subnet = n.Subnet.String()
			}
			out.Nodes = append(out.Nodes, nd)
		}
	}
	return out, nil
}

// nrcFloatText is the shortest decimal text that reads back to f: the NRC's
// float64s carried exactly (schemas.NodeDailyReward).
func nrcFloatText(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func certifiedRateOf(r ICPXDRRate, method string) schemas.CertifiedRate {
	return schemas.CertifiedRate{TimestampSeconds: r.TimestampSeconds, XDRPermyriadPerICP: r.XDRPermyriadPerICP,
		Provenance: schemas.Provenance{Source: "ic", Canister: CMCCanisterID.String(), Method: method, CertTimeNanos: r.CertTimeNanos}}
}

func rewardEventOf(m MonthlyNodeProviderRewards, method string) schemas.RewardEvent {
	ev := schemas.RewardEvent{
		TimestampSeconds:   m.TimestampSeconds,
		XDRPermyriadPerICP: m.XDRPermyriadPerICP,
		RegistryVersion:    m.RegistryVersion,
		Provenance:         schemas.Provenance{Source: "ic", Canister: GovernanceCanisterID.String(), Method: method},
	}
	if m.StartDate != nil {
		d := schemas.Date(*m.StartDate)
		ev.StartDate = &d
	}
	if m.EndDate != nil {
		d := schemas.Date(*m.EndDate)
		ev.EndDate = &d
	}
	for _, r := range m.Rewards {
		pr := schemas.ProviderReward{AmountE8s: r.AmountE8s, ToNeuron: r.ToNeuron}
		if len(r.NodeProvider.ID.Raw) > 0 {
			pr.NodeProvider = r.NodeProvider.ID.String()
			pr.RewardAccount = rewardAccountText(r)
		}
		ev.Rewards = append(ev.Rewards, pr)
	}
	return ev
}

// rewardAccountText is where Governance minted the reward: the ICRC-1 text of
// the provider's default account when the mint went there (or no account
// was named), else the legacy 64-hex account identifier; "" for a neuron.
func rewardAccountText(r NodeProviderReward) string {
	def := Account{Owner: r.NodeProvider.ID}
	switch {
	case r.ToNeuron:
		return ""
	case r.ToAccount == nil:
		return AccountText(def)
	case *r.ToAccount == LegacyAccountID(def):
		return AccountText(def)
	}
	return r.ToAccount.String()
}
