package ic

import (
	"context"
	"fmt"

	"github.com/aviate-labs/agent-go/principal"
)

// Candid shapes of governance.did used here (docs/ic-interfaces.md §2.2).

type govAccountID struct {
	Hash []byte `ic:"hash"`
}

type govNodeProvider struct {
	ID            *principal.Principal `ic:"id"`
	RewardAccount *govAccountID        `ic:"reward_account"`
}

type govRewardMode struct {
	RewardToNeuron *struct {
		DissolveDelaySeconds uint64 `ic:"dissolve_delay_seconds"`
	} `ic:"RewardToNeuron,variant"`
	RewardToAccount *struct {
		ToAccount *govAccountID `ic:"to_account"`
	} `ic:"RewardToAccount,variant"`
}

type govRewardNodeProvider struct {
	NodeProvider *govNodeProvider `ic:"node_provider"`
	RewardMode   *govRewardMode   `ic:"reward_mode"`
	AmountE8s    uint64           `ic:"amount_e8s"`
}

type govDateUtc struct {
	Year  uint32 `ic:"year"`
	Month uint32 `ic:"month"`
	Day   uint32 `ic:"day"`
}

type govMonthlyRewards struct {
	Timestamp         uint64                  `ic:"timestamp"`
	Rewards           []govRewardNodeProvider `ic:"rewards"`
	XDRConversionRate *struct {
		XDRPermyriadPerICP *uint64 `ic:"xdr_permyriad_per_icp"`
		TimestampSeconds   *uint64 `ic:"timestamp_seconds"`
	} `ic:"xdr_conversion_rate"`
	MinimumXDRPermyriadPerICP     *uint64           `ic:"minimum_xdr_permyriad_per_icp"`
	MaximumNodeProviderRewardsE8s *uint64           `ic:"maximum_node_provider_rewards_e8s"`
	RegistryVersion               *uint64           `ic:"registry_version"`
	NodeProviders                 []govNodeProvider `ic:"node_providers"`
	StartDate                     *govDateUtc       `ic:"start_date"`
	EndDate                       *govDateUtc       `ic:"end_date"`
	AlgorithmVersion              *uint32           `ic:"algorithm_version"`
}

type govDateRangeFilter struct {
	StartTimestampSeconds *uint64 `ic:"start_timestamp_seconds"`
	EndTimestampSeconds   *uint64 `ic:"end_timestamp_seconds"`
}

// MaxListNodeProviderRewards is Governance's page size for
// list_node_provider_rewards.
const MaxListNodeProviderRewards = 24

// Date is a UTC calendar date.
type Date struct{ Year, Month, Day uint32 }

// NodeProvider is a node provider as Governance knows it.
type NodeProvider struct {
	ID principal.Principal
	// RewardAccount is the 32-byte account identifier, nil when unset.
	RewardAccount *AccountIdentifier
}

// NodeProviderReward is one provider's share of a reward event.
type NodeProviderReward struct {
	NodeProvider NodeProvider
	AmountE8s    uint64
	// ToNeuron is set for RewardToNeuron; otherwise the reward was minted to
	// ToAccount (nil: the provider's default account).
	ToNeuron             bool
	DissolveDelaySeconds uint64
	ToAccount            *AccountIdentifier
}

// MonthlyNodeProviderRewards is one Governance reward event (a "period").
type MonthlyNodeProviderRewards struct {
	TimestampSeconds uint64
	// XDRPermyriadPerICP is the rate Governance used (0 if not reported).
	XDRPermyriadPerICP            uint64
	RateTimestampSeconds          uint64
	MinimumXDRPermyriadPerICP     *uint64
	MaximumNodeProviderRewardsE8s *uint64
	RegistryVersion               *uint64
	AlgorithmVersion              *uint32
	StartDate, EndDate            *Date
	Rewards                       []NodeProviderReward
	NodeProviders                 []NodeProvider
}

func fromGovAccount(a *govAccountID) (*AccountIdentifier, error) {
	if a == nil {
		return nil, nil
	}
	id, err := NormalizeAccountIdentifier(a.Hash)
	if err != nil {
		return nil, err
	}
	return &id, nil
}

func fromGovNP(np *govNodeProvider) (NodeProvider, error) {
	var out NodeProvider
	if np == nil {
		return out, nil
	}
	if np.ID != nil {
		out.ID = *np.ID
	}
	acct, err := fromGovAccount(np.RewardAccount)
	if err != nil {
		return out, fmt.Errorf("node provider %s reward_account: %w", out.ID, err)
	}
	out.RewardAccount = acct
	return out, nil
}

func fromGovDate(d *govDateUtc) *Date {
	if d == nil {
		return nil
	}
	return &Date{Year: d.Year, Month: d.Month, Day: d.Day}
}

func fromGovMonthly(m govMonthlyRewards) (MonthlyNodeProviderRewards, error) {
	out := MonthlyNodeProviderRewards{
		TimestampSeconds:              m.Timestamp,
		MinimumXDRPermyriadPerICP:     m.MinimumXDRPermyriadPerICP,
		MaximumNodeProviderRewardsE8s: m.MaximumNodeProviderRewardsE8s,
		RegistryVersion:               m.RegistryVersion,
		AlgorithmVersion:              m.AlgorithmVersion,
		StartDate:                     fromGovDate(m.StartDate),
		EndDate:                       fromGovDate(m.EndDate),
	}
	if r := m.XDRConversionRate; r != nil {
		if r.XDRPermyriadPerICP != nil {
			out.XDRPermyriadPerICP = *r.XDRPermyriadPerICP
		}
		if r.TimestampSeconds != nil {
			out.RateTimestampSeconds = *r.TimestampSeconds
		}
	}
	for i, r := range m.Rewards {
		np, err := fromGovNP(r.NodeProvider)
		if err != nil {
			return out, fmt.Errorf("reward event %d: reward %d: %w", m.Timestamp, i, err)
		}
		rw := NodeProviderReward{NodeProvider: np, AmountE8s: r.AmountE8s}
		if r.RewardMode != nil {
			switch {
			case r.RewardMode.RewardToNeuron != nil:
				rw.ToNeuron = true
				rw.DissolveDelaySeconds = r.RewardMode.RewardToNeuron.DissolveDelaySeconds
			case r.RewardMode.RewardToAccount != nil:
				if rw.ToAccount, err = fromGovAccount(r.RewardMode.RewardToAccount.ToAccount); err != nil {
					return out, fmt.Errorf("reward event %d: reward %d: to_account: %w", m.Timestamp, i, err)
				}
			}
		}
		out.Rewards = append(out.Rewards, rw)
	}
	for _, np := range m.NodeProviders {
		n, err := fromGovNP(&np)
		if err != nil {
			return out, fmt.Errorf("reward event %d: %w", m.Timestamp, err)
		}
		out.NodeProviders = append(out.NodeProviders, n)
	}
	return out, nil
}

// MostRecentNodeProviderRewards returns Governance's latest reward event,
// or nil when there is none.
func (c *Client) MostRecentNodeProviderRewards(ctx context.Context) (*MonthlyNodeProviderRewards, error) {
	const op = "get_most_recent_monthly_node_provider_rewards"
	var res *govMonthlyRewards
	if err := c.query(ctx, GovernanceCanisterID, op, []any{}, []any{&res}); err != nil {
		return nil, err
	}
	if res == nil {
		return nil, nil
	}
	m, err := fromGovMonthly(*res)
	if err != nil {
		return nil, &Error{Op: op, Err: err}
	}
	return &m, nil
}

// ListNodeProviderRewards returns one page (newest first, at most 24) of
// reward events whose timestamp is within [start, end] seconds; nil bounds
// are open.
func (c *Client) ListNodeProviderRewards(ctx context.Context, startSeconds, endSeconds *uint64) ([]MonthlyNodeProviderRewards, error) {
	const op = "list_node_provider_rewards"
	req := struct {
		DateFilter *govDateRangeFilter `ic:"date_filter"`
	}{}
	if startSeconds != nil || endSeconds != nil {
		req.DateFilter = &govDateRangeFilter{StartTimestampSeconds: startSeconds, EndTimestampSeconds: endSeconds}
	}
	var res struct {
		Rewards []govMonthlyRewards `ic:"rewards"`
	}
	if err := c.query(ctx, GovernanceCanisterID, op, []any{req}, []any{&res}); err != nil {
		return nil, err
	}
	out := make([]MonthlyNodeProviderRewards, 0, len(res.Rewards))
	for _, m := range res.Rewards {
		r, err := fromGovMonthly(m)
		if err != nil {
			return nil, &Error{Op: op, Err: err}
		}
		out = append(out, r)
	}
	return out, nil
}

// NodeProviderRewardsSince returns every reward event with timestamp >=
// startSeconds, newest first, paging by lowering the end of the date filter
// (Governance has no cursor).
func (c *Client) NodeProviderRewardsSince(ctx context.Context, startSeconds uint64) ([]MonthlyNodeProviderRewards, error) {
	var out []MonthlyNodeProviderRewards
	var end *uint64
	for {
		page, err := c.ListNodeProviderRewards(ctx, &startSeconds, end)
		if err != nil {
			return out, err
		}
		out = append(out, page...)
		if len(page) < MaxListNodeProviderRewards {
			return out, nil
		}
		oldest := page[len(page)-1].TimestampSeconds
		if oldest == 0 || oldest <= startSeconds {
			return out, nil
		}
		next := oldest - 1
		end = &next
	}
}
