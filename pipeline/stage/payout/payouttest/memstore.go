package payouttest

import (
	"context"
	"errors"
	"sort"
	"sync"

	"github.com/nodeshare/nodeshare/pipeline/stage/payout"
	"github.com/nodeshare/nodeshare/schemas"
)

// MemStore is an in-memory Store for the deterministic simulation and the
// payout benchmark: the same engine code runs against it (never used by a
// command). A write is atomic: it happens completely or not at all. Dead
// simulates a killed process: nothing is written any more. FailWrite, when
// set, decides per write whether it fails before or after it is applied
// (an "outcome unknown" write). Hold Mu to change Dead or FailWrite, or to
// read the maps while an engine runs.
type MemStore struct {
	Mu    sync.Mutex
	Ents  []schemas.Entitlement
	Pools []schemas.PoolPeriod
	// Transfers are the pools' lifecycle transfers a lifecycle plan reads.
	Transfers   []schemas.PoolTransfer
	Manifests   map[string]schemas.PayoutManifest
	IntentsBy   map[string][]schemas.PayoutIntent
	AttemptsBy  map[string][]schemas.PayoutAttempt
	ResultsBy   map[string]schemas.PayoutResult
	ApprovalsBy map[string][]schemas.PayoutApproval
	// Votes are the pools' votes, by "dao/pool" (PoolVotes).
	Votes     map[string][]schemas.PoolVote
	Dead      bool
	FailWrite func(kind string) (before, after bool)
}

var _ payout.Store = (*MemStore)(nil)

var errStoreDown = errors.New("memstore: write failed (simulated)")

// NewMemStore holds the entitlements and pool periods a plan reads.
func NewMemStore(ents []schemas.Entitlement, pools []schemas.PoolPeriod) *MemStore {
	return &MemStore{Ents: ents, Pools: pools, Manifests: map[string]schemas.PayoutManifest{}, IntentsBy: map[string][]schemas.PayoutIntent{},
		AttemptsBy: map[string][]schemas.PayoutAttempt{}, ResultsBy: map[string]schemas.PayoutResult{}, ApprovalsBy: map[string][]schemas.PayoutApproval{}}
}

func (s *MemStore) write(kind string, apply func()) error {
	s.Mu.Lock()
	defer s.Mu.Unlock()
	if s.Dead {
		return errStoreDown
	}
	var before, after bool
	if s.FailWrite != nil {
		before, after = s.FailWrite(kind)
	}
	if before {
		return errStoreDown
	}
	apply()
	if after {
		return errStoreDown
	}
	return nil
}

// Key is the maps' key of a DAO period.
func Key(dao, period string) string { return dao + "\x00" + period }

func (s *MemStore) Entitlements(ctx context.Context, dao, period string) ([]schemas.Entitlement, error) {
	s.Mu.Lock()
	defer s.Mu.Unlock()
	var out []schemas.Entitlement
	for _, e := range s.Ents {
		if e.DAO == dao && e.Period == period {
			out = append(out, e)
		}
	}
	return out, nil
}

func (s *MemStore) PoolPeriods(ctx context.Context, dao, period string) ([]schemas.PoolPeriod, error) {
	s.Mu.Lock()
	defer s.Mu.Unlock()
	var out []schemas.PoolPeriod
	for _, p := range s.Pools {
		if p.DAO == dao && p.Period == period {
			out = append(out, p)
		}
	}
	return out, nil
}

func (s *MemStore) Periods(ctx context.Context, dao string) ([]string, error) {
	s.Mu.Lock()
	defer s.Mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for _, p := range s.Pools {
		if p.DAO == dao && !seen[p.Period] {
			seen[p.Period] = true
			out = append(out, p.Period)
		}
	}
	sort.Strings(out)
	return out, nil
}

func (s *MemStore) PoolTransfers(ctx context.Context, dao, pool string) ([]schemas.PoolTransfer, error) {
	s.Mu.Lock()
	defer s.Mu.Unlock()
	var out []schemas.PoolTransfer
	for _, t := range s.Transfers {
		if t.DAO == dao && t.PoolID == pool {
			out = append(out, t)
		}
	}
	return out, nil
}

func (s *MemStore) PoolIntents(ctx context.Context, dao, pool string) ([]schemas.PayoutIntent, error) {
	s.Mu.Lock()
	defer s.Mu.Unlock()
	var out []schemas.PayoutIntent
	for _, ins := range s.IntentsBy {
		for _, in := range ins {
			if in.DAO == dao && in.PoolID == pool {
				out = append(out, in)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].IntentID < out[j].IntentID })
	return out, nil
}

func (s *MemStore) Manifest(ctx context.Context, dao, period string) (*schemas.PayoutManifest, error) {
	s.Mu.Lock()
	defer s.Mu.Unlock()
	h, ok := s.Manifests[Key(dao, period)]
	if !ok {
		return nil, nil
	}
	return &h, nil
}

func (s *MemStore) Intents(ctx context.Context, dao, period string) ([]schemas.PayoutIntent, error) {
	s.Mu.Lock()
	defer s.Mu.Unlock()
	return append([]schemas.PayoutIntent(nil), s.IntentsBy[Key(dao, period)]...), nil
}

func (s *MemStore) Attempts(ctx context.Context, dao, period string) (map[string][]schemas.PayoutAttempt, error) {
	s.Mu.Lock()
	defer s.Mu.Unlock()
	out := map[string][]schemas.PayoutAttempt{}
	for _, in := range s.IntentsBy[Key(dao, period)] {
		if a := s.AttemptsBy[in.IntentID]; len(a) > 0 {
			out[in.IntentID] = append([]schemas.PayoutAttempt(nil), a...)
		}
	}
	return out, nil
}

func (s *MemStore) Results(ctx context.Context, dao, period string) (map[string]schemas.PayoutResult, error) {
	s.Mu.Lock()
	defer s.Mu.Unlock()
	out := map[string]schemas.PayoutResult{}
	for _, in := range s.IntentsBy[Key(dao, period)] {
		if r, ok := s.ResultsBy[in.IntentID]; ok {
			out[in.IntentID] = r
		}
	}
	return out, nil
}

func (s *MemStore) Approvals(ctx context.Context, sha string) ([]schemas.PayoutApproval, error) {
	s.Mu.Lock()
	defer s.Mu.Unlock()
	return append([]schemas.PayoutApproval(nil), s.ApprovalsBy[sha]...), nil
}

func (s *MemStore) PoolVotes(ctx context.Context, dao, pool string) ([]schemas.PoolVote, error) {
	s.Mu.Lock()
	defer s.Mu.Unlock()
	return append([]schemas.PoolVote(nil), s.Votes[dao+"/"+pool]...), nil
}

func (s *MemStore) SavePlan(ctx context.Context, h schemas.PayoutManifest, intents []schemas.PayoutIntent) error {
	return s.write("plan", func() {
		s.IntentsBy[Key(h.DAO, h.Period)] = append([]schemas.PayoutIntent(nil), intents...)
		s.Manifests[Key(h.DAO, h.Period)] = h
	})
}

func (s *MemStore) SaveAttempt(ctx context.Context, dao, period string, a schemas.PayoutAttempt) error {
	return s.write("attempt", func() {
		for _, old := range s.AttemptsBy[a.IntentID] {
			if old.Attempt == a.Attempt {
				return // idempotent: the first record of an attempt number stays
			}
		}
		s.AttemptsBy[a.IntentID] = append(s.AttemptsBy[a.IntentID], a)
	})
}

func (s *MemStore) SaveResult(ctx context.Context, r schemas.PayoutResult) error {
	return s.write("result", func() {
		// Like ClickHouse's ReplacingMergeTree(recorded_at): the latest wins.
		s.ResultsBy[r.IntentID] = r
	})
}

func (s *MemStore) SaveApproval(ctx context.Context, a schemas.PayoutApproval) error {
	return s.write("approval", func() {
		for _, old := range s.ApprovalsBy[a.ManifestSHA256] {
			if old.Approver == a.Approver {
				return
			}
		}
		s.ApprovalsBy[a.ManifestSHA256] = append(s.ApprovalsBy[a.ManifestSHA256], a)
	})
}
