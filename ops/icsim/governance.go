package icsim

// governanceState holds the node-provider reward events the simulated NNS
// Governance canister reports (loaded from a scenario).
type governanceState struct {
	Rewards []MonthlyRewards `json:"rewards"`
}

func newGovernanceState() *governanceState { return &governanceState{} }

var governanceMethods = map[string]method{}

// MonthlyRewards is one MonthlyNodeProviderRewards event.
type MonthlyRewards struct {
	TimestampSeconds uint64 `json:"timestamp_seconds"`
}
