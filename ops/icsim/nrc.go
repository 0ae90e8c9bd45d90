package icsim

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/aviate-labs/agent-go/principal"
)

// The Node Rewards Canister (NRC, docs/ic-interfaces.md §2.3), newest interface
// (dfinity/ic 615d70a): per-node daily rewards computed from block metrics.
// The simulator keeps one NodeDay per node and day (from a scenario) and
// computes the day's results with the V1 algorithm:
//
//  1. original_fr = failed / (proposed + failed), 0 without blocks;
//  2. a subnet's failure rate is the 75th percentile of its nodes' original_fr
//     (index ceil(0.75 n) - 1 of the sorted values);
//  3. relative_fr = max(0, original_fr - subnet_fr);
//  4. a node outside any subnet gets its provider's mean relative_fr of the
//     day (0 if the provider has no subnet member that day);
//  5. reduction = 0 below 0.1, 0.8 above 0.6, linear between; multiplier =
//     1 - reduction;
//  6. daily base = monthly table rate / 30.4375; adjusted = base × multiplier;
//  7. provider totals are the sums truncated to u64.
//
// Type3 country grouping is not simulated: every node is rewarded at its
// own table rate.

const nrcTxt = "sgymv-uiaaa-aaaaa-aaaia-cai"

var nrcID = principal.MustDecode(nrcTxt)

// NRCID is the Node Rewards Canister id the simulator serves.
func NRCID() principal.Principal { return nrcID }

// daysPerMonth is 365.25 / 12: the NRC divides a monthly table rate by it.
const daysPerMonth = 30.4375

// nrcAlgorithmVersion is the only algorithm the simulator implements.
const nrcAlgorithmVersion = 1

// NodeDay is one node's metrics for one UTC day (scenario
// "node_daily_rewards"). With FromDay and ToDay instead of Day the entry
// stands for every day of that inclusive range.
type NodeDay struct {
	Day          *Date  `json:"day,omitempty"`
	FromDay      *Date  `json:"from_day,omitempty"`
	ToDay        *Date  `json:"to_day,omitempty"`
	NodeProvider string `json:"node_provider"`
	NodeID       string `json:"node_id"`
	// NodeRewardType is the registry's reward type, e.g. "type1.1".
	NodeRewardType string `json:"node_reward_type"`
	Region         string `json:"region"`
	DCID           string `json:"dc_id"`
	// Subnet is the subnet the node was assigned to that day; empty means
	// the node was not a subnet member (its failure rate is extrapolated).
	Subnet            string `json:"subnet,omitempty"`
	NumBlocksProposed uint64 `json:"num_blocks_proposed"`
	NumBlocksFailed   uint64 `json:"num_blocks_failed"`
	// BaseXDRPermyriadPerMonth is the reward table rate of the node's type
	// and region.
	BaseXDRPermyriadPerMonth uint64 `json:"base_xdr_permyriad_per_month"`
}

// nrcState is what the simulated NRC knows: one NodeDay per (day, node).
type nrcState struct {
	Days []NodeDay `json:"days"`
	// Nodes are node spans: nodes in the network from from_day to to_day
	// (open-ended while to_day is unset), nrc_nodes.go.
	Nodes []NodeDay `json:"nodes,omitempty"`
}

func newNRCState() *nrcState { return &nrcState{} }

func (d Date) time() time.Time {
	return time.Date(int(d.Year), time.Month(d.Month), int(d.Day), 0, 0, 0, 0, time.UTC)
}

func (d Date) valid() bool {
	if d.Year < 1970 || d.Month < 1 || d.Month > 12 || d.Day < 1 || d.Day > 31 {
		return false
	}
	t := d.time()
	return t.Day() == int(d.Day) && int(t.Month()) == int(d.Month)
}

func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day) }

func dateOf(t time.Time) Date {
	return Date{Year: uint32(t.Year()), Month: uint32(t.Month()), Day: uint32(t.Day())}
}

// maxNodeDayRange bounds one scenario entry's day range.
const maxNodeDayRange = 400

// expand validates e and returns one NodeDay per day it covers.
func (e NodeDay) expand() ([]NodeDay, error) {
	if _, err := principal.Decode(e.NodeProvider); err != nil {
		return nil, fmt.Errorf("node_provider %q: %w", e.NodeProvider, err)
	}
	if _, err := principal.Decode(e.NodeID); err != nil {
		return nil, fmt.Errorf("node_id %q: %w", e.NodeID, err)
	}
	if e.Subnet != "" {
		if _, err := principal.Decode(e.Subnet); err != nil {
			return nil, fmt.Errorf("subnet %q: %w", e.Subnet, err)
		}
	}
	var from, to Date
	switch {
	case e.Day != nil && e.FromDay == nil && e.ToDay == nil:
		from, to = *e.Day, *e.Day
	case e.Day == nil && e.FromDay != nil && e.ToDay != nil:
		from, to = *e.FromDay, *e.ToDay
	default:
		return nil, fmt.Errorf("node %s: set either day or both from_day and to_day", e.NodeID)
	}
	if !from.valid() || !to.valid() {
		return nil, fmt.Errorf("node %s: invalid date %s..%s", e.NodeID, from, to)
	}
	if to.time().Before(from.time()) || to.time().Sub(from.time()) > maxNodeDayRange*24*time.Hour {
		return nil, fmt.Errorf("node %s: day range %s..%s must be ascending and at most %d days", e.NodeID, from, to, maxNodeDayRange)
	}
	var out []NodeDay
	for t := from.time(); !t.After(to.time()); t = t.AddDate(0, 0, 1) {
		d := dateOf(t)
		n := e
		n.Day, n.FromDay, n.ToDay = &d, nil, nil
		out = append(out, n)
	}
	return out, nil
}

// add records days, replacing an earlier entry for the same node and day.
func (n *nrcState) add(days []NodeDay) {
	idx := map[string]int{}
	for i, d := range n.Days {
		idx[d.Day.String()+"/"+d.NodeID] = i
	}
	for _, d := range days {
		k := d.Day.String() + "/" + d.NodeID
		if i, ok := idx[k]; ok {
			n.Days[i] = d
			continue
		}
		idx[k] = len(n.Days)
		n.Days = append(n.Days, d)
	}
}

// Candid shapes of node-rewards-canister.did. Every variant arm is declared.

type candidNRCDate struct {
	Day   *uint32 `ic:"day"`
	Month *uint32 `ic:"month"`
	Year  *uint32 `ic:"year"`
}

type candidNRCVersion struct {
	Version uint32 `ic:"version"`
}

type candidNRCCalcRequest struct {
	Day              candidNRCDate     `ic:"day"`
	AlgorithmVersion *candidNRCVersion `ic:"algorithm_version"`
}

type candidNRCNodeMetrics struct {
	SubnetAssigned            *principal.Principal `ic:"subnet_assigned"`
	SubnetAssignedFailureRate *float64             `ic:"subnet_assigned_failure_rate"`
	NumBlocksProposed         *uint64              `ic:"num_blocks_proposed"`
	NumBlocksFailed           *uint64              `ic:"num_blocks_failed"`
	OriginalFailureRate       *float64             `ic:"original_failure_rate"`
	RelativeFailureRate       *float64             `ic:"relative_failure_rate"`
}

type candidNRCSubnetMember struct {
	NodeMetrics *candidNRCNodeMetrics `ic:"node_metrics"`
}

type candidNRCNonSubnetMember struct {
	ExtrapolatedFailureRate *float64 `ic:"extrapolated_failure_rate"`
}

type candidNRCFailureRate struct {
	SubnetMember    *candidNRCSubnetMember    `ic:"SubnetMember,variant"`
	NonSubnetMember *candidNRCNonSubnetMember `ic:"NonSubnetMember,variant"`
}

type candidNRCNodeRewards struct {
	NodeID                      *principal.Principal  `ic:"node_id"`
	NodeRewardType              *string               `ic:"node_reward_type"`
	Region                      *string               `ic:"region"`
	DCID                        *string               `ic:"dc_id"`
	DailyNodeFailureRate        *candidNRCFailureRate `ic:"daily_node_failure_rate"`
	PerformanceMultiplier       *float64              `ic:"performance_multiplier"`
	RewardsReduction            *float64              `ic:"rewards_reduction"`
	BaseRewardsXDRPermyriad     *float64              `ic:"base_rewards_xdr_permyriad"`
	AdjustedRewardsXDRPermyriad *float64              `ic:"adjusted_rewards_xdr_permyriad"`
}

type candidNRCBaseRewards struct {
	MonthlyXDRPermyriad *float64 `ic:"monthly_xdr_permyriad"`
	DailyXDRPermyriad   *float64 `ic:"daily_xdr_permyriad"`
	NodeRewardType      *string  `ic:"node_reward_type"`
	Region              *string  `ic:"region"`
}

type candidNRCType3BaseRewards struct {
	Region                 *string  `ic:"region"`
	NodesCount             *uint64  `ic:"nodes_count"`
	AvgRewardsXDRPermyriad *float64 `ic:"avg_rewards_xdr_permyriad"`
	AvgCoefficient         *float64 `ic:"avg_coefficient"`
	DailyXDRPermyriad      *float64 `ic:"daily_xdr_permyriad"`
}

type candidNRCProviderRewards struct {
	TotalBaseRewardsXDRPermyriad     *uint64                     `ic:"total_base_rewards_xdr_permyriad"`
	TotalAdjustedRewardsXDRPermyriad *uint64                     `ic:"total_adjusted_rewards_xdr_permyriad"`
	BaseRewards                      []candidNRCBaseRewards      `ic:"base_rewards"`
	BaseRewardsType3                 []candidNRCType3BaseRewards `ic:"base_rewards_type3"`
	DailyNodesRewards                []candidNRCNodeRewards      `ic:"daily_nodes_rewards"`
}

type candidNRCSubnetFailureRate struct {
	Subnet      principal.Principal `ic:"0,tuple"`
	FailureRate float64             `ic:"1,tuple"`
}

type candidNRCProviderResult struct {
	Provider principal.Principal      `ic:"0,tuple"`
	Rewards  candidNRCProviderRewards `ic:"1,tuple"`
}

type candidNRCDailyResults struct {
	SubnetsFailureRate []candidNRCSubnetFailureRate `ic:"subnets_failure_rate"`
	ProviderResults    []candidNRCProviderResult    `ic:"provider_results"`
}

type candidNRCCalcResponse struct {
	Ok  *candidNRCDailyResults `ic:"Ok,variant"`
	Err *string                `ic:"Err,variant"`
}

type candidNRCRewardsRequest struct {
	FromDay          candidNRCDate     `ic:"from_day"`
	ToDay            candidNRCDate     `ic:"to_day"`
	AlgorithmVersion *candidNRCVersion `ic:"algorithm_version"`
}

type candidNRCProviderXDR struct {
	Provider     principal.Principal `ic:"0,tuple"`
	XDRPermyriad uint64              `ic:"1,tuple"`
}

type candidNRCProvidersRewards struct {
	RewardsXDRPermyriad []candidNRCProviderXDR `ic:"rewards_xdr_permyriad"`
	AlgorithmVersion    candidNRCVersion       `ic:"algorithm_version"`
}

type candidNRCRewardsResponse struct {
	Ok  *candidNRCProvidersRewards `ic:"Ok,variant"`
	Err *string                    `ic:"Err,variant"`
}

func (d candidNRCDate) date() (Date, bool) {
	if d.Day == nil || d.Month == nil || d.Year == nil {
		return Date{}, false
	}
	out := Date{Year: *d.Year, Month: *d.Month, Day: *d.Day}
	return out, out.valid()
}

func ptr[T any](v T) *T { return &v }

// reduction is step 5 of the algorithm.
func reduction(relativeFR float64) float64 {
	const minFR, maxFR, maxReduction = 0.1, 0.6, 0.8
	switch {
	case relativeFR <= minFR:
		return 0
	case relativeFR >= maxFR:
		return maxReduction
	}
	return (relativeFR - minFR) / (maxFR - minFR) * maxReduction
}

func originalFR(n NodeDay) float64 {
	total := n.NumBlocksProposed + n.NumBlocksFailed
	if total == 0 {
		return 0
	}
	return float64(n.NumBlocksFailed) / float64(total)
}

// dailyResults computes DailyResults of day; ok is false when the NRC has
// no metrics for it.
func (n *nrcState) dailyResults(day Date) (candidNRCDailyResults, bool) {
	nodes := n.daysOf(day)
	if len(nodes) == 0 {
		return candidNRCDailyResults{}, false
	}
	sort.Slice(nodes, func(i, j int) bool {
		if nodes[i].NodeProvider != nodes[j].NodeProvider {
			return nodes[i].NodeProvider < nodes[j].NodeProvider
		}
		return nodes[i].NodeID < nodes[j].NodeID
	})
	// Step 2: subnet failure rates.
	bySubnet := map[string][]float64{}
	for _, d := range nodes {
		if d.Subnet != "" {
			bySubnet[d.Subnet] = append(bySubnet[d.Subnet], originalFR(d))
		}
	}
	subnetFR := map[string]float64{}
	var subnets []string
	for s, frs := range bySubnet {
		sort.Float64s(frs)
		subnetFR[s] = frs[int(math.Ceil(0.75*float64(len(frs))))-1]
		subnets = append(subnets, s)
	}
	sort.Strings(subnets)
	out := candidNRCDailyResults{SubnetsFailureRate: []candidNRCSubnetFailureRate{}, ProviderResults: []candidNRCProviderResult{}}
	for _, s := range subnets {
		out.SubnetsFailureRate = append(out.SubnetsFailureRate, candidNRCSubnetFailureRate{Subnet: principal.MustDecode(s), FailureRate: subnetFR[s]})
	}
	// Steps 3-4 per provider.
	for i := 0; i < len(nodes); {
		j := i
		for j < len(nodes) && nodes[j].NodeProvider == nodes[i].NodeProvider {
			j++
		}
		out.ProviderResults = append(out.ProviderResults, providerDay(nodes[i:j], subnetFR))
		i = j
	}
	return out, true
}

func providerDay(nodes []NodeDay, subnetFR map[string]float64) candidNRCProviderResult {
	var sum float64
	var members int
	rel := make([]float64, len(nodes))
	for i, d := range nodes {
		if d.Subnet != "" {
			rel[i] = math.Max(0, originalFR(d)-subnetFR[d.Subnet])
			sum += rel[i]
			members++
		}
	}
	extrapolated := 0.0
	if members > 0 {
		extrapolated = sum / float64(members)
	}
	res := candidNRCProviderRewards{BaseRewards: []candidNRCBaseRewards{}, BaseRewardsType3: []candidNRCType3BaseRewards{}, DailyNodesRewards: []candidNRCNodeRewards{}}
	var totalBase, totalAdjusted float64
	seenBase := map[string]bool{}
	for i, d := range nodes {
		fr := candidNRCFailureRate{}
		relFR := extrapolated
		if d.Subnet != "" {
			relFR = rel[i]
			fr.SubnetMember = &candidNRCSubnetMember{NodeMetrics: &candidNRCNodeMetrics{
				SubnetAssigned:            ptr(principal.MustDecode(d.Subnet)),
				SubnetAssignedFailureRate: ptr(subnetFR[d.Subnet]),
				NumBlocksProposed:         ptr(d.NumBlocksProposed),
				NumBlocksFailed:           ptr(d.NumBlocksFailed),
				OriginalFailureRate:       ptr(originalFR(d)),
				RelativeFailureRate:       ptr(rel[i]),
			}}
		} else {
			fr.NonSubnetMember = &candidNRCNonSubnetMember{ExtrapolatedFailureRate: ptr(extrapolated)}
		}
		red := reduction(relFR)
		mult := 1 - red
		base := float64(d.BaseXDRPermyriadPerMonth) / daysPerMonth
		adjusted := base * mult
		totalBase += base
		totalAdjusted += adjusted
		res.DailyNodesRewards = append(res.DailyNodesRewards, candidNRCNodeRewards{
			NodeID:                      ptr(principal.MustDecode(d.NodeID)),
			NodeRewardType:              ptr(d.NodeRewardType),
			Region:                      ptr(d.Region),
			DCID:                        ptr(d.DCID),
			DailyNodeFailureRate:        &fr,
			PerformanceMultiplier:       ptr(mult),
			RewardsReduction:            ptr(red),
			BaseRewardsXDRPermyriad:     ptr(base),
			AdjustedRewardsXDRPermyriad: ptr(adjusted),
		})
		if k := d.NodeRewardType + "/" + d.Region; !seenBase[k] {
			seenBase[k] = true
			res.BaseRewards = append(res.BaseRewards, candidNRCBaseRewards{
				MonthlyXDRPermyriad: ptr(float64(d.BaseXDRPermyriadPerMonth)),
				DailyXDRPermyriad:   ptr(base),
				NodeRewardType:      ptr(d.NodeRewardType),
				Region:              ptr(d.Region),
			})
		}
	}
	res.TotalBaseRewardsXDRPermyriad = ptr(uint64(totalBase))
	res.TotalAdjustedRewardsXDRPermyriad = ptr(uint64(totalAdjusted))
	return candidNRCProviderResult{Provider: principal.MustDecode(nodes[0].NodeProvider), Rewards: res}
}

var nrcMethods = map[string]method{
	"get_node_providers_rewards_calculation": {query: true, fn: nrcCalculation},
	"get_node_providers_rewards":             {fn: nrcProvidersRewards},
}

func checkAlgorithm(v *candidNRCVersion) *string {
	if v != nil && v.Version != nrcAlgorithmVersion {
		return ptr(fmt.Sprintf("algorithm version %d is not supported (simulator: %d)", v.Version, nrcAlgorithmVersion))
	}
	return nil
}

// nrcCalculation is get_node_providers_rewards_calculation: a query that the
// real NRC only answers non-replicated, so an update call traps.
func nrcCalculation(s *Server, c callContext, arg []byte) ([]byte, error) {
	if !c.query {
		return nil, trap("get_node_providers_rewards_calculation is only available in non-replicated query calls")
	}
	var req candidNRCCalcRequest
	if err := decodeArgs(arg, &req); err != nil {
		return nil, err
	}
	if e := checkAlgorithm(req.AlgorithmVersion); e != nil {
		return encode(candidNRCCalcResponse{Err: e})
	}
	day, ok := req.Day.date()
	if !ok {
		return encode(candidNRCCalcResponse{Err: ptr("day must be a valid date with day, month and year")})
	}
	today := dateOf(time.Unix(0, int64(c.now)).UTC())
	if !day.time().Before(today.time()) {
		return encode(candidNRCCalcResponse{Err: ptr(fmt.Sprintf("day %s is not in the past (today is %s)", day, today))})
	}
	res, ok := s.nrc.dailyResults(day)
	if !ok {
		return encode(candidNRCCalcResponse{Err: ptr(fmt.Sprintf("no node metrics for day %s", day))})
	}
	return encode(candidNRCCalcResponse{Ok: &res})
}

// nrcProvidersRewards is get_node_providers_rewards: the adjusted XDR of
// every provider over [from_day, to_day]; only Governance may call it.
func nrcProvidersRewards(s *Server, c callContext, arg []byte) ([]byte, error) {
	if !c.caller.Equal(governanceID) {
		return nil, &rejectError{code: 4, msg: fmt.Sprintf("only Governance may call get_node_providers_rewards, not %s", c.caller)}
	}
	var req candidNRCRewardsRequest
	if err := decodeArgs(arg, &req); err != nil {
		return nil, err
	}
	if e := checkAlgorithm(req.AlgorithmVersion); e != nil {
		return encode(candidNRCRewardsResponse{Err: e})
	}
	from, ok1 := req.FromDay.date()
	to, ok2 := req.ToDay.date()
	if !ok1 || !ok2 || to.time().Before(from.time()) {
		return encode(candidNRCRewardsResponse{Err: ptr("from_day and to_day must be valid dates, from_day <= to_day")})
	}
	sums := map[string]float64{}
	for t := from.time(); !t.After(to.time()); t = t.AddDate(0, 0, 1) {
		res, ok := s.nrc.dailyResults(dateOf(t))
		if !ok {
			continue
		}
		for _, p := range res.ProviderResults {
			for _, n := range p.Rewards.DailyNodesRewards {
				sums[p.Provider.String()] += *n.AdjustedRewardsXDRPermyriad
			}
		}
	}
	var nps []string
	for np := range sums {
		nps = append(nps, np)
	}
	sort.Strings(nps)
	out := candidNRCProvidersRewards{RewardsXDRPermyriad: []candidNRCProviderXDR{}, AlgorithmVersion: candidNRCVersion{Version: nrcAlgorithmVersion}}
	for _, np := range nps {
		out.RewardsXDRPermyriad = append(out.RewardsXDRPermyriad, candidNRCProviderXDR{Provider: principal.MustDecode(np), XDRPermyriad: uint64(sums[np])})
	}
	return encode(candidNRCRewardsResponse{Ok: &out})
}
