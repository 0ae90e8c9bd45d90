package icsim

import (
	"encoding/hex"
	"fmt"
	"math/big"
	"sort"

	"github.com/aviate-labs/agent-go/principal"
)

// maxListNodeProviderRewards is Governance's MAX_LIST_NODE_PROVIDER_REWARDS_RESULTS.
const maxListNodeProviderRewards = 24

// governanceState holds what the simulated NNS Governance canister reports:
// node providers and their monthly reward events (loaded from a scenario or
// the admin API).
type governanceState struct {
	NodeProviders []NodeProvider   `json:"node_providers"`
	Rewards       []MonthlyRewards `json:"rewards"`
	// Proposals are the NNS proposals get_proposal_info reports
	// (governance_proposals.go).
	Proposals []Proposal `json:"proposals,omitempty"`
}

func newGovernanceState() *governanceState { return &governanceState{} }

// NodeProvider is Governance's NodeProvider.
type NodeProvider struct {
	Principal string `json:"principal"`
	// RewardAccountHex is the 32-byte account identifier (64 hex) or the
	// 28-byte hash (56 hex) as Governance may store it; empty = none.
	RewardAccountHex string `json:"reward_account_hex,omitempty"`
}

// Date is a UTC calendar date.
type Date struct {
	Year  uint32 `json:"year"`
	Month uint32 `json:"month"`
	Day   uint32 `json:"day"`
}

// ProviderReward is one RewardNodeProvider entry.
type ProviderReward struct {
	NodeProvider     string `json:"node_provider"`
	RewardAccountHex string `json:"reward_account_hex,omitempty"`
	// AmountE8s is the minted amount. When zero and XDRPermyriad is set, it
	// is computed like Governance does: floor(xdr × 1e8 / rate).
	AmountE8s    uint64 `json:"amount_e8s"`
	XDRPermyriad uint64 `json:"xdr_permyriad,omitempty"`
	// ToNeuronDissolveDelaySeconds selects RewardToNeuron instead of RewardToAccount.
	ToNeuronDissolveDelaySeconds *uint64 `json:"to_neuron_dissolve_delay_seconds,omitempty"`
}

// MonthlyRewards is one MonthlyNodeProviderRewards event.
type MonthlyRewards struct {
	TimestampSeconds              uint64           `json:"timestamp_seconds"`
	XDRPermyriadPerICP            uint64           `json:"xdr_permyriad_per_icp"`
	RateTimestampSeconds          uint64           `json:"rate_timestamp_seconds"`
	MinimumXDRPermyriadPerICP     *uint64          `json:"minimum_xdr_permyriad_per_icp,omitempty"`
	MaximumNodeProviderRewardsE8s *uint64          `json:"maximum_node_provider_rewards_e8s,omitempty"`
	RegistryVersion               *uint64          `json:"registry_version,omitempty"`
	AlgorithmVersion              *uint32          `json:"algorithm_version,omitempty"`
	StartDate                     *Date            `json:"start_date,omitempty"`
	EndDate                       *Date            `json:"end_date,omitempty"`
	Rewards                       []ProviderReward `json:"rewards"`
}

// normalize fills computed amounts and validates principals and accounts.
func (m *MonthlyRewards) normalize() error {
	for i := range m.Rewards {
		r := &m.Rewards[i]
		if _, err := principal.Decode(r.NodeProvider); err != nil {
			return fmt.Errorf("reward %d: node_provider %q: %w", i, r.NodeProvider, err)
		}
		if _, err := accountIDBytes(r.RewardAccountHex); err != nil {
			return fmt.Errorf("reward %d: %w", i, err)
		}
		if r.AmountE8s == 0 && r.XDRPermyriad != 0 {
			if m.XDRPermyriadPerICP == 0 {
				return fmt.Errorf("reward %d: xdr_permyriad needs xdr_permyriad_per_icp", i)
			}
			rate := m.XDRPermyriadPerICP
			if m.MinimumXDRPermyriadPerICP != nil && *m.MinimumXDRPermyriadPerICP > rate {
				rate = *m.MinimumXDRPermyriadPerICP
			}
			amt := new(big.Int).Mul(new(big.Int).SetUint64(r.XDRPermyriad), big.NewInt(100_000_000))
			amt.Quo(amt, new(big.Int).SetUint64(rate))
			if !amt.IsUint64() {
				return fmt.Errorf("reward %d: amount overflows", i)
			}
			r.AmountE8s = amt.Uint64()
		}
	}
	return nil
}

func accountIDBytes(h string) ([]byte, error) {
	if h == "" {
		return nil, nil
	}
	b, err := hex.DecodeString(h)
	if err != nil || (len(b) != 28 && len(b) != 32) {
		return nil, fmt.Errorf("reward_account_hex %q must be 56 or 64 hex characters", h)
	}
	return b, nil
}

// Candid shapes (governance.did).

type candidGovAccountID struct {
	Hash []byte `ic:"hash"`
}

type candidNodeProvider struct {
	ID            *principal.Principal `ic:"id"`
	RewardAccount *candidGovAccountID  `ic:"reward_account"`
}

type candidRewardMode struct {
	RewardToNeuron *struct {
		DissolveDelaySeconds uint64 `ic:"dissolve_delay_seconds"`
	} `ic:"RewardToNeuron,variant"`
	RewardToAccount *struct {
		ToAccount *candidGovAccountID `ic:"to_account"`
	} `ic:"RewardToAccount,variant"`
}

type candidRewardNodeProvider struct {
	NodeProvider *candidNodeProvider `ic:"node_provider"`
	RewardMode   *candidRewardMode   `ic:"reward_mode"`
	AmountE8s    uint64              `ic:"amount_e8s"`
}

type candidXdrConversionRate struct {
	XDRPermyriadPerICP *uint64 `ic:"xdr_permyriad_per_icp"`
	TimestampSeconds   *uint64 `ic:"timestamp_seconds"`
}

type candidDateUtc struct {
	Year  uint32 `ic:"year"`
	Month uint32 `ic:"month"`
	Day   uint32 `ic:"day"`
}

type candidMonthlyRewards struct {
	Timestamp                     uint64                     `ic:"timestamp"`
	Rewards                       []candidRewardNodeProvider `ic:"rewards"`
	XDRConversionRate             *candidXdrConversionRate   `ic:"xdr_conversion_rate"`
	MinimumXDRPermyriadPerICP     *uint64                    `ic:"minimum_xdr_permyriad_per_icp"`
	MaximumNodeProviderRewardsE8s *uint64                    `ic:"maximum_node_provider_rewards_e8s"`
	RegistryVersion               *uint64                    `ic:"registry_version"`
	NodeProviders                 []candidNodeProvider       `ic:"node_providers"`
	StartDate                     *candidDateUtc             `ic:"start_date"`
	EndDate                       *candidDateUtc             `ic:"end_date"`
	AlgorithmVersion              *uint32                    `ic:"algorithm_version"`
}

type candidDateRangeFilter struct {
	StartTimestampSeconds *uint64 `ic:"start_timestamp_seconds"`
	EndTimestampSeconds   *uint64 `ic:"end_timestamp_seconds"`
}

type candidListRewardsRequest struct {
	DateFilter *candidDateRangeFilter `ic:"date_filter"`
}

type candidListRewardsResponse struct {
	Rewards []candidMonthlyRewards `ic:"rewards"`
}

type candidListNodeProvidersResponse struct {
	NodeProviders []candidNodeProvider `ic:"node_providers"`
}

func toCandidNP(p, acctHex string) candidNodeProvider {
	var np candidNodeProvider
	if id, err := principal.Decode(p); err == nil {
		np.ID = &id
	}
	if b, _ := accountIDBytes(acctHex); b != nil {
		np.RewardAccount = &candidGovAccountID{Hash: b}
	}
	return np
}

func toCandidDate(d *Date) *candidDateUtc {
	if d == nil {
		return nil
	}
	return &candidDateUtc{Year: d.Year, Month: d.Month, Day: d.Day}
}

func (g *governanceState) toCandid(m MonthlyRewards) candidMonthlyRewards {
	rate, ts := m.XDRPermyriadPerICP, m.RateTimestampSeconds
	c := candidMonthlyRewards{
		Timestamp:                     m.TimestampSeconds,
		Rewards:                       []candidRewardNodeProvider{},
		XDRConversionRate:             &candidXdrConversionRate{XDRPermyriadPerICP: &rate, TimestampSeconds: &ts},
		MinimumXDRPermyriadPerICP:     m.MinimumXDRPermyriadPerICP,
		MaximumNodeProviderRewardsE8s: m.MaximumNodeProviderRewardsE8s,
		RegistryVersion:               m.RegistryVersion,
		NodeProviders:                 []candidNodeProvider{},
		StartDate:                     toCandidDate(m.StartDate),
		EndDate:                       toCandidDate(m.EndDate),
		AlgorithmVersion:              m.AlgorithmVersion,
	}
	for _, np := range g.NodeProviders {
		c.NodeProviders = append(c.NodeProviders, toCandidNP(np.Principal, np.RewardAccountHex))
	}
	for _, r := range m.Rewards {
		np := toCandidNP(r.NodeProvider, r.RewardAccountHex)
		mode := &candidRewardMode{}
		if r.ToNeuronDissolveDelaySeconds != nil {
			mode.RewardToNeuron = &struct {
				DissolveDelaySeconds uint64 `ic:"dissolve_delay_seconds"`
			}{*r.ToNeuronDissolveDelaySeconds}
		} else {
			mode.RewardToAccount = &struct {
				ToAccount *candidGovAccountID `ic:"to_account"`
			}{np.RewardAccount}
		}
		c.Rewards = append(c.Rewards, candidRewardNodeProvider{NodeProvider: &np, RewardMode: mode, AmountE8s: r.AmountE8s})
	}
	return c
}

// newestFirst returns the reward events sorted by timestamp, newest first.
func (g *governanceState) newestFirst() []MonthlyRewards {
	out := append([]MonthlyRewards{}, g.Rewards...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].TimestampSeconds > out[j].TimestampSeconds })
	return out
}

var governanceMethods = map[string]method{
	"get_most_recent_monthly_node_provider_rewards": {query: true, fn: govMostRecent},
	"list_node_provider_rewards":                    {query: true, fn: govListRewards},
	"list_node_providers":                           {query: true, fn: govListNodeProviders},
	"get_proposal_info":                             {query: true, fn: govProposalInfo},
}

func govMostRecent(s *Server, _ callContext, _ []byte) ([]byte, error) {
	all := s.gov.newestFirst()
	if len(all) == 0 {
		var none *candidMonthlyRewards
		return encode(none)
	}
	c := s.gov.toCandid(all[0])
	return encode(&c)
}

func govListRewards(s *Server, _ callContext, arg []byte) ([]byte, error) {
	var req candidListRewardsRequest
	if err := decodeArgs(arg, &req); err != nil {
		return nil, err
	}
	resp := candidListRewardsResponse{Rewards: []candidMonthlyRewards{}}
	for _, m := range s.gov.newestFirst() {
		if f := req.DateFilter; f != nil {
			if f.StartTimestampSeconds != nil && m.TimestampSeconds < *f.StartTimestampSeconds {
				continue
			}
			if f.EndTimestampSeconds != nil && m.TimestampSeconds > *f.EndTimestampSeconds {
				continue
			}
		}
		resp.Rewards = append(resp.Rewards, s.gov.toCandid(m))
		if len(resp.Rewards) == maxListNodeProviderRewards {
			break
		}
	}
	return encode(resp)
}

func govListNodeProviders(s *Server, _ callContext, _ []byte) ([]byte, error) {
	resp := candidListNodeProvidersResponse{NodeProviders: []candidNodeProvider{}}
	for _, np := range s.gov.NodeProviders {
		resp.NodeProviders = append(resp.NodeProviders, toCandidNP(np.Principal, np.RewardAccountHex))
	}
	return encode(resp)
}
