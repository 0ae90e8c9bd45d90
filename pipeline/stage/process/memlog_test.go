package process

import (
	"context"
	"fmt"
	"sync"

	"github.com/nodeshare/nodeshare/schemas"
)

// memLog is an in-memory event log with Log's contract: one partition per
// topic, PublishOnce by key and content hash (as connectors/kafka.Log),
// and a journal of the calls that wrote.
type memLog struct {
	mu      sync.Mutex
	topics  map[string][]schemas.Message
	journal []string // "once <topic> <n>" / "publish <n>", in call order
	fail    error    // when set, every write fails with it
}

func newMemLog() *memLog { return &memLog{topics: map[string][]schemas.Message{}} }

func (l *memLog) append(r schemas.Record) schemas.Message {
	m := schemas.Message{Topic: r.Topic, Partition: 0, Offset: int64(len(l.topics[r.Topic])), Key: r.Key, Value: r.Value, Headers: r.Headers}
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

func (l *memLog) PublishOnce(_ context.Context, facts []schemas.Fact) (schemas.PublishStats, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var st schemas.PublishStats
	if l.fail != nil {
		return st, l.fail
	}
	l.journal = append(l.journal, fmt.Sprintf("once %d", len(facts)))
	var conflicts []string
	for _, f := range facts {
		held := ""
		for _, m := range l.topics[f.Topic] {
			if string(m.Key) == f.Key {
				if env, err := schemas.DecodeEnvelope(m.Value); err == nil {
					held = env.Provenance.ContentSHA256
				}
			}
		}
		switch {
		case held == f.Envelope.Provenance.ContentSHA256:
			st.Present++
		case held != "":
			st.Conflicts++
			conflicts = append(conflicts, f.Topic+" "+f.Key)
		default:
			b, err := f.Envelope.Marshal()
			if err != nil {
				return st, err
			}
			l.append(schemas.Record{Topic: f.Topic, Key: []byte(f.Key), Value: b})
			st.Published++
		}
	}
	if len(conflicts) > 0 {
		return st, &schemas.ConflictError{Conflicts: conflicts}
	}
	return st, nil
}

func (l *memLog) ReadAll(_ context.Context, topic string) ([]schemas.Message, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]schemas.Message(nil), l.topics[topic]...), nil
}

func (l *memLog) Publish(_ context.Context, recs ...schemas.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.fail != nil {
		return l.fail
	}
	l.journal = append(l.journal, fmt.Sprintf("publish %d", len(recs)))
	for _, r := range recs {
		l.append(r)
	}
	return nil
}

// keys returns the keys on topic, in order.
func (l *memLog) keys(topic string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, m := range l.topics[topic] {
		out = append(out, string(m.Key))
	}
	return out
}
