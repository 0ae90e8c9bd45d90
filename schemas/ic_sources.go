package schemas

import (
	"fmt"
	"time"
)

// What `nodeshare connect` reads from its sources, as domain types:
// connectors/ic and connectors/dashboard fill them (their connect ports),
// pipeline/stage/connect turns them into the facts of events.go and
// ic_events.go. They are read models, never published as they are, so
// they carry no JSON tags; Provenance says where each answer came from
// (the stage adds the fetch time, NewEnvelope the content hash).

// Date is a UTC calendar day (Governance's DateUtc, the NRC's day).
type Date struct{ Year, Month, Day uint32 }

// DateOf is the UTC calendar day of t.
func DateOf(t time.Time) Date {
	t = t.UTC()
	return Date{Year: uint32(t.Year()), Month: uint32(t.Month()), Day: uint32(t.Day())}
}

// Time is midnight UTC of d.
func (d Date) Time() time.Time {
	return time.Date(int(d.Year), time.Month(d.Month), int(d.Day), 0, 0, 0, 0, time.UTC)
}

// String is the ISO form YYYY-MM-DD, the day of NodeDailyReward and the
// bounds of NodePeriodWeight.
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

// RewardEvent is one NNS node-provider reward event (Governance's
// MonthlyNodeProviderRewards, a "period"): the minted e8s per provider.
type RewardEvent struct {
	TimestampSeconds uint64
	// XDRPermyriadPerICP is the rate Governance used (0: not reported).
	XDRPermyriadPerICP uint64
	RegistryVersion    *uint64
	// StartDate and EndDate bound the period's days (inclusive); nil when
	// Governance did not record them.
	StartDate, EndDate *Date
	Rewards            []ProviderReward
	// Provenance: source, canister and method of the read.
	Provenance Provenance
}

// ProviderReward is one provider's share of a RewardEvent.
type ProviderReward struct {
	// NodeProvider is the principal text; "" when Governance named none.
	NodeProvider string
	AmountE8s    uint64
	// ToNeuron: minted to a neuron, not an account (RewardAccount is "").
	ToNeuron bool
	// RewardAccount is where the reward was minted: the ICRC-1 text of the
	// provider's default account when the mint went there (or named no
	// account), otherwise the 64-hex legacy account identifier.
	RewardAccount string
}

// CertifiedRate is an ICP/XDR rate whose certificate was verified (the
// CMC's certified data); Provenance.CertTimeNanos is the certificate's time.
type CertifiedRate struct {
	TimestampSeconds   uint64
	XDRPermyriadPerICP uint64
	Provenance         Provenance
}

// NodeRewardsDay is the Node Rewards Canister's answer for one UTC day:
// every node of every provider, as the facts of ic.node-daily-rewards.v1.
type NodeRewardsDay struct {
	Day   Date
	Nodes []NodeDailyReward
	// Missing is the canister's reason when it has no results for the day
	// (no metrics yet, a day not over). That is an answer, not a failure:
	// asking again gives the same until the canister has the data.
	Missing    string
	Provenance Provenance
}
