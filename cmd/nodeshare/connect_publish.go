package main

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/nodeshare/nodeshare/connectors/kafka"
	"github.com/nodeshare/nodeshare/schemas"
)

// readAllSettled is kafka.ReadAll, retried for a few seconds: right after a
// topic is created its partition can answer "Not Leader For Partition"
// although metadata already names the leader. Reading is idempotent.
func readAllSettled(ctx context.Context, brokers []string, topic string) ([]kafka.Message, error) {
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		msgs, err := kafka.ReadAll(ctx, brokers, topic)
		if err == nil || attempt == 8 {
			return msgs, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(wait):
		}
		wait = min(2*wait, 2*time.Second)
	}
}

// fact is one event the connector wants on a topic under a deterministic key.
type fact struct {
	topic string
	key   string
	env   schemas.Envelope
}

// publishStats counts what a publish did.
type publishStats struct {
	published, present, conflicts int
}

// publishIfNew publishes the facts whose key is not yet on their topic. The
// content hash covers the payload only (the fetch time is provenance), so a
// re-polled fact finds its key with the same hash and is skipped. A key that
// holds different content is never overwritten: a fact does not change, so
// that is a conflict a person must look at (returned as an error, the other
// facts are published).
func publishIfNew(ctx context.Context, brokers []string, p *kafka.Producer, facts []fact) (publishStats, error) {
	var st publishStats
	existing := map[string]map[string]string{} // topic -> key -> content hash
	var recs []kafka.Record
	var conflicts []string
	for _, f := range facts {
		if existing[f.topic] == nil {
			msgs, err := readAllSettled(ctx, brokers, f.topic)
			if err != nil {
				return st, err
			}
			seen := map[string]string{}
			for _, m := range msgs {
				if env, err := schemas.DecodeEnvelope(m.Value); err == nil {
					seen[string(m.Key)] = env.Provenance.ContentSHA256
				}
			}
			existing[f.topic] = seen
		}
		if h, ok := existing[f.topic][f.key]; ok {
			if h != f.env.Provenance.ContentSHA256 {
				st.conflicts++
				conflicts = append(conflicts, fmt.Sprintf("%s key %s holds content %s, the source now says %s", f.topic, f.key, h, f.env.Provenance.ContentSHA256))
			} else {
				st.present++
			}
			continue
		}
		b, err := f.env.Marshal()
		if err != nil {
			return st, err
		}
		recs = append(recs, kafka.Record{Topic: f.topic, Key: []byte(f.key), Value: b})
		existing[f.topic][f.key] = f.env.Provenance.ContentSHA256
	}
	if err := p.Publish(ctx, recs...); err != nil {
		return st, err
	}
	st.published = len(recs)
	if len(conflicts) > 0 {
		sort.Strings(conflicts)
		return st, fmt.Errorf("%d fact(s) changed at the source and were not republished (investigate): %v", len(conflicts), conflicts)
	}
	return st, nil
}
