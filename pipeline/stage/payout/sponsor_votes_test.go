package payout_test

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/nodeshare/nodeshare/pipeline/stage/payout"
	"github.com/nodeshare/nodeshare/pipeline/stage/payout/payouttest"
	"github.com/nodeshare/nodeshare/schemas"
)

// twoPoolWorld is a planned, unapproved period of two pools, pool-sim and
// pool-b, with a funded treasury.
func twoPoolWorld(t *testing.T, seed uint64) *refusalWorld {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed))
	dao, period := "refusal-dao", "2026-11-01T06:00:00Z"
	ents, pools := payouttest.SimPeriod(rng, dao, period, 3, 10_000)
	ents2, pools2 := payouttest.SimPeriod(rng, dao, period, 3, 10_000)
	for i := range ents2 {
		ents2[i].PoolID = "pool-b"
	}
	pools2[0].PoolID = "pool-b"
	w := newRefusalWorldOf(t, dao, period, append(ents, ents2...), append(pools, pools2...), exactly, false)
	w.store.Votes = map[string][]schemas.PoolVote{}
	return w
}

// vote records a vote of pool in its latest state: an approve_manifest
// vote naming period and sha, with status.
func (w *refusalWorld) vote(pool, id, status, period, sha string) {
	w.store.Mu.Lock()
	defer w.store.Mu.Unlock()
	w.store.Votes[w.dao+"/"+pool] = append(w.store.Votes[w.dao+"/"+pool], schemas.PoolVote{VoteID: id, Kind: schemas.VoteKindApproveManifest,
		Subject: `{"period":"` + period + `","manifest_sha256":"` + sha + `"}`, OpenedAt: "2026-11-01T07:00:00Z", ClosesAt: "2026-11-08T07:00:00Z", Status: status})
}

// A manifest approved by a passed approve_manifest vote of every pool
// counts as approved without any signed approval: the run pays it and
// names the votes; status says so.
func TestPayoutApprovedBySponsorsVotes(t *testing.T) {
	ctx := context.Background()
	w := twoPoolWorld(t, 31)
	w.vote("pool-sim", "va", "passed", w.period, w.m.SHA256)
	w.vote("pool-b", "vb", "passed", w.period, w.m.SHA256)
	w.vote("pool-b", "vc", "failed", w.period, w.m.SHA256) // a failed vote beside a passed one changes nothing
	st, err := w.engine(nil).Status(ctx, w.dao, w.period)
	if err != nil || !st.Approved || !st.Sponsors.Approved || len(st.Approvers) != 0 {
		t.Fatalf("status %+v (%v): want approved by the sponsors' votes, with no signed approval", st.Sponsors, err)
	}
	sum, err := w.engine(nil).Run(ctx, w.dao, w.period, payout.RunOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(sum.ApprovedByVotes, ",") != "pool-b/vb,pool-sim/va" {
		t.Fatalf("approved by %v, want pool-b/vb and pool-sim/va", sum.ApprovedByVotes)
	}
	if sum.Paid != len(w.m.Intents) || w.transfers() != len(w.m.Intents) {
		t.Fatalf("paid %d, %d transfers, want %d", sum.Paid, w.transfers(), len(w.m.Intents))
	}
}

// Refused: a vote of only one of the two pools, a failed or open vote, a
// vote naming another hash or another period, or a vote of another kind.
// Nothing is signed and the error says what is missing.
func TestPayoutSponsorsVotesRefusals(t *testing.T) {
	ctx := context.Background()
	other := strings.Repeat("ab", 32)
	cases := []struct {
		name  string
		votes func(w *refusalWorld)
		want  string
	}{
		{"no vote", func(w *refusalWorld) {}, "pool pool-b has no passed approve_manifest vote"},
		{"one pool of two", func(w *refusalWorld) {
			w.vote("pool-sim", "va", "passed", w.period, w.m.SHA256)
		}, "pool pool-b has no passed approve_manifest vote of period " + "2026-11-01T06:00:00Z"},
		{"a failed vote", func(w *refusalWorld) {
			w.vote("pool-sim", "va", "passed", w.period, w.m.SHA256)
			w.vote("pool-b", "vb", "failed", w.period, w.m.SHA256)
		}, "vote vb is failed"},
		{"an open vote", func(w *refusalWorld) {
			w.vote("pool-sim", "va", "passed", w.period, w.m.SHA256)
			w.vote("pool-b", "vb", "open", w.period, w.m.SHA256)
		}, "vote vb is open"},
		{"another hash", func(w *refusalWorld) {
			w.vote("pool-sim", "va", "passed", w.period, w.m.SHA256)
			w.vote("pool-b", "vb", "passed", w.period, other)
		}, "vote vb names period 2026-11-01T06:00:00Z manifest " + other},
		{"another period", func(w *refusalWorld) {
			w.vote("pool-sim", "va", "passed", "2026-10-01T06:00:00Z", w.m.SHA256)
			w.vote("pool-b", "vb", "passed", w.period, w.m.SHA256)
		}, "vote va names period 2026-10-01T06:00:00Z"},
		{"another kind", func(w *refusalWorld) {
			w.vote("pool-sim", "va", "passed", w.period, w.m.SHA256)
			w.store.Votes[w.dao+"/pool-b"] = []schemas.PoolVote{{VoteID: "vb", Kind: schemas.VoteKindTerminateHoster, Subject: `{"hoster":"h"}`, Status: "passed"}}
		}, "pool pool-b has no passed approve_manifest vote"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := twoPoolWorld(t, 40+uint64(i))
			c.votes(w)
			sum, err := w.engine(nil).Run(ctx, w.dao, w.period, payout.RunOptions{})
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "is not approved") || !strings.Contains(err.Error(), "nothing signed") {
				t.Fatalf("want a refusal containing %q, got %v", c.want, err)
			}
			if n := w.transfers(); n != 0 || sum.Sent != 0 || sum.ApprovedByVotes != nil {
				t.Fatalf("%d transfers, %d sent, approved by %v: a refused run signs nothing", n, sum.Sent, sum.ApprovedByVotes)
			}
			st, err := w.engine(nil).Status(ctx, w.dao, w.period)
			if err != nil || st.Approved || st.Sponsors.Approved {
				t.Fatalf("status approved %v (%v), want not approved", st.Approved, err)
			}
		})
	}
}
