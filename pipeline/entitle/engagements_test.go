package entitle

import (
	"encoding/json"
	"errors"
	"math/big"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nodeshare/nodeshare/pipeline/allocation"
	"github.com/nodeshare/nodeshare/schemas"
)

// The two rewards of these tests: the previous one at prevT and this one
// at rewardSec, L = 2,600,000 s apart.
const (
	prevT     = int64(1_787_400_000)
	rewardSec = int64(1_790_000_000) // rewardT
)

// hosterA and hosterB are the hosters' accounts.
var hosterA, hosterB = acct(0x0a), acct(0x0b)

func govPool(t *testing.T, version string) schemas.Envelope {
	p := schemas.Pool{DAO: "d", PoolID: "cf", NodeProvider: "np", Nodes: []schemas.Node{{NodeID: "n2", WeightXDRPermyriad: 1}},
		Hoster: schemas.HosterTerms{Account: hosterA, FixedXDRPermyriad: 10_000, Bps: 1000}, DAOFeeBps: 200, WhalePremiumBps: 3500, RulesVersion: version,
		Terms: &schemas.PoolTerms{TermsVersion: 1, TargetE8s: 100_00000000, MaxSponsorBps: 4000}}
	return mustEnv(t, schemas.TypePool, "cf", p)
}

// prevPeriod is the pool period of the node provider's previous reward, as
// the processor published it: its timestamp starts this reward's period.
func prevPeriod(t *testing.T) schemas.Envelope {
	pp := schemas.PoolPeriod{DAO: "d", Period: PeriodOf(uint64(prevT)), PoolID: "cf", RulesVersion: "v1",
		RewardEventID: schemas.NodeRewardKey("np", uint64(prevT)), Recipients: 5}
	return mustEnv(t, schemas.TypePoolPeriod, schemas.PoolPeriodKey("d", pp.Period, "cf"), pp)
}

func withVotes(st schemas.PoolState, votes ...schemas.PoolVote) schemas.PoolState {
	st.Votes = votes
	return st
}

// rewardT0 is when the pool settled, before both rewards.
const rewardT0 = "2026-03-01T00:00:00Z"

func unixText(sec int64) string { return time.Unix(sec, 0).UTC().Format(time.RFC3339) }

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// decide applies evs and decides the reward: the pool period and the
// entitlements by role/recipient.
func decide(t *testing.T, r schemas.NodeReward, evs ...schemas.Envelope) (schemas.PoolPeriod, map[string]schemas.Entitlement) {
	t.Helper()
	st := NewState()
	for _, e := range evs {
		if err := st.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	out, err := st.Reward(r, Params{LedgerFeeE8s: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	var pp schemas.PoolPeriod
	ents := map[string]schemas.Entitlement{}
	for _, ev := range out {
		switch ev.Envelope.Type {
		case schemas.TypePoolPeriod:
			if err := ev.Envelope.DecodePayload(schemas.TypePoolPeriod, &pp); err != nil {
				t.Fatal(err)
			}
		case schemas.TypeEntitlement:
			var e schemas.Entitlement
			if err := ev.Envelope.DecodePayload(schemas.TypeEntitlement, &e); err != nil {
				t.Fatal(err)
			}
			if ev.Key != schemas.EntitlementKey(e.DAO, e.Period, e.PoolID, e.Role, e.Recipient) {
				t.Fatalf("entitlement key %s for %s/%s", ev.Key, e.Role, e.Recipient)
			}
			if _, dup := ents[e.Role+"/"+e.Recipient]; dup {
				t.Fatalf("two entitlements %s/%s", e.Role, e.Recipient)
			}
			ents[e.Role+"/"+e.Recipient] = e
		}
	}
	if pp.Recipients != len(ents) {
		t.Fatalf("pool period announces %d recipients, %d entitlements", pp.Recipients, len(ents))
	}
	return pp, ents
}

// expectedFee is v2's H_j by the formula, computed here with big
// integers: floor((floor(fixed * 1e8 / rate) + floor(G * bps / 10000)) * o / L).
func expectedFee(g, rate, fixed, bps, o, l int64) int64 {
	a := new(big.Int).Quo(new(big.Int).Mul(big.NewInt(fixed), big.NewInt(100_000_000)), big.NewInt(rate))
	a.Add(a, new(big.Int).Quo(new(big.Int).Mul(big.NewInt(g), big.NewInt(bps)), big.NewInt(10_000)))
	a.Mul(a, big.NewInt(o))
	return a.Quo(a, big.NewInt(l)).Int64()
}

func conserve(t *testing.T, pp schemas.PoolPeriod, ents map[string]schemas.Entitlement) {
	t.Helper()
	var hoster, shares int64
	for _, e := range ents {
		if e.OwedE8s != e.ShareE8s+e.CarryInE8s || e.OwedE8s != e.TransferE8s+e.FeeE8s+e.CarryOutE8s {
			t.Fatalf("%s %s: owed %d does not add up", e.Role, e.Recipient, e.OwedE8s)
		}
		if IsHosterRole(e.Role) {
			hoster += e.ShareE8s
		} else {
			shares += e.ShareE8s
		}
	}
	if hoster != pp.HosterFeeE8s || pp.GrossE8s != hoster+pp.DAOFeeE8s+shares {
		t.Fatalf("gross %d != hoster %d + dao %d + shares %d (hoster fee %d)", pp.GrossE8s, hoster, pp.DAOFeeE8s, shares, pp.HosterFeeE8s)
	}
}

// A passed terminate_hoster vote closing a third of the way into the
// period: the period is allocated with v2, the hoster is paid exactly
// floor(fee * o / L) for the seconds it was engaged, the sponsors share
// the rest (less the DAO fee), to the e8s, and the pool period names the
// vote and the engagement it cut.
func TestTerminateHosterMidPeriod(t *testing.T) {
	const o = int64(866_667) // seconds of the engagement inside the period
	closes := prevT + o
	r := cfReward()
	vote := schemas.PoolVote{VoteID: "v-term", Kind: "terminate_hoster", Subject: `{"hoster":"` + hosterA + `"}`,
		OpenedAt: unixText(prevT), ClosesAt: unixText(closes), Status: "passed"}
	pp, ents := decide(t, r, govPool(t, "v1"), prevPeriod(t), stateEnv(t, withVotes(cfState(rewardT0, ""), vote)))

	g := r.AmountE8s // the only pool of the node provider
	l := rewardSec - prevT
	wantH := expectedFee(g, r.XDRPermyriadPerICP, 10_000, 1000, o, l)
	h, ok := ents["hoster/"+hosterA]
	if !ok || h.ShareE8s != wantH || h.TransferE8s != wantH-10_000 || h.RulesVersion != "v2" {
		t.Fatalf("hoster %+v, want share %d (o %d of L %d)", h, wantH, o, l)
	}
	wantDAO := (g - wantH) * 200 / 10_000
	if pp.RulesVersion != "v2" || pp.HosterFeeE8s != wantH || pp.DAOFeeE8s != wantDAO || pp.DistributableE8s != g-wantH-wantDAO {
		t.Fatalf("pool period %+v", pp)
	}
	conserve(t, pp, ents)
	if len(ents) != 5 {
		t.Fatalf("%d entitlements, want the hoster and 4 sponsors", len(ents))
	}
	want := []schemas.VoteEffect{{VoteID: "v-term", Kind: "terminate_hoster", ClosesAt: unixText(closes), EffectiveUnixSeconds: closes,
		Effect: "ends the engagement of " + hosterA + " at " + itoa(closes)}}
	if !equalEffects(pp.Votes, want) {
		t.Fatalf("evidence %+v, want %+v", pp.Votes, want)
	}
	// The stored input is v2's allocate document: an auditor recomputes it.
	in, err := allocation.DecodePoolPeriodJSONV2(strings.NewReader(pp.InputJSON))
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Hosters) != 1 || in.Hosters[0].FromUnixSeconds != prevT || in.Hosters[0].ToUnixSeconds != closes ||
		in.PeriodStartUnixSeconds != prevT || in.PeriodEndUnixSeconds != rewardSec {
		t.Fatalf("input %+v", in)
	}
	res, err := allocation.Allocate("v2", in)
	if err != nil {
		t.Fatal(err)
	}
	if m, _ := allocation.ManifestSHA256(res); m != pp.ManifestSHA256 {
		t.Fatalf("recomputed manifest %s, stored %s", m, pp.ManifestSHA256)
	}
}

// change_hoster_terms twice in one period: the same account's two
// engagements are two recipients (hoster, hoster#2) that do not collide,
// a new hoster in between is paid its seconds, and the whole period adds
// up. A vote that failed, and one closing after the reward, change nothing.
func TestChangeHosterTermsEngagements(t *testing.T) {
	r := cfReward()
	l := rewardSec - prevT
	c1, c2 := prevT+1_000_000, prevT+2_000_000
	votes := []schemas.PoolVote{
		{VoteID: "v1", Kind: "change_hoster_terms", Subject: `{"account":"` + hosterB + `","fixed_xdr_permyriad":0,"bps":500}`, ClosesAt: unixText(c1), Status: "passed"},
		{VoteID: "v2", Kind: "change_hoster_terms", Subject: `{"account":"` + hosterA + `","fixed_xdr_permyriad":0,"bps":2000}`, ClosesAt: unixText(c2), Status: "passed"},
		{VoteID: "v3", Kind: "terminate_hoster", Subject: `{"hoster":"` + hosterA + `"}`, ClosesAt: unixText(c1 + 10), Status: "failed"},
		{VoteID: "v4", Kind: "terminate_hoster", Subject: `{"hoster":"` + hosterA + `"}`, ClosesAt: unixText(rewardSec + 10), Status: "open"},
	}
	pp, ents := decide(t, r, govPool(t, "v1"), prevPeriod(t), stateEnv(t, withVotes(cfState(rewardT0, ""), votes...)))
	g := r.AmountE8s
	wants := map[string]int64{
		"hoster/" + hosterA:   expectedFee(g, r.XDRPermyriadPerICP, 10_000, 1000, c1-prevT, l),
		"hoster/" + hosterB:   expectedFee(g, r.XDRPermyriadPerICP, 0, 500, c2-c1, l),
		"hoster#2/" + hosterA: expectedFee(g, r.XDRPermyriadPerICP, 0, 2000, rewardSec-c2, l),
	}
	for k, w := range wants {
		if ents[k].ShareE8s != w {
			t.Errorf("%s: share %d, want %d", k, ents[k].ShareE8s, w)
		}
	}
	conserve(t, pp, ents)
	if len(pp.Votes) != 2 || pp.Votes[0].VoteID != "v1" || pp.Votes[1].VoteID != "v2" {
		t.Fatalf("evidence %+v, want v1 and v2", pp.Votes)
	}
}

// Nothing passed: the period keeps the pool's rules (v1), byte for byte
// as before; the pool period carries no votes.
func TestNoPassedVoteKeepsV1(t *testing.T) {
	vote := schemas.PoolVote{VoteID: "v", Kind: "terminate_hoster", Subject: `{"hoster":"` + hosterA + `"}`, ClosesAt: unixText(prevT + 5), Status: "failed"}
	pp, ents := decide(t, cfReward(), govPool(t, "v1"), prevPeriod(t), stateEnv(t, withVotes(cfState(rewardT0, ""), vote)))
	if pp.RulesVersion != "v1" || pp.Votes != nil || ents["hoster/"+hosterA].RulesVersion != "v1" {
		t.Fatalf("pool period %+v", pp)
	}
	raw, _ := json.Marshal(pp)
	if strings.Contains(string(raw), `"votes"`) {
		t.Fatalf("a v1 period without votes names votes: %s", raw)
	}
}

// A vote that closed before the reward but is still open in the pool's
// state (no fact after its close yet) holds the reward: deciding now
// could pay a terminated hoster. The error is transient: the stage waits.
func TestOpenVoteBeforeRewardWaits(t *testing.T) {
	vote := schemas.PoolVote{VoteID: "v-term", Kind: "terminate_hoster", Subject: `{"hoster":"` + hosterA + `"}`, ClosesAt: unixText(prevT + 5), Status: "open"}
	st := NewState()
	for _, e := range []schemas.Envelope{govPool(t, "v1"), prevPeriod(t), stateEnv(t, withVotes(cfState(rewardT0, ""), vote))} {
		if err := st.Apply(e); err != nil {
			t.Fatal(err)
		}
	}
	_, err := st.Reward(cfReward(), Params{LedgerFeeE8s: 10_000})
	var pending *PendingError
	if !errors.As(err, &pending) || pending.VoteID != "v-term" || !pending.IsTransient() {
		t.Fatalf("err %v, want the reward pending on v-term", err)
	}
}

// A passed vote whose subject is not its kind's JSON (opened before
// subjects were structured) changes nothing, and the pool period says why.
func TestUnstructuredSubjectChangesNothing(t *testing.T) {
	vote := schemas.PoolVote{VoteID: "v-old", Kind: "terminate_hoster", Subject: "hoster h: unauthorized access", ClosesAt: unixText(prevT + 5), Status: "passed"}
	pp, ents := decide(t, cfReward(), govPool(t, "v1"), prevPeriod(t), stateEnv(t, withVotes(cfState(rewardT0, ""), vote)))
	if pp.RulesVersion != "v1" || len(ents) != 5 {
		t.Fatalf("pool period %+v", pp)
	}
}

// A node provider's first reward has no earlier reward: its period is the
// NNS reward period before it.
func TestFirstRewardPeriod(t *testing.T) {
	closes := rewardSec - 1000
	vote := schemas.PoolVote{VoteID: "v", Kind: "terminate_hoster", Subject: `{"hoster":"` + hosterA + `"}`, ClosesAt: unixText(closes), Status: "passed"}
	r := cfReward()
	pp, ents := decide(t, r, govPool(t, "v1"), stateEnv(t, withVotes(cfState(rewardT0, ""), vote)))
	want := expectedFee(r.AmountE8s, r.XDRPermyriadPerICP, 10_000, 1000, NNSRewardPeriodSeconds-1000, NNSRewardPeriodSeconds)
	if ents["hoster/"+hosterA].ShareE8s != want {
		t.Fatalf("hoster %d, want %d", ents["hoster/"+hosterA].ShareE8s, want)
	}
	conserve(t, pp, ents)
}

func equalEffects(a, b []schemas.VoteEffect) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
