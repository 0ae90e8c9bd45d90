package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	kgo "github.com/segmentio/kafka-go"

	"github.com/nodeshare/nodeshare/schemas"
)

// Record is one message to publish (schemas.Record).
type Record = schemas.Record

// Producer publishes synchronously: WriteMessages returns only after all
// in-sync replicas acknowledged, or with an error meaning "outcome unknown"
// (the caller retries; consumers de-duplicate by key).
type Producer struct {
	w       *kgo.Writer
	brokers Brokers
}

// NewProducer returns a producer for brokers. Keys are hashed to partitions
// (FNV-1a, Sarama compatible) so that every fact about one key stays ordered.
func NewProducer(brokers Brokers) *Producer {
	return &Producer{brokers: brokers, w: &kgo.Writer{
		Addr:         kgo.TCP(brokers.Addrs...),
		Transport:    brokers.transport(),
		Balancer:     &kgo.Hash{},
		RequiredAcks: kgo.RequireAll,       // docs/pitfalls.md K1
		BatchTimeout: 5 * time.Millisecond, // docs/pitfalls.md K4
		BatchSize:    1000,
		BatchBytes:   MaxMessageBytes - 1<<16, // a record up to the topics' limit, less the batch overhead
		MaxAttempts:  5,
		WriteTimeout: 30 * time.Second,
	}}
}

// Publish writes records and returns once all are acknowledged.
func (p *Producer) Publish(ctx context.Context, recs ...Record) error {
	if len(recs) == 0 {
		return nil
	}
	msgs := make([]kgo.Message, len(recs))
	for i, r := range recs {
		if r.Topic == "" {
			return fmt.Errorf("kafka: record %d has no topic", i)
		}
		msgs[i] = kgo.Message{Topic: r.Topic, Key: r.Key, Value: r.Value, Headers: toKafkaHeaders(r.Headers)}
	}
	if err := p.w.WriteMessages(ctx, msgs...); err != nil {
		var werrs kgo.WriteErrors
		if errors.As(err, &werrs) {
			for i, e := range werrs {
				if e != nil {
					return markOutage(ctx, fmt.Errorf("kafka: publish %s key %q (and maybe others): %w", recs[i].Topic, recs[i].Key, p.brokers.explain(ctx, e)))
				}
			}
		}
		return markOutage(ctx, fmt.Errorf("kafka: publish %d records: %w", len(recs), p.brokers.explain(ctx, err)))
	}
	return nil
}

// Close flushes and closes the writer.
func (p *Producer) Close() error { return p.w.Close() }

func toKafkaHeaders(hs []schemas.Header) []kgo.Header {
	if len(hs) == 0 {
		return nil
	}
	out := make([]kgo.Header, len(hs))
	for i, h := range hs {
		out[i] = kgo.Header{Key: h.Key, Value: h.Value}
	}
	return out
}

func fromKafkaHeaders(hs []kgo.Header) []schemas.Header {
	if len(hs) == 0 {
		return nil
	}
	out := make([]schemas.Header, len(hs))
	for i, h := range hs {
		out[i] = schemas.Header{Key: h.Key, Value: h.Value}
	}
	return out
}
