package sink

import (
	"context"
	"errors"
	"sort"
	"sync"

	"github.com/nodeshare/nodeshare/schemas"
)

// memStore is an in-memory audit trail with Store's contract: an insert
// whose token was seen stores nothing (ClickHouse's de-duplication token),
// raw rows are kept per coordinate (the last copy wins, as FINAL shows).
type memStore struct {
	mu      sync.Mutex
	tokens  map[string]bool
	raw     map[schemas.Coord]schemas.RawEvent
	inserts int // raw row copies sent, duplicates included
	typed   map[string]int
	ents    []schemas.EntitlementRow
	results []schemas.ResultRow
	dead    []schemas.DeadLetter
	// failures[method] makes the next n calls of method fail.
	failures map[string]int
}

var errFlaky = errors.New("store restarting")

func newMemStore() *memStore {
	return &memStore{tokens: map[string]bool{}, raw: map[schemas.Coord]schemas.RawEvent{}, typed: map[string]int{}, failures: map[string]int{}}
}

// begin fails the call when a failure is pending, and reports whether the
// token is new.
func (s *memStore) begin(method, token string) (bool, error) {
	if s.failures[method] > 0 {
		s.failures[method]--
		return false, errFlaky
	}
	if token == "" {
		return true, nil
	}
	if s.tokens[token] {
		return false, nil
	}
	s.tokens[token] = true
	return true, nil
}

func (s *memStore) InsertRaw(_ context.Context, token string, rows []schemas.RawEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	fresh, err := s.begin("raw", token)
	if err != nil || !fresh {
		return err
	}
	for _, r := range rows {
		s.raw[schemas.Coord{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset}] = r
		s.inserts++
	}
	return nil
}

func (s *memStore) ChainTip(_ context.Context, topic string, partition int, below int64) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.begin("tip", ""); err != nil {
		return "", err
	}
	best, hash := int64(-1), schemas.ChainGenesis
	for c, r := range s.raw {
		if c.Topic == topic && c.Partition == partition && c.Offset < below && c.Offset > best {
			best, hash = c.Offset, r.RowHash
		}
	}
	return hash, nil
}

func insertTyped[T any](s *memStore, method, token string, rows []T, into *[]T) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(rows) == 0 {
		return nil
	}
	fresh, err := s.begin(method, token)
	if err != nil || !fresh {
		return err
	}
	s.typed[method] += len(rows)
	if into != nil {
		*into = append(*into, rows...)
	}
	return nil
}

func (s *memStore) InsertEntitlements(_ context.Context, token string, rows []schemas.EntitlementRow) error {
	return insertTyped(s, "ent", token, rows, &s.ents)
}

func (s *memStore) InsertPoolPeriods(_ context.Context, token string, rows []schemas.PoolPeriodRow) error {
	return insertTyped[schemas.PoolPeriodRow](s, "pp", token, rows, nil)
}

func (s *memStore) InsertIntents(_ context.Context, token string, rows []schemas.PayoutIntent) error {
	return insertTyped[schemas.PayoutIntent](s, "int", token, rows, nil)
}

func (s *memStore) InsertResults(_ context.Context, token string, rows []schemas.ResultRow) error {
	return insertTyped(s, "res", token, rows, &s.results)
}

func (s *memStore) InsertDeadLetters(_ context.Context, token string, rows []schemas.DeadLetter) error {
	return insertTyped(s, "dlq", token, rows, &s.dead)
}

// rows returns the raw rows of topic/0 in offset order.
func (s *memStore) rows(topic string) []schemas.RawEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []schemas.RawEvent
	for c, r := range s.raw {
		if c.Topic == topic {
			out = append(out, r)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Offset < out[j].Offset })
	return out
}
