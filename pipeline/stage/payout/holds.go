package payout

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nodeshare/nodeshare/pipeline/sanity"
	"github.com/nodeshare/nodeshare/schemas"
)

// SanityStore is what the sanity gate reads: the NNS rewards and the
// 30-day average rate as the sink stored them, and the releases.
type SanityStore interface {
	Reward(ctx context.Context, eventID string) (*schemas.NodeReward, error)
	PreviousReward(ctx context.Context, nodeProvider string, timestampSeconds uint64) (*schemas.NodeReward, error)
	Avg30Rate(ctx context.Context, timestampSeconds uint64) (int64, error)
	Releases(ctx context.Context, dao, period string) ([]schemas.PayoutRelease, error)
}

// Sanity is the gate before a reward period is planned (pipeline/sanity;
// docs/payouts.md "Sanity holds"): a period whose reward is held is not
// planned until a release names exactly its holds.
type Sanity struct {
	Store      SanityStore
	Bounds     sanity.Bounds
	Treasuries []string // the treasury's forms (ICRC-1 text, account identifier); empty: not checked
	Providers  []string // the node providers the DAO runs; empty: not checked
}

// ErrOnHold marks a period the sanity checks hold.
var ErrOnHold = errors.New("period on hold")

// Holds are the holds of a reward period: the checks of every NNS reward
// its pool periods were allocated from.
func (s *Sanity) Holds(ctx context.Context, pools []schemas.PoolPeriod) ([]sanity.Hold, error) {
	ids := map[string]bool{}
	for _, p := range pools {
		ids[p.RewardEventID] = true
	}
	sorted := make([]string, 0, len(ids))
	for id := range ids {
		sorted = append(sorted, id)
	}
	sort.Strings(sorted)
	var out []sanity.Hold
	for _, id := range sorted {
		r, err := s.Store.Reward(ctx, id)
		if err != nil {
			return nil, err
		}
		if r == nil {
			return nil, fmt.Errorf("sanity: the NNS reward %s of the period is not stored (has the sink run?)", id)
		}
		prev, err := s.Store.PreviousReward(ctx, r.NodeProvider, r.TimestampSeconds)
		if err != nil {
			return nil, err
		}
		avg, err := s.Store.Avg30Rate(ctx, r.TimestampSeconds)
		if err != nil {
			return nil, err
		}
		out = append(out, sanity.Check(sanity.Input{Reward: *r, Previous: prev, Avg30: avg, Treasuries: s.Treasuries, Providers: s.Providers}, s.Bounds)...)
	}
	return out, nil
}

// Gate returns nil when the period may be planned: no hold, or a release
// of exactly these holds. Otherwise an ErrOnHold error listing them.
func (s *Sanity) Gate(ctx context.Context, dao, period string, pools []schemas.PoolPeriod) error {
	holds, err := s.Holds(ctx, pools)
	if err != nil || len(holds) == 0 {
		return err
	}
	sha := sanity.SHA256(holds)
	rels, err := s.Store.Releases(ctx, dao, period)
	if err != nil {
		return err
	}
	for _, r := range rels {
		if r.HoldsSHA256 == sha {
			return nil
		}
	}
	return fmt.Errorf("payout %s %s: %w: %s (holds %s; nothing planned: check, then nodeshare payout release --reason ...)", dao, period, ErrOnHold, holdsText(holds, "; "), sha)
}

func holdsText(holds []sanity.Hold, sep string) string {
	parts := make([]string, len(holds))
	for i, h := range holds {
		parts[i] = string(h.Kind) + ": " + h.Detail
	}
	return strings.Join(parts, sep)
}

// Releaser is where a release is kept (the event log, then the table).
type Releaser interface {
	SaveRelease(ctx context.Context, r schemas.PayoutRelease) error
}

// Release records releaser's release of the period's current holds with
// reason; an error when the period holds nothing.
func (s *Sanity) Release(ctx context.Context, store Store, to Releaser, dao, period, reason, releaser string, now time.Time) (schemas.PayoutRelease, error) {
	if strings.TrimSpace(reason) == "" || strings.TrimSpace(releaser) == "" {
		return schemas.PayoutRelease{}, errors.New("release: a reason and the releaser's name are required")
	}
	pools, err := store.PoolPeriods(ctx, dao, period)
	if err != nil {
		return schemas.PayoutRelease{}, err
	}
	if len(pools) == 0 {
		return schemas.PayoutRelease{}, fmt.Errorf("release %s %s: nothing allocated for this period", dao, period)
	}
	holds, err := s.Holds(ctx, pools)
	if err != nil {
		return schemas.PayoutRelease{}, err
	}
	if len(holds) == 0 {
		return schemas.PayoutRelease{}, fmt.Errorf("release %s %s: the period is not on hold: nothing to release", dao, period)
	}
	r := schemas.PayoutRelease{DAO: dao, Period: period, HoldsSHA256: sanity.SHA256(holds), Holds: holdsText(holds, "\n"),
		Reason: reason, Releaser: releaser, ReleasedAt: now.UTC().Format(time.RFC3339)}
	return r, to.SaveRelease(ctx, r)
}
