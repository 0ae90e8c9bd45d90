package entitle

import (
	"bytes"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/nodeshare/nodeshare/pipeline/allocation"
	"github.com/nodeshare/nodeshare/schemas"
)

func mustEnv(t *testing.T, typ, id string, v any) schemas.Envelope {
	t.Helper()
	e, err := schemas.NewEnvelope(typ, id, schemas.Provenance{Source: "test"}, v)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func fixture(t *testing.T) ([]schemas.Envelope, schemas.NodeReward) {
	pools := []schemas.Pool{
		{DAO: "d", PoolID: "p1", NodeProvider: "np", Nodes: []schemas.Node{{NodeID: "n1", WeightXDRPermyriad: 3}},
			Hoster: schemas.HosterTerms{Account: "h", FixedXDRPermyriad: 10_000, Bps: 1000}, DAOFeeBps: 200, WhalePremiumBps: 3500, MinPayoutE8s: 0, RulesVersion: "v1", ProposalStatus: "adopted"},
		{DAO: "d", PoolID: "p2", NodeProvider: "np", Nodes: []schemas.Node{{NodeID: "n2", WeightXDRPermyriad: 1}},
			Hoster: schemas.HosterTerms{Account: "h", Bps: 500}, DAOFeeBps: 0, WhalePremiumBps: 0, MinPayoutE8s: 200_00000000, RulesVersion: "v1", ProposalStatus: "adopted"},
	}
	var evs []schemas.Envelope
	for _, p := range pools {
		evs = append(evs, mustEnv(t, schemas.TypePool, p.PoolID, p))
	}
	contrib := func(pool, id, sponsor string, amt int64, at string) {
		evs = append(evs, mustEnv(t, schemas.TypeContribution, id, schemas.Contribution{DAO: "d", PoolID: pool, ContributionID: id, Sponsor: sponsor, AmountE8s: amt, At: at}))
	}
	contrib("p1", "c1", "whale", 30_00000000, "2026-01-01T00:00:00Z")
	for i := 0; i < 10; i++ {
		contrib("p1", fmt.Sprintf("c%d", i+2), fmt.Sprintf("s%02d", i), int64(50_000_000+i*15_000_000), "2026-01-02T00:00:00Z")
	}
	contrib("p1", "late", "s-late", 5_00000000, "2026-12-01T00:00:00Z") // after the reward: not counted
	contrib("p2", "c20", "a", 1_00000000, "2026-01-03T00:00:00Z")
	contrib("p2", "c21", "b", 1_00000000, "2026-01-03T00:00:00Z")
	r := schemas.NodeReward{NodeProvider: "np", TimestampSeconds: 1_790_000_000, AmountE8s: 100_000_000_003, XDRPermyriadPerICP: 35_000}
	return evs, r
}

func run(t *testing.T, evs []schemas.Envelope, r schemas.NodeReward) []Event {
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
	return out
}

func TestRewardConservesAndIsOrderIndependent(t *testing.T) {
	evs, r := fixture(t)
	out := run(t, evs, r)
	var gross, periods int64
	perPool := map[string]int64{} // gross - hoster - dao - sum(shares), must end at 0
	for _, ev := range out {
		switch ev.Envelope.Type {
		case schemas.TypePoolPeriod:
			var p schemas.PoolPeriod
			if err := ev.Envelope.DecodePayload(ev.Envelope.Type, &p); err != nil {
				t.Fatal(err)
			}
			gross += p.GrossE8s
			perPool[p.PoolID] += p.GrossE8s - p.HosterFeeE8s - p.DAOFeeE8s
			periods++
		case schemas.TypeEntitlement:
			var e schemas.Entitlement
			if err := ev.Envelope.DecodePayload(ev.Envelope.Type, &e); err != nil {
				t.Fatal(err)
			}
			if e.Recipient == "s-late" {
				t.Fatal("a contribution made after the reward was counted")
			}
			if e.Role == RoleSponsor {
				perPool[e.PoolID] -= e.ShareE8s
			}
			if e.OwedE8s != e.TransferE8s+e.FeeE8s+e.CarryOutE8s {
				t.Fatalf("%s: owed %d != transfer+fee+carry", e.Recipient, e.OwedE8s)
			}
		}
	}
	if periods != 2 || gross != r.AmountE8s {
		t.Fatalf("level 1: %d pool periods with gross %d, reward %d", periods, gross, r.AmountE8s)
	}
	for pool, rest := range perPool {
		if rest != 0 {
			t.Fatalf("pool %s: gross - hoster - dao - shares = %d, want 0", pool, rest)
		}
	}
	// Any order of the state events gives byte-identical output.
	rng := rand.New(rand.NewSource(7))
	for i := 0; i < 20; i++ {
		perm := append([]schemas.Envelope(nil), evs...)
		rng.Shuffle(len(perm), func(a, b int) { perm[a], perm[b] = perm[b], perm[a] })
		again := run(t, perm, r)
		if len(again) != len(out) {
			t.Fatalf("seed 7 shuffle %d: %d events vs %d", i, len(again), len(out))
		}
		for j := range out {
			a, _ := out[j].Envelope.Marshal()
			b, _ := again[j].Envelope.Marshal()
			if out[j].Key != again[j].Key || !bytes.Equal(a, b) {
				t.Fatalf("seed 7 shuffle %d: event %d differs (%s vs %s)", i, j, out[j].Key, again[j].Key)
			}
		}
	}
}

// The stored input re-allocates, through the public contract decoder, to
// the stored manifest: what an auditor does with `nodeshare allocate`.
func TestStoredInputRecomputesManifest(t *testing.T) {
	evs, r := fixture(t)
	for _, ev := range run(t, evs, r) {
		if ev.Envelope.Type != schemas.TypePoolPeriod {
			continue
		}
		var p schemas.PoolPeriod
		if err := ev.Envelope.DecodePayload(ev.Envelope.Type, &p); err != nil {
			t.Fatal(err)
		}
		in, err := allocation.DecodePoolPeriodJSON(bytes.NewReader([]byte(p.InputJSON)))
		if err != nil {
			t.Fatalf("pool %s: stored input does not decode: %v", p.PoolID, err)
		}
		res, err := allocation.Allocate(p.RulesVersion, in)
		if err != nil {
			t.Fatal(err)
		}
		m, err := allocation.ManifestSHA256(res)
		if err != nil || m != p.ManifestSHA256 {
			t.Fatalf("pool %s: recomputed manifest %s, stored %s (%v)", p.PoolID, m, p.ManifestSHA256, err)
		}
	}
}

// Carry-out of one period is the carry-in of the next.
func TestCarryForward(t *testing.T) {
	evs, r := fixture(t)
	first := run(t, evs, r)
	carried := map[string]int64{}
	for _, ev := range first {
		if ev.Envelope.Type == schemas.TypeEntitlement {
			var e schemas.Entitlement
			_ = ev.Envelope.DecodePayload(ev.Envelope.Type, &e)
			if e.CarryOutE8s > 0 {
				carried[e.PoolID+"/"+e.Recipient] = e.CarryOutE8s
			}
			evs = append(evs, ev.Envelope)
		}
	}
	if len(carried) == 0 {
		t.Fatal("fixture must leave someone below the minimum payout")
	}
	r2 := r
	r2.TimestampSeconds += 2_629_800
	for _, ev := range run(t, evs, r2) {
		if ev.Envelope.Type == schemas.TypeEntitlement {
			var e schemas.Entitlement
			_ = ev.Envelope.DecodePayload(ev.Envelope.Type, &e)
			if c, ok := carried[e.PoolID+"/"+e.Recipient]; ok && e.CarryInE8s != c {
				t.Fatalf("%s/%s: carry-in %d, previous carry-out %d", e.PoolID, e.Recipient, e.CarryInE8s, c)
			}
		}
	}
}

func TestRewardErrorsNameTheProblem(t *testing.T) {
	evs, r := fixture(t)
	st := NewState()
	for _, e := range evs {
		_ = st.Apply(e)
	}
	bad := r
	bad.XDRPermyriadPerICP = 0
	if _, err := st.Reward(bad, Params{LedgerFeeE8s: 10_000}); err == nil {
		t.Fatal("zero rate accepted")
	}
	bad = r
	bad.NodeProvider = "unknown"
	if _, err := st.Reward(bad, Params{}); err == nil {
		t.Fatal("reward for an unknown node provider accepted")
	}
	if err := st.Apply(mustEnv(t, schemas.TypePool, "x", schemas.Pool{DAO: "d", PoolID: "x"})); err == nil {
		t.Fatal("pool without node provider accepted")
	}
}

// NRC per-node weights replace the configured ones when every node has
// one for the reward, and never partly.
func TestNRCWeightsWhenPresentForEveryNode(t *testing.T) {
	evs, r := fixture(t)
	split := func(evs []schemas.Envelope) map[string]int64 {
		out := map[string]int64{}
		for _, ev := range run(t, evs, r) {
			if ev.Envelope.Type == schemas.TypePoolPeriod {
				var p schemas.PoolPeriod
				_ = ev.Envelope.DecodePayload(ev.Envelope.Type, &p)
				out[p.PoolID] = p.GrossE8s
				out[p.PoolID+"/source="+p.WeightSource] = p.WeightXDRPermyriad
			}
		}
		return out
	}
	configured := split(evs) // configured weights 3:1
	if configured["p1/source="] != 0 || configured["p1/source=nrc"] != 0 || configured["p1"] != r.AmountE8s*3/4+1 && configured["p1"] != r.AmountE8s*3/4 {
		t.Fatalf("configured split: %v", configured)
	}
	w := func(node string, x int64) schemas.Envelope {
		return mustEnv(t, schemas.TypeNodePeriodWeight, "w-"+node, schemas.NodePeriodWeight{NodeProvider: "np",
			RewardTimestampSeconds: r.TimestampSeconds, RewardEventID: RewardEventID(r), NodeID: node, WeightXDRPermyriad: x})
	}
	partial := split(append(append([]schemas.Envelope(nil), evs...), w("n1", 1)))
	if partial["p1"] != configured["p1"] || partial["p1/source=nrc"] != 0 {
		t.Fatalf("one node without an NRC weight must keep the configured weights: %v", partial)
	}
	full := split(append(append([]schemas.Envelope(nil), evs...), w("n1", 1), w("n2", 1)))
	if full["p1/source=nrc"] != 1 || full["p1"] != r.AmountE8s/2+1 && full["p1"] != r.AmountE8s/2 {
		t.Fatalf("NRC split 1:1: %v", full)
	}
}

// Allocated is true only when every pool period and every entitlement of
// the reward is on the topic.
func TestAllocatedNeedsEveryRecord(t *testing.T) {
	evs, r := fixture(t)
	out := run(t, evs, r)
	st := NewState()
	for _, e := range evs {
		_ = st.Apply(e)
	}
	if st.Allocated(r) {
		t.Fatal("allocated before anything was published")
	}
	for i, ev := range out {
		if err := st.Apply(ev.Envelope); err != nil {
			t.Fatal(err)
		}
		if done := st.Allocated(r); done != (i == len(out)-1) {
			t.Fatalf("after %d of %d records: allocated=%v", i+1, len(out), done)
		}
	}
}

// Only pools whose NNS proposal was adopted earn rewards: a rejected or
// failed pool of the same node provider gets no pool period and no
// entitlement (its sponsors are refunded by the pool lifecycle), and the
// whole reward goes to the adopted pools.
func TestRejectedPoolsEarnNothing(t *testing.T) {
	evs, r := fixture(t)
	for _, status := range []string{ProposalRejected, ProposalFailed} {
		t.Run(status, func(t *testing.T) {
			p2 := schemas.Pool{DAO: "d", PoolID: "p2", NodeProvider: "np", Nodes: []schemas.Node{{NodeID: "n2", WeightXDRPermyriad: 1}},
				Hoster: schemas.HosterTerms{Account: "h", Bps: 500}, RulesVersion: "v1", ProposalStatus: status, SlashBps: 500}
			out := run(t, append(append([]schemas.Envelope(nil), evs...), mustEnv(t, schemas.TypePool, "p2", p2)), r)
			var gross int64
			for _, ev := range out {
				if strings.Contains(ev.Key, "/p2") {
					t.Fatalf("the %s pool p2 got %s", status, ev.Key)
				}
				if ev.Envelope.Type == schemas.TypePoolPeriod {
					var pp schemas.PoolPeriod
					if err := ev.Envelope.DecodePayload(schemas.TypePoolPeriod, &pp); err != nil {
						t.Fatal(err)
					}
					gross += pp.GrossE8s
				}
			}
			if gross != r.AmountE8s {
				t.Fatalf("the adopted pools got %d of the reward's %d e8s", gross, r.AmountE8s)
			}
		})
	}
	// A node provider with no adopted pool: the reward is refused, naming why.
	p1 := schemas.Pool{DAO: "d", PoolID: "p1", NodeProvider: "np", Nodes: []schemas.Node{{NodeID: "n1", WeightXDRPermyriad: 3}},
		Hoster: schemas.HosterTerms{Account: "h", Bps: 500}, RulesVersion: "v1", ProposalStatus: ProposalRejected}
	st := NewState()
	if err := st.Apply(mustEnv(t, schemas.TypePool, "p1", p1)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Reward(r, Params{LedgerFeeE8s: 10_000}); err == nil || !strings.Contains(err.Error(), "proposal adopted") {
		t.Fatalf("want the reward refused for want of an adopted pool, got %v", err)
	}
	// An unknown proposal status is invalid input.
	p1.ProposalStatus = "maybe"
	if err := NewState().Apply(mustEnv(t, schemas.TypePool, "p1", p1)); err == nil || !strings.Contains(err.Error(), `proposal_status must be adopted, rejected or failed, got "maybe"`) {
		t.Fatalf("unknown proposal_status: %v", err)
	}
}
