package kafka

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// GroupLag counts what a group has not committed, over partitions: all of
// a topic for a group that never committed, none once it drained; Ping
// answers for the stack's brokers and fails for a closed port.
func TestGroupLag(t *testing.T) {
	brokers := brokersOrSkip(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	topic := freshTopic(t, ctx, brokers, 3)
	publishNumbered(t, ctx, brokers, topic, 40)
	cfg := ConsumerConfig{Brokers: brokers, GroupID: fmt.Sprintf("it-lag-%d", time.Now().UnixNano()), Topics: []string{topic}}
	lag, err := GroupLag(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if lag[topic] != 40 || len(lag) != 1 {
		t.Fatalf("lag before consuming: %v, want %s: 40", lag, topic)
	}
	if err := Consume(ctx, cfg, func(context.Context, []Message) error { return nil }, true); err != nil {
		t.Fatal(err)
	}
	if lag, err = GroupLag(ctx, cfg); err != nil || lag[topic] != 0 {
		t.Fatalf("lag after draining: %v, %v; want 0", lag, err)
	}
	publishNumbered(t, ctx, brokers, topic, 5)
	if lag, err = GroupLag(ctx, cfg); err != nil || lag[topic] != 5 {
		t.Fatalf("lag after 5 more: %v, %v; want 5", lag, err)
	}
	if err := Ping(ctx, brokers); err != nil {
		t.Fatalf("ping: %v", err)
	}
	if err := Ping(ctx, Brokers{Addrs: []string{"127.0.0.1:1"}}); err == nil {
		t.Fatal("ping of a closed port answered")
	}
}
