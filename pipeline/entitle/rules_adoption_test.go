package entitle

import (
	"strings"
	"testing"

	"github.com/nodeshare/nodeshare/schemas"
)

// periodAt is the pool period of the node provider's reward at sec, as the
// processor published it: its timestamp starts the next reward's period.
func periodAt(t *testing.T, sec int64) schemas.Envelope {
	pp := schemas.PoolPeriod{DAO: "d", Period: PeriodOf(uint64(sec)), PoolID: "cf", RulesVersion: "v1",
		RewardEventID: schemas.NodeRewardKey("np", uint64(sec)), Recipients: 5}
	return mustEnv(t, schemas.TypePoolPeriod, schemas.PoolPeriodKey("d", pp.Period, "cf"), pp)
}

func adoptVote(id, version string, closes int64) schemas.PoolVote {
	return schemas.PoolVote{VoteID: id, Kind: "adopt_rules_version", Subject: `{"rules_version":"` + version + `"}`,
		OpenedAt: unixText(closes - 100), ClosesAt: unixText(closes), Status: "passed"}
}

// sameNumbers fails unless two decisions of one reward pay every recipient
// the same e8s (the version aside).
func sameNumbers(t *testing.T, a, b map[string]schemas.Entitlement) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%d entitlements, want %d", len(a), len(b))
	}
	for k, e := range a {
		f, ok := b[k]
		if !ok || e.ShareE8s != f.ShareE8s || e.TransferE8s != f.TransferE8s || e.FeeE8s != f.FeeE8s || e.CarryOutE8s != f.CarryOutE8s {
			t.Fatalf("%s: %+v, want the numbers of %+v", k, e, f)
		}
	}
}

// A passed adopt_rules_version vote that closes inside a period does not
// change that period (it keeps the pool's v1, and says why); the next
// period, which starts after the close, is allocated with v2. With the
// pool's one hoster engaged all along, v2 pays exactly v1's numbers.
func TestAdoptRulesVersionFromTheNextPeriod(t *testing.T) {
	closes := prevT + 1_000_000
	vote := adoptVote("v-rules", "v2", closes)
	state := stateEnv(t, withVotes(cfState(rewardT0, ""), vote))

	pp, ents := decide(t, cfReward(), govPool(t, "v1"), prevPeriod(t), state)
	if pp.RulesVersion != "v1" || ents["hoster/"+hosterA].RulesVersion != "v1" {
		t.Fatalf("the period the vote closed in is %s, want the pool's v1", pp.RulesVersion)
	}
	want := []schemas.VoteEffect{{VoteID: "v-rules", Kind: "adopt_rules_version", ClosesAt: unixText(closes), EffectiveUnixSeconds: closes,
		Effect: "none in this period: it took effect at " + itoa(closes) + ", after the period's start " + itoa(prevT) + "; rules v2 from the first period that starts at or after " + itoa(closes)}}
	if !equalEffects(pp.Votes, want) {
		t.Fatalf("evidence %+v, want %+v", pp.Votes, want)
	}

	// The next reward: its period starts at rewardSec, after the close.
	next := cfReward()
	next.TimestampSeconds = uint64(rewardSec + 2_600_000)
	pp2, ents2 := decide(t, next, govPool(t, "v1"), prevPeriod(t), periodAt(t, rewardSec), state)
	if pp2.RulesVersion != "v2" || ents2["hoster/"+hosterA].RulesVersion != "v2" {
		t.Fatalf("the next period is %s, want v2", pp2.RulesVersion)
	}
	want[0].Effect = "the pool's rules are v2 for the periods that start at or after " + itoa(closes) + " (was v1): this period starts at " + itoa(rewardSec)
	if !equalEffects(pp2.Votes, want) {
		t.Fatalf("evidence %+v, want %+v", pp2.Votes, want)
	}
	conserve(t, pp2, ents2)
	_, v1 := decide(t, next, govPool(t, "v1"), prevPeriod(t), periodAt(t, rewardSec), stateEnv(t, cfState(rewardT0, "")))
	sameNumbers(t, ents2, v1)
}

// A vote whose effect is exactly the period's start applies to it ("at or
// before the start"); of two adoptions in force, the later one wins and
// the earlier one says it was superseded; a failed vote and a vote that
// names an unknown version change nothing.
func TestAdoptRulesVersionLatestInForce(t *testing.T) {
	votes := []schemas.PoolVote{
		adoptVote("a1", "v2", prevT-500),
		adoptVote("a2", "v1", prevT-400),
		adoptVote("a3", "v2", prevT),
		{VoteID: "a4", Kind: "adopt_rules_version", Subject: `{"rules_version":"v1"}`, ClosesAt: unixText(prevT - 10), Status: "failed"},
		adoptVote("a5", "v9", prevT-5),
	}
	pp, _ := decide(t, cfReward(), govPool(t, "v1"), prevPeriod(t), stateEnv(t, withVotes(cfState(rewardT0, ""), votes...)))
	if pp.RulesVersion != "v2" {
		t.Fatalf("rules %s, want v2 (a3, effective at the period's start)", pp.RulesVersion)
	}
	got := map[string]string{}
	var order []string
	for _, e := range pp.Votes {
		got[e.VoteID] = e.Effect
		order = append(order, e.VoteID)
	}
	if strings.Join(order, ",") != "a1,a2,a5,a3" {
		t.Fatalf("evidence in order %v, want the close order a1,a2,a5,a3 (no failed a4)", order)
	}
	for id, prefix := range map[string]string{
		"a1": "none: superseded by vote a2 (rules v1)",
		"a2": "none: superseded by vote a3 (rules v2)",
		"a5": "none: unknown rules version \"v9\"",
		"a3": "the pool's rules are v2 for the periods that start at or after " + itoa(prevT) + " (was v1)",
	} {
		if !strings.HasPrefix(got[id], prefix) {
			t.Errorf("%s: effect %q, want it to start %q", id, got[id], prefix)
		}
	}
}

// Every pool of a reward shares one version: when only the crowdfunded
// pool adopted v2, the legacy pool of the same node provider is allocated
// with v2 too, and both keep the numbers v1 gives them (one engagement
// each, covering the period).
func TestAdoptRulesVersionOnePoolOfTwo(t *testing.T) {
	vote := adoptVote("v-rules", "v2", prevT-100)
	base := append(legacyPool(t), govPool(t, "v1"), prevPeriod(t))
	adopted := append(append([]schemas.Envelope{}, base...), stateEnv(t, withVotes(cfState(rewardT0, ""), vote)))
	out := run(t, adopted, cfReward())
	v1 := run(t, append(append([]schemas.Envelope{}, base...), stateEnv(t, cfState(rewardT0, ""))), cfReward())
	if len(out) != len(v1) {
		t.Fatalf("%d events, want %d", len(out), len(v1))
	}
	versions := map[string]string{}
	for i, ev := range out {
		switch ev.Envelope.Type {
		case schemas.TypePoolPeriod:
			var a, b schemas.PoolPeriod
			if err := ev.Envelope.DecodePayload(schemas.TypePoolPeriod, &a); err != nil {
				t.Fatal(err)
			}
			if err := v1[i].Envelope.DecodePayload(schemas.TypePoolPeriod, &b); err != nil {
				t.Fatal(err)
			}
			versions[a.PoolID] = a.RulesVersion
			if a.GrossE8s != b.GrossE8s || a.HosterFeeE8s != b.HosterFeeE8s || a.DAOFeeE8s != b.DAOFeeE8s || a.DistributableE8s != b.DistributableE8s {
				t.Fatalf("pool %s: %+v, want v1's numbers %+v", a.PoolID, a, b)
			}
		case schemas.TypeEntitlement:
			var a, b schemas.Entitlement
			if err := ev.Envelope.DecodePayload(schemas.TypeEntitlement, &a); err != nil {
				t.Fatal(err)
			}
			if err := v1[i].Envelope.DecodePayload(schemas.TypeEntitlement, &b); err != nil {
				t.Fatal(err)
			}
			if a.Recipient != b.Recipient || a.ShareE8s != b.ShareE8s || a.TransferE8s != b.TransferE8s || a.CarryOutE8s != b.CarryOutE8s {
				t.Fatalf("%s/%s: %+v, want v1's numbers %+v", a.PoolID, a.Recipient, a, b)
			}
		}
	}
	if versions["p1"] != "v2" || versions["cf"] != "v2" {
		t.Fatalf("versions %v, want v2 for both pools", versions)
	}
}

// A mix of versions other than v1 and v2 is refused, naming both pools.
func TestRewardVersionMix(t *testing.T) {
	pools := []schemas.Pool{{PoolID: "a"}, {PoolID: "b"}, {PoolID: "c"}}
	if v, err := rewardVersion("r", pools, []string{"v1", "v1", "v1"}); v != "v1" || err != nil {
		t.Fatalf("%q %v", v, err)
	}
	if v, err := rewardVersion("r", pools, []string{"v1", "v2", "v1"}); v != "v2" || err != nil {
		t.Fatalf("%q %v", v, err)
	}
	if _, err := rewardVersion("r", pools, []string{"v1", "v3", "v1"}); err == nil || !strings.Contains(err.Error(), "a has v1, b has v3") {
		t.Fatalf("err %v", err)
	}
}
