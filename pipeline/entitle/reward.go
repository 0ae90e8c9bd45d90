package entitle

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/nodeshare/nodeshare/pipeline/allocation"
	"github.com/nodeshare/nodeshare/pipeline/money"
	"github.com/nodeshare/nodeshare/schemas"
)

// Event is one record the processor emits: a fact for a topic under its
// deterministic key, which the process stage publishes once
// (stage.Publisher.PublishOnce) as it comes out of Reward.
type Event = schemas.Fact

// Params are the processor's inputs that are not events.
type Params struct {
	// LedgerFeeE8s is the ICP ledger fee the recipients bear (icrc1_fee).
	LedgerFeeE8s int64
	// MinimumICPXDRRate is the NNS minimum rate parameter (100 = 1 XDR per
	// ICP) used by the rates processor's floor; 0 means 100.
	MinimumICPXDRRate int64
}

// Role names of entitlement recipients.
const (
	RoleSponsor = "sponsor"
	RoleHoster  = "hoster"
)

// PeriodOf is the period id of a reward: the UTC date of its timestamp.
func PeriodOf(timestampSeconds uint64) string {
	return time.Unix(int64(timestampSeconds), 0).UTC().Format("2006-01-02")
}

// RewardEventID is the deterministic id (and key) of a reward event
// (schemas.NodeRewardKey).
func RewardEventID(r schemas.NodeReward) string {
	return schemas.NodeRewardKey(r.NodeProvider, r.TimestampSeconds)
}

// provenance of every derived event: deterministic, no wall clock.
var derived = schemas.Provenance{Source: "nodeshare", Method: "entitle"}

// Reward computes the pool periods and entitlements of one NP reward. The
// output is sorted (pool, role, recipient) and depends only on the state
// and the reward, so redelivery and replay give identical events.
func (s *State) Reward(r schemas.NodeReward, p Params) ([]Event, error) {
	if r.AmountE8s < 0 {
		return nil, fmt.Errorf("reward %s: amount_e8s must be >= 0, got %d", RewardEventID(r), r.AmountE8s)
	}
	if r.XDRPermyriadPerICP <= 0 {
		return nil, fmt.Errorf("reward %s: xdr_permyriad_per_icp must be > 0, got %d", RewardEventID(r), r.XDRPermyriadPerICP)
	}
	pools := s.poolsOf(r.NodeProvider, r.TimestampSeconds)
	if len(pools) == 0 {
		return nil, fmt.Errorf("reward %s: no pool of node provider %s earns rewards (none configured, none with its proposal adopted, and no crowdfunded pool active at %s)",
			RewardEventID(r), r.NodeProvider, time.Unix(int64(r.TimestampSeconds), 0).UTC().Format(time.RFC3339))
	}
	dao := pools[0].DAO
	for _, pl := range pools {
		if pl.DAO != dao {
			return nil, fmt.Errorf("reward %s: node provider %s has pools in two DAOs (%s, %s)", RewardEventID(r), r.NodeProvider, dao, pl.DAO)
		}
	}
	period := PeriodOf(r.TimestampSeconds)
	rewardAt := time.Unix(int64(r.TimestampSeconds), 0).UTC()

	// What passed votes changed (engagements.go, rules_adoption.go): a
	// reward whose pool has a vote closed before it but not yet decided
	// waits; each pool's rules version for the period is its record's or
	// the one its latest adopt_rules_version vote in force at the period's
	// start names, and the reward takes one version for all its pools (v2
	// when they mix v1 and v2); a pool whose hoster engagements changed
	// before the period's end is allocated with rules v2, and so is every
	// pool of the reward (a DAO period's manifest binds one rules version;
	// v2 with one engagement covering the period gives v1's numbers).
	end := int64(r.TimestampSeconds)
	start := s.periodStart(r.NodeProvider, end)
	timelines := make([][]engagement, len(pools))
	effects := make([][]schemas.VoteEffect, len(pools))
	adoptions := make([][]schemas.VoteEffect, len(pools))
	versions := make([]string, len(pools))
	poolVotes := make([][]poolVote, len(pools))
	changed := false
	for i, pl := range pools {
		if pl.Terms != nil {
			l := s.lifecycles[pl.DAO+"/"+pl.PoolID]
			if at, ok := rewardInstant(r.TimestampSeconds); ok {
				if err := l.pendingVote(RewardEventID(r), pl.PoolID, at); err != nil {
					return nil, err
				}
			}
			poolVotes[i] = l.votes
		}
		var c bool
		timelines[i], effects[i], c = hosterTimeline(pl, poolVotes[i], end)
		changed = changed || c
		versions[i], adoptions[i] = rulesVersionAt(pl, poolVotes[i], start, end)
	}
	version, err := rewardVersion(RewardEventID(r), pools, versions)
	if err != nil {
		return nil, err
	}
	allocVersion := version
	if changed {
		allocVersion = RulesV2
	}

	// Level 1: the NP reward to pools by node weight: the Node Rewards
	// Canister's per-node XDR for this reward period when it is known for
	// every node of every pool, else the configured weights (one source for
	// all pools, never a mix).
	nrc := s.nodeWeights[RewardEventID(r)]
	useNRC := len(nrc) > 0
	for _, pl := range pools {
		for _, n := range pl.Nodes {
			if _, ok := nrc[n.NodeID]; !ok {
				useNRC = false
			}
		}
	}
	weights := make([]allocation.PoolWeight, len(pools))
	weightOf := map[string]int64{}
	for i, pl := range pools {
		var w int64
		for _, n := range pl.Nodes {
			if useNRC {
				w += nrc[n.NodeID]
			} else {
				w += n.WeightXDRPermyriad
			}
		}
		weights[i] = allocation.PoolWeight{PoolID: pl.PoolID, WeightXDRPermyriad: money.XDRPermyriad(w)}
		weightOf[pl.PoolID] = w
	}
	source := WeightsConfigured
	if useNRC {
		source = WeightsNRC
	}
	grosses, err := allocation.SplitReward(version, money.E8s(r.AmountE8s), weights)
	if err != nil {
		return nil, fmt.Errorf("reward %s: split between pools: %w", RewardEventID(r), err)
	}
	grossOf := map[string]money.E8s{}
	for _, g := range grosses {
		grossOf[g.PoolID] = g.GrossE8s
	}

	var out []Event
	for i, pl := range pools {
		in, err := s.poolInput(pl, period, rewardAt, grossOf[pl.PoolID], r, p)
		if err != nil {
			return nil, fmt.Errorf("reward %s: %w", RewardEventID(r), err)
		}
		ef := adoptions[i]
		if allocVersion == RulesV2 {
			// v2's hosters replace v1's hoster: the engagements inside
			// [start, end), each with its carry (engagements.go).
			in.Hoster = allocation.HosterTerms{}
			in.Hosters = s.engagementsIn(pl, timelines[i], start, end, period).engagements
			if in.Hosters == nil {
				in.Hosters = []allocation.HosterEngagement{}
			}
			in.PeriodStartUnixSeconds, in.PeriodEndUnixSeconds = start, end
			ef = inCloseOrder(poolVotes[i], effects[i], adoptions[i])
		}
		res, err := allocation.Allocate(allocVersion, in)
		if err != nil {
			return nil, fmt.Errorf("reward %s: pool %s: %w", RewardEventID(r), pl.PoolID, err)
		}
		evs, err := poolEvents(pl, period, RewardEventID(r), in, res, source, weightOf[pl.PoolID], ef)
		if err != nil {
			return nil, err
		}
		out = append(out, evs...)
	}
	return out, nil
}

func (s *State) poolInput(pl schemas.Pool, period string, rewardAt time.Time, gross money.E8s, r schemas.NodeReward, p Params) (allocation.PoolPeriod, error) {
	in := allocation.PoolPeriod{
		PoolID:                 pl.PoolID,
		Period:                 period,
		GrossE8s:               gross,
		RateXDRPermyriadPerICP: money.XDRPermyriadPerICP(r.XDRPermyriadPerICP),
		Hoster: allocation.HosterTerms{
			Account:           pl.Hoster.Account,
			FixedXDRPermyriad: money.XDRPermyriad(pl.Hoster.FixedXDRPermyriad),
			FeeBps:            money.Bps(pl.Hoster.Bps),
			CarryInE8s:        money.E8s(s.hosterCarryIn(pl.DAO, pl.PoolID, pl.Hoster.Account, period)),
		},
		DAOFeeBps:       money.Bps(pl.DAOFeeBps),
		WhalePremiumBps: money.Bps(pl.WhalePremiumBps),
		LedgerFeeE8s:    money.E8s(p.LedgerFeeE8s),
		MinPayoutE8s:    money.E8s(pl.MinPayoutE8s),
		CarryIn:         map[string]money.E8s{},
	}
	if pl.Terms != nil {
		// A crowdfunded pool's contributions are its lifecycle's stakes,
		// one per sponsor account, which come only from the ledger's
		// blocks: contributions typed onto dao.contributions.v1 for it are
		// ignored. poolsOf returned it, so its state has it active at the
		// reward, and every stake was accepted before it settled.
		for _, st := range s.lifecycles[pl.DAO+"/"+pl.PoolID].stakes {
			in.Contributions = append(in.Contributions, allocation.Contribution{
				ID: st.account, Sponsor: st.account, AmountE8s: money.E8s(st.acceptedE8s), At: st.firstAt,
			})
			if ci := s.carryIn(pl.DAO, pl.PoolID, RoleSponsor, st.account, period); ci != 0 {
				in.CarryIn[st.account] = money.E8s(ci)
			}
		}
		return in, nil
	}
	for _, c := range s.contributionsOf(pl.DAO, pl.PoolID) {
		at, err := time.Parse(time.RFC3339, c.At)
		if err != nil {
			return in, fmt.Errorf("pool %s: contribution %s: at must be RFC 3339, got %q", pl.PoolID, c.ContributionID, c.At)
		}
		if at.After(rewardAt) {
			continue // funded after this reward: counts from the next period
		}
		in.Contributions = append(in.Contributions, allocation.Contribution{
			ID: c.ContributionID, Sponsor: c.Sponsor, AmountE8s: money.E8s(c.AmountE8s), At: at,
		})
		if ci := s.carryIn(pl.DAO, pl.PoolID, RoleSponsor, c.Sponsor, period); ci != 0 {
			in.CarryIn[c.Sponsor] = money.E8s(ci)
		}
	}
	return in, nil
}

// Sources of the level-1 weights.
const (
	WeightsNRC        = "nrc"        // ic.node-period-weights.v1 (Node Rewards Canister)
	WeightsConfigured = "configured" // the pool configuration's node weights
)

func poolEvents(pl schemas.Pool, period, rewardID string, in allocation.PoolPeriod, res allocation.PoolResult, weightSource string, weight int64, effects []schemas.VoteEffect) ([]Event, error) {
	manifest, err := allocation.ManifestSHA256(res)
	if err != nil {
		return nil, fmt.Errorf("pool %s: manifest: %w", pl.PoolID, err)
	}
	inputJSON, err := encodeInput(in)
	if err != nil {
		return nil, fmt.Errorf("pool %s: encode input: %w", pl.PoolID, err)
	}
	outputJSON, err := encodeResult(res)
	if err != nil {
		return nil, fmt.Errorf("pool %s: encode result: %w", pl.PoolID, err)
	}
	inSum := sha256.Sum256(inputJSON)
	why := explain(res)

	var out []Event
	pp := schemas.PoolPeriod{
		DAO: pl.DAO, Period: period, PoolID: pl.PoolID, RulesVersion: res.RulesVersion, RewardEventID: rewardID,
		GrossE8s: int64(res.GrossE8s), HosterFeeE8s: int64(res.HosterFeeE8s), DAOFeeE8s: int64(res.DAOFeeE8s),
		DistributableE8s: int64(res.DistributableE8s), Whale: res.Whale, Recipients: len(res.Shares) + 1,
		InputsSHA256: hex.EncodeToString(inSum[:]), ManifestSHA256: manifest,
		InputJSON: string(inputJSON), AllocationJSON: string(outputJSON), Votes: effects,
	}
	if res.HasEngagements() {
		pp.Recipients = len(res.Shares) + len(res.Hosters)
	}
	if weightSource == WeightsNRC {
		// Only NRC-weighted periods say so: a configured-weight period keeps
		// the bytes it had before the field existed, so replays of old
		// periods stay byte-identical.
		pp.WeightSource, pp.WeightXDRPermyriad = weightSource, weight
	}
	ev, err := event(schemas.TypePoolPeriod, schemas.PoolPeriodKey(pl.DAO, period, pl.PoolID), pp)
	if err != nil {
		return nil, err
	}
	out = append(out, ev)

	for _, hoster := range hosterEntitlements(pl, period, res, manifest, why) {
		ev, err = event(schemas.TypeEntitlement, schemas.EntitlementKey(pl.DAO, period, pl.PoolID, hoster.Role, hoster.Recipient), hoster)
		if err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	for _, sh := range res.Shares {
		e := schemas.Entitlement{
			DAO: pl.DAO, Period: period, PoolID: pl.PoolID, Recipient: sh.Sponsor, Role: RoleSponsor,
			RulesVersion: res.RulesVersion, StakeE8s: int64(sh.StakeE8s), ShareE8s: int64(sh.ShareE8s),
			CarryInE8s: int64(sh.CarryInE8s), OwedE8s: int64(sh.OwedE8s()), TransferE8s: int64(sh.TransferE8s),
			FeeE8s: int64(sh.FeeE8s), CarryOutE8s: int64(sh.CarryOutE8s), ManifestSHA256: manifest,
			Explanation: why[RoleSponsor+":"+sh.Sponsor],
		}
		ev, err := event(schemas.TypeEntitlement, schemas.EntitlementKey(pl.DAO, period, pl.PoolID, RoleSponsor, sh.Sponsor), e)
		if err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, nil
}

func event(typ, key string, payload any) (Event, error) {
	env, err := schemas.NewEnvelope(typ, key, derived, payload)
	if err != nil {
		return Event{}, err
	}
	return Event{Topic: schemas.TopicEntitlements, Key: key, Envelope: env}, nil
}

// RulesV2 is the allocation rules version with hoster engagements
// (ALLOCATION_RULES "Version v2").
const RulesV2 = "v2"

// hosterEntitlements are the hoster's lines of a pool period: v1's one
// hoster, or one per v2 engagement in order of from, the n-th of an
// account under HosterRole(n).
func hosterEntitlements(pl schemas.Pool, period string, res allocation.PoolResult, manifest string, why map[string]string) []schemas.Entitlement {
	if !res.HasEngagements() {
		h := res.Hoster
		return []schemas.Entitlement{{
			DAO: pl.DAO, Period: period, PoolID: pl.PoolID, Recipient: h.Account, Role: RoleHoster,
			RulesVersion: res.RulesVersion, ShareE8s: int64(res.HosterFeeE8s), CarryInE8s: int64(h.CarryInE8s),
			OwedE8s: int64(h.OwedE8s), TransferE8s: int64(h.TransferE8s), FeeE8s: int64(h.FeeE8s),
			CarryOutE8s: int64(h.CarryOutE8s), ManifestSHA256: manifest, Explanation: why[RoleHoster+":"+h.Account],
		}}
	}
	out := make([]schemas.Entitlement, 0, len(res.Hosters))
	seen := map[string]int{}
	for j, h := range res.Hosters {
		seen[h.Account]++
		out = append(out, schemas.Entitlement{
			DAO: pl.DAO, Period: period, PoolID: pl.PoolID, Recipient: h.Account, Role: HosterRole(seen[h.Account]),
			RulesVersion: res.RulesVersion, ShareE8s: int64(h.HosterFeeE8s), CarryInE8s: int64(h.CarryInE8s),
			OwedE8s: int64(h.OwedE8s), TransferE8s: int64(h.TransferE8s), FeeE8s: int64(h.FeeE8s),
			CarryOutE8s: int64(h.CarryOutE8s), ManifestSHA256: manifest, Explanation: allocation.EngagementStatement(res, j),
		})
	}
	return out
}
