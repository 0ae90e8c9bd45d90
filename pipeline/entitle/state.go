package entitle

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nodeshare/nodeshare/schemas"
)

// State is what the processor knows before a reward arrives.
type State struct {
	pools         map[string]schemas.Pool         // dao/pool
	contributions map[string]schemas.Contribution // dao/pool/contribution id
	// lifecycles[dao/pool] = the pool's latest lifecycle state (in log
	// order) from dao.pool-lifecycle.v1; read for crowdfunded pools only.
	lifecycles map[string]lifecycleState
	// carry[dao/pool/role/recipient][period] = carry_out of that period.
	carry map[string]map[string]int64
	// hosterCarry[dao/pool/account][period][role] = carry_out of each of
	// the account's hoster engagements in that period (engagements.go).
	hosterCarry map[string]map[string]map[string]int64
	// rewardTimes[node provider] = the timestamps of its rewards that have
	// pool periods: a reward period starts at the previous one.
	rewardTimes map[string][]int64
	// nodeWeights[reward event id][node id] = NRC weight (XDR permyriad).
	nodeWeights map[string]map[string]int64
	// periods[reward event id][dao/period/pool] = recipients announced by
	// the pool period; entitled[dao/period/pool] = entitlements seen.
	periods  map[string]map[string]int
	entitled map[string]int
}

// NewState returns an empty state.
func NewState() *State {
	return &State{
		pools:         map[string]schemas.Pool{},
		contributions: map[string]schemas.Contribution{},
		lifecycles:    map[string]lifecycleState{},
		carry:         map[string]map[string]int64{},
		hosterCarry:   map[string]map[string]map[string]int64{},
		rewardTimes:   map[string][]int64{},
		nodeWeights:   map[string]map[string]int64{},
		periods:       map[string]map[string]int{},
		entitled:      map[string]int{},
	}
}

// Apply folds one event into the state. Events of types the processor does
// not track are ignored; a malformed event is an error (the caller
// dead-letters it).
func (s *State) Apply(env schemas.Envelope) error {
	switch env.Type {
	case schemas.TypePool:
		var p schemas.Pool
		if err := env.DecodePayload(schemas.TypePool, &p); err != nil {
			return err
		}
		if err := ValidatePool(p); err != nil {
			return fmt.Errorf("event %s: %w", env.EventID, err)
		}
		s.pools[p.DAO+"/"+p.PoolID] = p
	case schemas.TypeContribution:
		var c schemas.Contribution
		if err := env.DecodePayload(schemas.TypeContribution, &c); err != nil {
			return err
		}
		key := c.DAO + "/" + c.PoolID + "/" + c.ContributionID
		if prev, ok := s.contributions[key]; ok && prev != c {
			return fmt.Errorf("event %s: contribution %s republished with different content", env.EventID, key)
		}
		s.contributions[key] = c
	case schemas.TypePoolState:
		var st schemas.PoolState
		if err := env.DecodePayload(schemas.TypePoolState, &st); err != nil {
			return err
		}
		l, err := parsePoolState(st)
		if err != nil {
			return fmt.Errorf("event %s: %w", env.EventID, err)
		}
		// The lifecycle processor publishes a new state each time the pool
		// changes: the latest in log order is the pool's state.
		s.lifecycles[st.DAO+"/"+st.PoolID] = l
	case schemas.TypePoolTransfer:
		// What the lifecycle owes (refunds, settlement, bond) is paid by
		// the payout path; it does not change who earns a reward.
	case schemas.TypeNodePeriodWeight:
		var w schemas.NodePeriodWeight
		if err := env.DecodePayload(schemas.TypeNodePeriodWeight, &w); err != nil {
			return err
		}
		if w.WeightXDRPermyriad < 0 {
			return fmt.Errorf("event %s: weight_xdr_permyriad must be >= 0, got %d", env.EventID, w.WeightXDRPermyriad)
		}
		if s.nodeWeights[w.RewardEventID] == nil {
			s.nodeWeights[w.RewardEventID] = map[string]int64{}
		}
		s.nodeWeights[w.RewardEventID][w.NodeID] = w.WeightXDRPermyriad
	case schemas.TypePoolPeriod:
		var p schemas.PoolPeriod
		if err := env.DecodePayload(schemas.TypePoolPeriod, &p); err != nil {
			return err
		}
		if s.periods[p.RewardEventID] == nil {
			s.periods[p.RewardEventID] = map[string]int{}
		}
		s.periods[p.RewardEventID][p.DAO+"/"+p.Period+"/"+p.PoolID] = p.Recipients
		// The reward event id is <node provider>/<timestamp seconds>
		// (schemas.NodeRewardKey).
		if i := strings.LastIndexByte(p.RewardEventID, '/'); i > 0 {
			if ts, err := strconv.ParseInt(p.RewardEventID[i+1:], 10, 64); err == nil {
				np := p.RewardEventID[:i]
				if !slices.Contains(s.rewardTimes[np], ts) {
					s.rewardTimes[np] = append(s.rewardTimes[np], ts)
				}
			}
		}
	case schemas.TypeEntitlement:
		var e schemas.Entitlement
		if err := env.DecodePayload(schemas.TypeEntitlement, &e); err != nil {
			return err
		}
		s.entitled[e.DAO+"/"+e.Period+"/"+e.PoolID]++
		k := carryKey(e.DAO, e.PoolID, e.Role, e.Recipient)
		if s.carry[k] == nil {
			s.carry[k] = map[string]int64{}
		}
		s.carry[k][e.Period] = e.CarryOutE8s
		if IsHosterRole(e.Role) {
			hk := e.DAO + "/" + e.PoolID + "/" + e.Recipient
			if s.hosterCarry[hk] == nil {
				s.hosterCarry[hk] = map[string]map[string]int64{}
			}
			if s.hosterCarry[hk][e.Period] == nil {
				s.hosterCarry[hk][e.Period] = map[string]int64{}
			}
			s.hosterCarry[hk][e.Period][e.Role] = e.CarryOutE8s
		}
	}
	return nil
}

// ValidatePool checks a pool configuration, naming the field.
func ValidatePool(p schemas.Pool) error {
	switch {
	case p.DAO == "":
		return fmt.Errorf("pool: dao is empty")
	case p.PoolID == "":
		return fmt.Errorf("pool %s: pool_id is empty", p.DAO)
	case schemas.ValidateID("dao", p.DAO) != nil:
		return fmt.Errorf("pool: %w", schemas.ValidateID("dao", p.DAO))
	case schemas.ValidateID("pool_id", p.PoolID) != nil:
		return fmt.Errorf("pool %s: %w", p.DAO, schemas.ValidateID("pool_id", p.PoolID))
	case p.NodeProvider == "":
		return fmt.Errorf("pool %s: node_provider is empty", p.PoolID)
	case len(p.Nodes) == 0:
		return fmt.Errorf("pool %s: nodes is empty", p.PoolID)
	case p.RulesVersion == "":
		return fmt.Errorf("pool %s: rules_version is empty", p.PoolID)
	case p.Hoster.Account == "":
		return fmt.Errorf("pool %s: hoster.account is empty", p.PoolID)
	case p.Terms != nil && p.ProposalStatus != "":
		return fmt.Errorf("pool %s: proposal_status must be empty for a crowdfunded pool (its lifecycle follows the NNS proposal), got %q", p.PoolID, p.ProposalStatus)
	case p.Terms == nil && p.ProposalStatus != ProposalAdopted && p.ProposalStatus != ProposalRejected && p.ProposalStatus != ProposalFailed:
		return fmt.Errorf("pool %s: proposal_status must be adopted, rejected or failed, got %q", p.PoolID, p.ProposalStatus)
	case p.SlashBps < 0 || p.SlashBps > 10_000:
		return fmt.Errorf("pool %s: slash_bps must be in 0..10000, got %d", p.PoolID, p.SlashBps)
	}
	for i, n := range p.Nodes {
		if n.WeightXDRPermyriad < 0 {
			return fmt.Errorf("pool %s: nodes[%d] (%s): weight_xdr_permyriad must be >= 0, got %d", p.PoolID, i, n.NodeID, n.WeightXDRPermyriad)
		}
	}
	return nil
}

func carryKey(dao, pool, role, recipient string) string {
	return dao + "/" + pool + "/" + role + "/" + recipient
}

// carryIn is the carry-out of the latest period before period.
func (s *State) carryIn(dao, pool, role, recipient, period string) int64 {
	byPeriod := s.carry[carryKey(dao, pool, role, recipient)]
	best := ""
	for p := range byPeriod {
		if p < period && p > best {
			best = p
		}
	}
	if best == "" {
		return 0
	}
	return byPeriod[best]
}

// A legacy pool's NNS proposal (proposal_status): only a pool whose
// proposal was adopted runs a node and earns rewards; a rejected or failed
// pool is refunded by its lifecycle (docs/pool-rules.md), never allocated a
// reward.
const (
	ProposalAdopted  = "adopted"
	ProposalRejected = "rejected"
	ProposalFailed   = "failed"
)

// poolsOf lists the pools of node provider np that earn the reward minted
// at rewardSeconds, sorted by DAO and pool id: a legacy pool (no lifecycle
// terms) when its proposal was adopted; a crowdfunded pool when its latest
// lifecycle state has it active at that instant (settled at or before it,
// not retired at or before it; crowdfunded.go). Reward and Allocated both
// ask here, so they agree on the pools of a reward.
func (s *State) poolsOf(np string, rewardSeconds uint64) []schemas.Pool {
	at, atOK := rewardInstant(rewardSeconds)
	var out []schemas.Pool
	for key, p := range s.pools {
		if p.NodeProvider != np {
			continue
		}
		if p.Terms == nil {
			if p.ProposalStatus == ProposalAdopted {
				out = append(out, p)
			}
			continue
		}
		if l, ok := s.lifecycles[key]; ok && atOK && l.activeAt(at) {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].DAO != out[j].DAO {
			return out[i].DAO < out[j].DAO
		}
		return out[i].PoolID < out[j].PoolID
	})
	return out
}

// contributionsOf returns the pool's contributions, sorted by id: those
// typed onto dao.contributions.v1. A crowdfunded pool's come from its
// lifecycle's stakes instead (poolInput).
func (s *State) contributionsOf(dao, pool string) []schemas.Contribution {
	var out []schemas.Contribution
	for _, c := range s.contributions {
		if c.DAO == dao && c.PoolID == pool {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ContributionID < out[j].ContributionID })
	return out
}

// Validate checks one input record of the processor: the envelope's type
// matches the topic and the payload is well formed. The error names the
// field and the value; the caller dead-letters the record.
func Validate(topic string, env schemas.Envelope) error {
	want := InputTypes[topic]
	if want == "" {
		return nil
	}
	return ValidateType(want, topic, env)
}

// InputTypes maps each input topic of the processor to its event type.
var InputTypes = map[string]string{
	schemas.TopicPools:         schemas.TypePool,
	schemas.TopicContributions: schemas.TypeContribution,
	schemas.TopicRates:         schemas.TypeRate,
	schemas.TopicNodeRewards:   schemas.TypeNodeReward,
}

// ValidateType checks that env is a well-formed event of type want (read
// from topic, named in errors).
func ValidateType(want, topic string, env schemas.Envelope) error {
	if env.Type != want {
		return fmt.Errorf("event %s: type must be %q on %s, got %q", env.EventID, want, topic, env.Type)
	}
	switch want {
	case schemas.TypePool:
		var p schemas.Pool
		if err := env.DecodePayload(want, &p); err != nil {
			return err
		}
		return ValidatePool(p)
	case schemas.TypeContribution:
		var c schemas.Contribution
		if err := env.DecodePayload(want, &c); err != nil {
			return err
		}
		return ValidateContribution(c)
	case schemas.TypeRate:
		var r schemas.Rate
		if err := env.DecodePayload(want, &r); err != nil {
			return err
		}
		if r.Kind != "spot" && r.Kind != "avg30" && r.Kind != "nns" {
			return fmt.Errorf("rate %s: kind must be \"spot\", \"avg30\" or \"nns\", got %q", env.EventID, r.Kind)
		}
		if r.XDRPermyriadPerICP <= 0 {
			return fmt.Errorf("rate %s: xdr_permyriad_per_icp must be > 0, got %d", env.EventID, r.XDRPermyriadPerICP)
		}
	case schemas.TypeNodeReward:
		var r schemas.NodeReward
		if err := env.DecodePayload(want, &r); err != nil {
			return err
		}
		switch {
		case r.NodeProvider == "":
			return fmt.Errorf("reward %s: node_provider is empty", env.EventID)
		case r.AmountE8s < 0:
			return fmt.Errorf("reward %s: amount_e8s must be >= 0, got %d", env.EventID, r.AmountE8s)
		case r.XDRPermyriadPerICP <= 0:
			return fmt.Errorf("reward %s: xdr_permyriad_per_icp must be > 0, got %d", env.EventID, r.XDRPermyriadPerICP)
		case r.TimestampSeconds == 0:
			return fmt.Errorf("reward %s: timestamp_seconds must be set", env.EventID)
		}
	}
	return nil
}

// ValidateContribution checks one contribution, naming the field.
func ValidateContribution(c schemas.Contribution) error {
	switch {
	case c.DAO == "" || c.PoolID == "":
		return fmt.Errorf("contribution %s: dao and pool_id must be set", c.ContributionID)
	case c.ContributionID == "":
		return fmt.Errorf("contribution of pool %s: contribution_id is empty", c.PoolID)
	case schemas.ValidateID("dao", c.DAO) != nil || schemas.ValidateID("pool_id", c.PoolID) != nil || schemas.ValidateID("contribution_id", c.ContributionID) != nil:
		return fmt.Errorf("contribution %s: %w", c.ContributionID, errors.Join(schemas.ValidateID("dao", c.DAO), schemas.ValidateID("pool_id", c.PoolID), schemas.ValidateID("contribution_id", c.ContributionID)))
	case c.Sponsor == "":
		return fmt.Errorf("contribution %s: sponsor is empty", c.ContributionID)
	case c.AmountE8s <= 0:
		return fmt.Errorf("contribution %s: amount_e8s must be > 0, got %d", c.ContributionID, c.AmountE8s)
	}
	if _, err := time.Parse(time.RFC3339, c.At); err != nil {
		return fmt.Errorf("contribution %s: at must be RFC 3339, got %q", c.ContributionID, c.At)
	}
	return nil
}

// Allocated reports whether every pool that earns the reward (poolsOf, as
// Reward decides) has its pool period and every announced entitlement on
// the topic: the reward is fully decided and must not be recomputed.
func (s *State) Allocated(r schemas.NodeReward) bool {
	pps := s.periods[RewardEventID(r)]
	if len(pps) == 0 {
		return false
	}
	for _, pl := range s.poolsOf(r.NodeProvider, r.TimestampSeconds) {
		found := false
		for k := range pps {
			if strings.HasPrefix(k, pl.DAO+"/") && strings.HasSuffix(k, "/"+pl.PoolID) {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	for k, n := range pps {
		if s.entitled[k] != n {
			return false
		}
	}
	return true
}
