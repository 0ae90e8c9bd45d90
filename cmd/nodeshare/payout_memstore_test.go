package main

import (
	"context"
	"errors"
	"sort"
	"sync"

	"github.com/nodeshare/nodeshare/schemas"
)

// memPayoutStore is an in-memory payoutStore for the deterministic
// simulation and the benchmark: the same engine code runs against it. A
// write is atomic: it happens completely or not at all. dead simulates a
// killed process: nothing is written any more. failWrite, when set, decides
// per write whether it fails before or after it is applied (an "outcome
// unknown" write).
type memPayoutStore struct {
	mu        sync.Mutex
	ents      []schemas.Entitlement
	pools     []schemas.PoolPeriod
	manifest  map[string]schemas.PayoutManifest
	intents   map[string][]schemas.PayoutIntent
	attempts  map[string][]schemas.PayoutAttempt
	results   map[string]schemas.PayoutResult
	approvals map[string][]schemas.PayoutApproval
	dead      bool
	failWrite func(kind string) (before, after bool)
}

var _ payoutStore = (*memPayoutStore)(nil)

var errStoreDown = errors.New("memstore: write failed (simulated)")

func newMemPayoutStore(ents []schemas.Entitlement, pools []schemas.PoolPeriod) *memPayoutStore {
	return &memPayoutStore{ents: ents, pools: pools, manifest: map[string]schemas.PayoutManifest{}, intents: map[string][]schemas.PayoutIntent{},
		attempts: map[string][]schemas.PayoutAttempt{}, results: map[string]schemas.PayoutResult{}, approvals: map[string][]schemas.PayoutApproval{}}
}

func (s *memPayoutStore) write(kind string, apply func()) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.dead {
		return errStoreDown
	}
	var before, after bool
	if s.failWrite != nil {
		before, after = s.failWrite(kind)
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

func key(dao, period string) string { return dao + "\x00" + period }

func (s *memPayoutStore) Entitlements(ctx context.Context, dao, period string) ([]schemas.Entitlement, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []schemas.Entitlement
	for _, e := range s.ents {
		if e.DAO == dao && e.Period == period {
			out = append(out, e)
		}
	}
	return out, nil
}

func (s *memPayoutStore) PoolPeriods(ctx context.Context, dao, period string) ([]schemas.PoolPeriod, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []schemas.PoolPeriod
	for _, p := range s.pools {
		if p.DAO == dao && p.Period == period {
			out = append(out, p)
		}
	}
	return out, nil
}

func (s *memPayoutStore) Periods(ctx context.Context, dao string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for _, p := range s.pools {
		if p.DAO == dao && !seen[p.Period] {
			seen[p.Period] = true
			out = append(out, p.Period)
		}
	}
	sort.Strings(out)
	return out, nil
}

func (s *memPayoutStore) Manifest(ctx context.Context, dao, period string) (*schemas.PayoutManifest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h, ok := s.manifest[key(dao, period)]
	if !ok {
		return nil, nil
	}
	return &h, nil
}

func (s *memPayoutStore) Intents(ctx context.Context, dao, period string) ([]schemas.PayoutIntent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]schemas.PayoutIntent(nil), s.intents[key(dao, period)]...), nil
}

func (s *memPayoutStore) Attempts(ctx context.Context, dao, period string) (map[string][]schemas.PayoutAttempt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]schemas.PayoutAttempt{}
	for _, in := range s.intents[key(dao, period)] {
		if a := s.attempts[in.IntentID]; len(a) > 0 {
			out[in.IntentID] = append([]schemas.PayoutAttempt(nil), a...)
		}
	}
	return out, nil
}

func (s *memPayoutStore) Results(ctx context.Context, dao, period string) (map[string]schemas.PayoutResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]schemas.PayoutResult{}
	for _, in := range s.intents[key(dao, period)] {
		if r, ok := s.results[in.IntentID]; ok {
			out[in.IntentID] = r
		}
	}
	return out, nil
}

func (s *memPayoutStore) Approvals(ctx context.Context, sha string) ([]schemas.PayoutApproval, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]schemas.PayoutApproval(nil), s.approvals[sha]...), nil
}

func (s *memPayoutStore) SavePlan(ctx context.Context, h schemas.PayoutManifest, intents []schemas.PayoutIntent) error {
	return s.write("plan", func() {
		s.intents[key(h.DAO, h.Period)] = append([]schemas.PayoutIntent(nil), intents...)
		s.manifest[key(h.DAO, h.Period)] = h
	})
}

func (s *memPayoutStore) SaveAttempt(ctx context.Context, dao, period string, a schemas.PayoutAttempt) error {
	return s.write("attempt", func() {
		for _, old := range s.attempts[a.IntentID] {
			if old.Attempt == a.Attempt {
				return // idempotent: the first record of an attempt number stays
			}
		}
		s.attempts[a.IntentID] = append(s.attempts[a.IntentID], a)
	})
}

func (s *memPayoutStore) SaveResult(ctx context.Context, r schemas.PayoutResult) error {
	return s.write("result", func() {
		// Like ClickHouse's ReplacingMergeTree(recorded_at): the latest wins.
		s.results[r.IntentID] = r
	})
}

func (s *memPayoutStore) SaveApproval(ctx context.Context, a schemas.PayoutApproval) error {
	return s.write("approval", func() {
		for _, old := range s.approvals[a.ManifestSHA256] {
			if old.Approver == a.Approver {
				return
			}
		}
		s.approvals[a.ManifestSHA256] = append(s.approvals[a.ManifestSHA256], a)
	})
}
