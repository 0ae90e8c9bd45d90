package schemas

import "time"

// Topics and events of the IC connector (`nodeshare connect`,
// docs/connectors.md) added after the first release. Append-only, like the
// lists in envelope.go and topics.go.
const (
	// TopicNodeDailyRewards holds the Node Rewards Canister's per-node
	// results, one record per node and UTC day.
	TopicNodeDailyRewards = "ic.node-daily-rewards.v1"
	// TopicNodePeriodWeights holds each node's level-1 weight for one NNS
	// reward period: the XDR permyriad it earned over the period's days.
	TopicNodePeriodWeights = "ic.node-period-weights.v1"
	// TopicSourceAlarms holds disagreements between two sources of the same
	// fact (the certified CMC rate and the dashboard).
	TopicSourceAlarms = "ic.source-alarms.v1"
)

// TypeNodePeriodWeight is a NodePeriodWeight (TypeNodeDailyReward and
// TypeSourceMismatch are declared in envelope.go).
const TypeNodePeriodWeight = "node_period_weight"

// ICTopics are the connector's own topics; Topics() includes them.
func ICTopics() []TopicSpec {
	const year = 365 * 24 * time.Hour
	return []TopicSpec{
		{Name: TopicNodeDailyRewards, Partitions: 1, Key: "<node provider principal>/<node id>/<YYYY-MM-DD>"},
		{Name: TopicNodePeriodWeights, Partitions: 1, Key: "<node provider principal>/<reward timestamp seconds>/<node id>"},
		{Name: TopicSourceAlarms, Partitions: 1, Retention: 2 * year, Key: "<kind>/<cmc timestamp seconds>/<dashboard timestamp seconds>"},
	}
}

// NodeDailyReward is one node's result for one UTC day from the Node
// Rewards Canister's get_node_providers_rewards_calculation
// (ic.node-daily-rewards.v1). The NRC reports rates and XDR amounts as
// float64; they are carried as the shortest decimal text that reads back to
// the same float64, so the fact is exact and hashes deterministically.
type NodeDailyReward struct {
	Day            string `json:"day"` // YYYY-MM-DD (UTC)
	NodeProvider   string `json:"node_provider"`
	NodeID         string `json:"node_id"`
	NodeRewardType string `json:"node_reward_type"`
	Region         string `json:"region"`
	DCID           string `json:"dc_id"`
	// SubnetMember: assigned to Subnet that day, with block metrics;
	// otherwise the failure rate is the NRC's extrapolation.
	SubnetMember              bool   `json:"subnet_member"`
	Subnet                    string `json:"subnet,omitempty"`
	NumBlocksProposed         uint64 `json:"num_blocks_proposed"`
	NumBlocksFailed           uint64 `json:"num_blocks_failed"`
	OriginalFailureRate       string `json:"original_failure_rate"`
	RelativeFailureRate       string `json:"relative_failure_rate"`
	SubnetAssignedFailureRate string `json:"subnet_assigned_failure_rate"`
	ExtrapolatedFailureRate   string `json:"extrapolated_failure_rate"`
	PerformanceMultiplier     string `json:"performance_multiplier"`
	RewardsReduction          string `json:"rewards_reduction"`
	BaseXDRPermyriad          string `json:"base_xdr_permyriad"`
	AdjustedXDRPermyriad      string `json:"adjusted_xdr_permyriad"`
}

// NodePeriodWeight is a node's level-1 weight for one NNS reward period
// (ic.node-period-weights.v1): the sum of its NRC adjusted daily rewards over
// the period's days, truncated to whole XDR permyriad (docs/allocation-rules.md
// level 1: a pool's weight is the XDR permyriad its nodes earned). It is
// only published when the NRC had results for every day of the period.
type NodePeriodWeight struct {
	NodeProvider           string `json:"node_provider"`
	RewardTimestampSeconds uint64 `json:"reward_timestamp_seconds"`
	// RewardEventID is the key of the reward on ic.node-rewards.v1.
	RewardEventID      string `json:"reward_event_id"`
	NodeID             string `json:"node_id"`
	FromDay            string `json:"from_day"` // YYYY-MM-DD, inclusive
	ToDay              string `json:"to_day"`   // YYYY-MM-DD, inclusive
	Days               int    `json:"days"`
	DaysWithNode       int    `json:"days_with_node"`
	AdjustedSum        string `json:"adjusted_xdr_permyriad_sum"` // exact decimal sum
	WeightXDRPermyriad int64  `json:"weight_xdr_permyriad"`
}

// SourceMismatch is an alarm (ic.source-alarms.v1): two sources disagree
// about the same fact beyond the documented tolerance.
type SourceMismatch struct {
	Kind                        string `json:"kind"` // "spot" or "avg30"
	CMCTimestampSeconds         uint64 `json:"cmc_timestamp_seconds"`
	CMCXDRPermyriadPerICP       uint64 `json:"cmc_xdr_permyriad_per_icp"`
	DashboardTimestampSeconds   uint64 `json:"dashboard_timestamp_seconds"`
	DashboardXDRPermyriadPerICP string `json:"dashboard_xdr_permyriad_per_icp"`
	DiffBps                     string `json:"diff_bps"`
	ToleranceBps                int64  `json:"tolerance_bps"`
	Detail                      string `json:"detail"`
}
