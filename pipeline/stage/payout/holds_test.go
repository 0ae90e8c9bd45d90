package payout_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/nodeshare/nodeshare/pipeline/sanity"
	"github.com/nodeshare/nodeshare/pipeline/stage/payout"
	"github.com/nodeshare/nodeshare/pipeline/stage/payout/payouttest"
	"github.com/nodeshare/nodeshare/schemas"
)

// sanityFake serves rewards and releases from memory.
type sanityFake struct {
	rewards  map[string]schemas.NodeReward
	avg30    int64
	releases []schemas.PayoutRelease
}

func (f *sanityFake) Reward(ctx context.Context, id string) (*schemas.NodeReward, error) {
	if r, ok := f.rewards[id]; ok {
		return &r, nil
	}
	return nil, nil
}

func (f *sanityFake) PreviousReward(ctx context.Context, np string, ts uint64) (*schemas.NodeReward, error) {
	var best *schemas.NodeReward
	for _, r := range f.rewards {
		if r.NodeProvider == np && r.TimestampSeconds < ts && (best == nil || r.TimestampSeconds > best.TimestampSeconds) {
			r := r
			best = &r
		}
	}
	return best, nil
}

func (f *sanityFake) Avg30Rate(ctx context.Context, ts uint64) (int64, error) { return f.avg30, nil }

func (f *sanityFake) Releases(ctx context.Context, dao, period string) ([]schemas.PayoutRelease, error) {
	var out []schemas.PayoutRelease
	for _, r := range f.releases {
		if r.DAO == dao && r.Period == period {
			out = append(out, r)
		}
	}
	return out, nil
}

func (f *sanityFake) SaveRelease(ctx context.Context, r schemas.PayoutRelease) error {
	f.releases = append(f.releases, r)
	return nil
}

// A reward three times the one before holds its period: nothing is
// planned until an operator releases exactly those holds with a reason.
func TestSanityHoldsAPeriodUntilReleased(t *testing.T) {
	ctx := context.Background()
	const dao, period = "hold-dao", "2026-11-01"
	ents, pools := payouttest.SimPeriod(rand.New(rand.NewPCG(5, 5)), dao, period, 4, 10_000)
	store := payouttest.NewMemStore(ents, pools)
	var gross int64
	for _, p := range pools {
		gross += p.GrossE8s
	}
	now := schemas.NodeReward{NodeProvider: "np", TimestampSeconds: 2_000, AmountE8s: gross, XDRPermyriadPerICP: 35_000, RewardAccount: "treasury"}
	before := schemas.NodeReward{NodeProvider: "np", TimestampSeconds: 1_000, AmountE8s: gross / 3, XDRPermyriadPerICP: 35_000, RewardAccount: "treasury"}
	fake := &sanityFake{rewards: map[string]schemas.NodeReward{"np/1000": before}, avg30: 35_000}
	for _, p := range pools {
		fake.rewards[p.RewardEventID] = now
	}
	eng := &payout.Engine{Store: store, Sanity: &payout.Sanity{Store: fake, Treasuries: []string{"treasury"}, Providers: []string{"np"}}}
	_, _, err := eng.Plan(ctx, dao, period, true)
	if !errors.Is(err, payout.ErrOnHold) || !strings.Contains(err.Error(), "reward_jump") {
		t.Fatalf("plan of a held period: %v", err)
	}
	if h, _ := store.Manifest(ctx, dao, period); h != nil {
		t.Fatal("a held period was planned")
	}
	// A release of other holds does not release these.
	fake.releases = append(fake.releases, schemas.PayoutRelease{DAO: dao, Period: period, HoldsSHA256: sanity.SHA256(nil)})
	if _, _, err := eng.Plan(ctx, dao, period, true); !errors.Is(err, payout.ErrOnHold) {
		t.Fatalf("released other holds: %v", err)
	}
	if _, err := eng.Sanity.Release(ctx, store, fake, dao, period, "", "ops", time.Now()); err == nil {
		t.Fatal("a release without a reason was taken")
	}
	rel, err := eng.Sanity.Release(ctx, store, fake, dao, period, "the NNS doubled the node's XDR this month (proposal 123)", "ops", time.Unix(3_000, 0))
	if err != nil || !strings.Contains(rel.Holds, "reward_jump") || rel.ReleasedAt != "1970-01-01T00:50:00Z" {
		t.Fatalf("release %+v %v", rel, err)
	}
	if m, created, err := eng.Plan(ctx, dao, period, true); err != nil || !created || len(m.Intents) == 0 {
		t.Fatalf("plan after the release: %v %v", created, err)
	}
	// A period with nothing out of bounds needs no release.
	fake.rewards["np/1000"] = schemas.NodeReward{NodeProvider: "np", TimestampSeconds: 1_000, AmountE8s: gross, XDRPermyriadPerICP: 35_000, RewardAccount: "treasury"}
	if _, err := eng.Sanity.Release(ctx, store, fake, dao, period, "why", "ops", time.Now()); err == nil || !strings.Contains(err.Error(), "not on hold") {
		t.Fatalf("release of a period not on hold: %v", err)
	}
}
