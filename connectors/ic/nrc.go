package ic

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/aviate-labs/agent-go/candid"
	"github.com/aviate-labs/agent-go/leb128"
	"github.com/aviate-labs/agent-go/principal"
)

// NRCCanisterID is the Node Rewards Canister on the NNS subnet (docs/ic-interfaces.md §1).
var NRCCanisterID = principal.MustDecode("sgymv-uiaaa-aaaaa-aaaia-cai")

// Candid shapes of node-rewards-canister.did, the newest interface
// (docs/ic-interfaces.md §2.3: DateUtc days, the plural method name, float64
// percentages). Every variant arm is declared: agent-go cannot decode an arm
// the Go struct lacks.

type nrcDate struct {
	Day   *uint32 `ic:"day"`
	Month *uint32 `ic:"month"`
	Year  *uint32 `ic:"year"`
}

type nrcVersion struct {
	Version uint32 `ic:"version"`
}

type nrcCalcRequest struct {
	Day              nrcDate     `ic:"day"`
	AlgorithmVersion *nrcVersion `ic:"algorithm_version"`
}

type nrcNodeMetrics struct {
	SubnetAssigned            *principal.Principal `ic:"subnet_assigned"`
	SubnetAssignedFailureRate *float64             `ic:"subnet_assigned_failure_rate"`
	NumBlocksProposed         *uint64              `ic:"num_blocks_proposed"`
	NumBlocksFailed           *uint64              `ic:"num_blocks_failed"`
	OriginalFailureRate       *float64             `ic:"original_failure_rate"`
	RelativeFailureRate       *float64             `ic:"relative_failure_rate"`
}

type nrcFailureRate struct {
	SubnetMember *struct {
		NodeMetrics *nrcNodeMetrics `ic:"node_metrics"`
	} `ic:"SubnetMember,variant"`
	NonSubnetMember *struct {
		ExtrapolatedFailureRate *float64 `ic:"extrapolated_failure_rate"`
	} `ic:"NonSubnetMember,variant"`
}

type nrcNodeRewards struct {
	NodeID                      *principal.Principal `ic:"node_id"`
	NodeRewardType              *string              `ic:"node_reward_type"`
	Region                      *string              `ic:"region"`
	DCID                        *string              `ic:"dc_id"`
	DailyNodeFailureRate        *nrcFailureRate      `ic:"daily_node_failure_rate"`
	PerformanceMultiplier       *float64             `ic:"performance_multiplier"`
	RewardsReduction            *float64             `ic:"rewards_reduction"`
	BaseRewardsXDRPermyriad     *float64             `ic:"base_rewards_xdr_permyriad"`
	AdjustedRewardsXDRPermyriad *float64             `ic:"adjusted_rewards_xdr_permyriad"`
}

type nrcBaseRewards struct {
	MonthlyXDRPermyriad *float64 `ic:"monthly_xdr_permyriad"`
	DailyXDRPermyriad   *float64 `ic:"daily_xdr_permyriad"`
	NodeRewardType      *string  `ic:"node_reward_type"`
	Region              *string  `ic:"region"`
}

type nrcType3BaseRewards struct {
	Region                 *string  `ic:"region"`
	NodesCount             *uint64  `ic:"nodes_count"`
	AvgRewardsXDRPermyriad *float64 `ic:"avg_rewards_xdr_permyriad"`
	AvgCoefficient         *float64 `ic:"avg_coefficient"`
	DailyXDRPermyriad      *float64 `ic:"daily_xdr_permyriad"`
}

type nrcProviderRewards struct {
	TotalBaseRewardsXDRPermyriad     *uint64               `ic:"total_base_rewards_xdr_permyriad"`
	TotalAdjustedRewardsXDRPermyriad *uint64               `ic:"total_adjusted_rewards_xdr_permyriad"`
	BaseRewards                      []nrcBaseRewards      `ic:"base_rewards"`
	BaseRewardsType3                 []nrcType3BaseRewards `ic:"base_rewards_type3"`
	DailyNodesRewards                []nrcNodeRewards      `ic:"daily_nodes_rewards"`
}

type nrcSubnetFailureRate struct {
	Subnet      principal.Principal `ic:"0,tuple"`
	FailureRate float64             `ic:"1,tuple"`
}

type nrcProviderResult struct {
	Provider principal.Principal `ic:"0,tuple"`
	Rewards  nrcProviderRewards  `ic:"1,tuple"`
}

type nrcDailyResults struct {
	SubnetsFailureRate []nrcSubnetFailureRate `ic:"subnets_failure_rate"`
	ProviderResults    []nrcProviderResult    `ic:"provider_results"`
}

type nrcCalcResponse struct {
	Ok  *nrcDailyResults `ic:"Ok,variant"`
	Err *string          `ic:"Err,variant"`
}

// NodeDailyRewards is one node's rewards and metrics for one UTC day.
// Rewards are XDR permyriad as the NRC computes them (float64 on the wire);
// only Governance's minted e8s are money.
type NodeDailyRewards struct {
	NodeID         principal.Principal
	NodeRewardType string
	Region         string
	DCID           string
	// SubnetMember: the node was assigned to Subnet that day and its
	// metrics are set; otherwise ExtrapolatedFailureRate applies.
	SubnetMember              bool
	Subnet                    *principal.Principal
	NumBlocksProposed         uint64
	NumBlocksFailed           uint64
	OriginalFailureRate       float64
	RelativeFailureRate       float64
	SubnetAssignedFailureRate float64
	ExtrapolatedFailureRate   float64
	PerformanceMultiplier     float64
	RewardsReduction          float64
	BaseXDRPermyriad          float64
	AdjustedXDRPermyriad      float64
}

// ProviderDailyRewards is one node provider's results for one day.
type ProviderDailyRewards struct {
	NodeProvider principal.Principal
	// Totals are the NRC's sums truncated to u64 (nil when not reported).
	TotalBaseXDRPermyriad     *uint64
	TotalAdjustedXDRPermyriad *uint64
	Nodes                     []NodeDailyRewards
}

// DailyResults is get_node_providers_rewards_calculation for one day.
type DailyResults struct {
	Day                Date
	SubnetFailureRates map[string]float64 // subnet principal text -> failure rate
	Providers          []ProviderDailyRewards
}

// NRCError is the NRC's own Err answer (for example a day without metrics
// or in the future). It is not transient: asking again gives the same
// answer until the canister has data for the day.
type NRCError struct {
	Day     Date
	Message string
}

func (e *NRCError) Error() string {
	return fmt.Sprintf("ic: node rewards canister: day %04d-%02d-%02d: %s", e.Day.Year, e.Day.Month, e.Day.Day, e.Message)
}

// IsNRCError reports whether err is the NRC's Err answer.
func IsNRCError(err error) bool {
	var e *NRCError
	return errors.As(err, &e)
}

// DateOf is the UTC calendar date of t.
func DateOf(t time.Time) Date {
	t = t.UTC()
	return Date{Year: uint32(t.Year()), Month: uint32(t.Month()), Day: uint32(t.Day())}
}

// Time is midnight UTC of d.
func (d Date) Time() time.Time {
	return time.Date(int(d.Year), time.Month(d.Month), int(d.Day), 0, 0, 0, 0, time.UTC)
}

// String is the ISO form YYYY-MM-DD.
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

// NodeProvidersRewardsCalculation reads the NRC's per-node results for one
// day (a non-replicated query, verified like every query). The NRC's Err
// arm is returned as *NRCError.
func (c *Client) NodeProvidersRewardsCalculation(ctx context.Context, day Date) (*DailyResults, error) {
	const op = "get_node_providers_rewards_calculation"
	req := nrcCalcRequest{Day: nrcDate{Day: &day.Day, Month: &day.Month, Year: &day.Year}}
	var res nrcCalcResponse
	if err := c.query(ctx, NRCCanisterID, op, []any{req}, []any{&res}); err != nil {
		return nil, err
	}
	out, err := fromNRCResponse(day, res)
	if err != nil {
		var nrcErr *NRCError
		if errors.As(err, &nrcErr) {
			return nil, err
		}
		return nil, &Error{Op: op, Err: err}
	}
	return out, nil
}

// DecodeNRCCalculationReply decodes the Candid reply of
// get_node_providers_rewards_calculation for day (exported for tests and
// fuzzing of the decoder; malformed input is an error, never a panic).
func DecodeNRCCalculationReply(day Date, reply []byte) (out *DailyResults, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("ic: node rewards reply: malformed Candid: %v", r)
		}
	}()
	if err := candidHeaderSane(reply); err != nil {
		return nil, fmt.Errorf("ic: node rewards reply: %w", err)
	}
	var res nrcCalcResponse
	if err := candid.Unmarshal(reply, []any{&res}); err != nil {
		return nil, fmt.Errorf("ic: node rewards reply: %w", err)
	}
	return fromNRCResponse(day, res)
}

func f64(p *float64, field string, errs *[]string) float64 {
	if p == nil {
		return 0
	}
	if math.IsNaN(*p) || math.IsInf(*p, 0) {
		*errs = append(*errs, field+" is not finite")
		return 0
	}
	return *p
}

func fromNRCResponse(day Date, res nrcCalcResponse) (*DailyResults, error) {
	switch {
	case res.Err != nil:
		return nil, &NRCError{Day: day, Message: *res.Err}
	case res.Ok == nil:
		return nil, errors.New("reply has neither Ok nor Err")
	}
	out := &DailyResults{Day: day, SubnetFailureRates: map[string]float64{}}
	for _, s := range res.Ok.SubnetsFailureRate {
		out.SubnetFailureRates[s.Subnet.String()] = s.FailureRate
	}
	for _, p := range res.Ok.ProviderResults {
		pr := ProviderDailyRewards{NodeProvider: p.Provider, TotalBaseXDRPermyriad: p.Rewards.TotalBaseRewardsXDRPermyriad,
			TotalAdjustedXDRPermyriad: p.Rewards.TotalAdjustedRewardsXDRPermyriad}
		for i, n := range p.Rewards.DailyNodesRewards {
			if n.NodeID == nil {
				return nil, fmt.Errorf("provider %s: node %d has no node_id", p.Provider, i)
			}
			var errs []string
			nd := NodeDailyRewards{
				NodeID:                *n.NodeID,
				PerformanceMultiplier: f64(n.PerformanceMultiplier, "performance_multiplier", &errs),
				RewardsReduction:      f64(n.RewardsReduction, "rewards_reduction", &errs),
				BaseXDRPermyriad:      f64(n.BaseRewardsXDRPermyriad, "base_rewards_xdr_permyriad", &errs),
				AdjustedXDRPermyriad:  f64(n.AdjustedRewardsXDRPermyriad, "adjusted_rewards_xdr_permyriad", &errs),
			}
			if n.AdjustedRewardsXDRPermyriad == nil {
				errs = append(errs, "adjusted_rewards_xdr_permyriad is missing")
			}
			if nd.AdjustedXDRPermyriad < 0 || nd.BaseXDRPermyriad < 0 {
				errs = append(errs, "rewards must be >= 0")
			}
			for _, s := range []struct {
				p   *string
				dst *string
			}{{n.NodeRewardType, &nd.NodeRewardType}, {n.Region, &nd.Region}, {n.DCID, &nd.DCID}} {
				if s.p != nil {
					*s.dst = *s.p
				}
			}
			if fr := n.DailyNodeFailureRate; fr != nil {
				switch {
				case fr.SubnetMember != nil:
					nd.SubnetMember = true
					if m := fr.SubnetMember.NodeMetrics; m != nil {
						nd.Subnet = m.SubnetAssigned
						if m.NumBlocksProposed != nil {
							nd.NumBlocksProposed = *m.NumBlocksProposed
						}
						if m.NumBlocksFailed != nil {
							nd.NumBlocksFailed = *m.NumBlocksFailed
						}
						nd.OriginalFailureRate = f64(m.OriginalFailureRate, "original_failure_rate", &errs)
						nd.RelativeFailureRate = f64(m.RelativeFailureRate, "relative_failure_rate", &errs)
						nd.SubnetAssignedFailureRate = f64(m.SubnetAssignedFailureRate, "subnet_assigned_failure_rate", &errs)
					}
				case fr.NonSubnetMember != nil:
					nd.ExtrapolatedFailureRate = f64(fr.NonSubnetMember.ExtrapolatedFailureRate, "extrapolated_failure_rate", &errs)
				}
			}
			if len(errs) > 0 {
				return nil, fmt.Errorf("provider %s: node %s: %v", p.Provider, nd.NodeID, errs)
			}
			pr.Nodes = append(pr.Nodes, nd)
		}
		out.Providers = append(out.Providers, pr)
	}
	return out, nil
}

// maxCandidTypes bounds the type table of a reply before agent-go decodes
// it: agent-go allocates per declared entry, so a few hostile bytes could
// claim millions of types. The NRC reply needs about 15.
const maxCandidTypes = 256

// candidHeaderSane checks the magic and the size of the type table.
func candidHeaderSane(b []byte) error {
	if !bytes.HasPrefix(b, []byte("DIDL")) {
		return errors.New("not Candid (no DIDL magic)")
	}
	n, err := leb128.DecodeUnsigned(bytes.NewReader(b[4:]))
	if err != nil {
		return fmt.Errorf("type table length: %w", err)
	}
	if !n.IsUint64() || n.Uint64() > maxCandidTypes {
		return fmt.Errorf("type table declares %s types, more than %d", n, maxCandidTypes)
	}
	return nil
}
