package kafka

import (
	"context"
	"fmt"

	"github.com/nodeshare/nodeshare/schemas"
)

// Log is the event log as the stages see it: publish a fact once per key
// (stage.Publisher), read a topic back, and publish records as they are
// (the process stage's process.Log port).
type Log struct {
	Brokers  Brokers
	Producer *Producer
	// TopicPrefix, when set, prefixes every topic read and written (a
	// test's isolated topics).
	TopicPrefix string
}

// PublishOnce publishes each fact whose key is not yet on its topic (one
// read of each topic involved, then one acknowledged write). The content
// hash compared is the payload's (provenance.content_sha256), so a fact
// fetched again at another time is the same fact. A key that holds other
// content is never overwritten: it is left out and listed in a
// *schemas.ConflictError, and the other facts are still published.
func (l *Log) PublishOnce(ctx context.Context, facts []schemas.Fact) (schemas.PublishStats, error) {
	if l.TopicPrefix != "" {
		facts = append([]schemas.Fact(nil), facts...)
		for i := range facts {
			facts[i].Topic = l.TopicPrefix + facts[i].Topic
		}
	}
	var st schemas.PublishStats
	existing := map[string]map[string]string{} // topic -> key -> content hash
	var recs []Record
	var conflicts []string
	for _, f := range facts {
		if existing[f.Topic] == nil {
			msgs, err := ReadAll(ctx, l.Brokers, f.Topic)
			if err != nil {
				return st, err
			}
			seen := make(map[string]string, len(msgs))
			for _, m := range msgs {
				if env, err := schemas.DecodeEnvelope(m.Value); err == nil {
					seen[string(m.Key)] = env.Provenance.ContentSHA256
				}
			}
			existing[f.Topic] = seen
		}
		if h, ok := existing[f.Topic][f.Key]; ok {
			if h != f.Envelope.Provenance.ContentSHA256 {
				st.Conflicts++
				conflicts = append(conflicts, fmt.Sprintf("%s key %s holds content %s, new %s", f.Topic, f.Key, h, f.Envelope.Provenance.ContentSHA256))
			} else {
				st.Present++
			}
			continue
		}
		b, err := f.Envelope.Marshal()
		if err != nil {
			return st, err
		}
		recs = append(recs, Record{Topic: f.Topic, Key: []byte(f.Key), Value: b})
		existing[f.Topic][f.Key] = f.Envelope.Provenance.ContentSHA256
	}
	if err := l.Producer.Publish(ctx, recs...); err != nil {
		return st, err
	}
	st.Published = len(recs)
	if len(conflicts) > 0 {
		return st, &schemas.ConflictError{Conflicts: conflicts}
	}
	return st, nil
}

// ReadAll reads topic from its start to the high-water mark (ReadAll).
// With a TopicPrefix the records carry the topic's own name, as the
// stages know it.
func (l *Log) ReadAll(ctx context.Context, topic string) ([]Message, error) {
	msgs, err := ReadAll(ctx, l.Brokers, l.TopicPrefix+topic)
	if l.TopicPrefix != "" {
		for i := range msgs {
			msgs[i].Topic = topic
		}
	}
	return msgs, err
}

// Publish writes records and returns once the broker acknowledged them all.
func (l *Log) Publish(ctx context.Context, recs ...Record) error {
	if l.TopicPrefix != "" {
		recs = append([]Record(nil), recs...)
		for i := range recs {
			recs[i].Topic = l.TopicPrefix + recs[i].Topic
		}
	}
	return l.Producer.Publish(ctx, recs...)
}
