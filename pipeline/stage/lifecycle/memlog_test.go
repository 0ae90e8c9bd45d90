package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/nodeshare/nodeshare/schemas"
)

// memLog is an in-memory event log with Log's contract: one partition per
// topic, headers kept, and a journal of the writes.
type memLog struct {
	mu      sync.Mutex
	topics  map[string][]schemas.Message
	journal []string // "<n> records to <topics>", in call order
	// failAfter makes every Publish after that many fail (with errBroker);
	// negative: never.
	failAfter int
	reads     int // ReadAll calls
}

var errBroker = errors.New("broker gone")

func newMemLog() *memLog { return &memLog{topics: map[string][]schemas.Message{}, failAfter: -1} }

func (l *memLog) append(r schemas.Record) schemas.Message {
	m := schemas.Message{Topic: r.Topic, Partition: 0, Offset: int64(len(l.topics[r.Topic])), Key: r.Key, Value: r.Value,
		Headers: slices.Clone(r.Headers)}
	l.topics[r.Topic] = append(l.topics[r.Topic], m)
	return m
}

// add publishes records as a producer outside the stage would.
func (l *memLog) add(recs ...schemas.Record) []schemas.Message {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []schemas.Message
	for _, r := range recs {
		out = append(out, l.append(r))
	}
	return out
}

func (l *memLog) Publish(_ context.Context, recs ...schemas.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(recs) == 0 {
		return nil
	}
	if l.failAfter == 0 {
		return errBroker
	}
	if l.failAfter > 0 {
		l.failAfter--
	}
	var topics []string
	for _, r := range recs {
		if !slices.Contains(topics, r.Topic) {
			topics = append(topics, r.Topic)
		}
		l.append(r)
	}
	l.journal = append(l.journal, fmt.Sprintf("%d records to %v", len(recs), topics))
	return nil
}

func (l *memLog) ReadAll(_ context.Context, topic string) ([]schemas.Message, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.reads++
	return slices.Clone(l.topics[topic]), nil
}

func (l *memLog) messages(topic string) []schemas.Message {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.topics[topic])
}

// clone is a copy of the log (records shared: they are never modified).
func (l *memLog) clone() *memLog {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := newMemLog()
	for t, ms := range l.topics {
		c.topics[t] = slices.Clone(ms)
	}
	return c
}
