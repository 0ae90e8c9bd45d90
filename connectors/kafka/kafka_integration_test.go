package kafka

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nodeshare/nodeshare/schemas"
)

func brokersOrSkip(t *testing.T) Brokers {
	t.Helper()
	b := os.Getenv("NODESHARE_KAFKA_BROKERS")
	if b == "" {
		if os.Getenv("NODESHARE_REQUIRE_SERVICES") == "1" {
			t.Fatal("NODESHARE_REQUIRE_SERVICES=1 but NODESHARE_KAFKA_BROKERS is unset")
		}
		t.Skip("integration test: needs Kafka (ops/stack up; eval \"$(ops/stack env)\")")
	}
	return brokersFromEnv(t, strings.Split(b, ","))
}

func freshTopic(t *testing.T, ctx context.Context, brokers Brokers, partitions int) string {
	t.Helper()
	topic := fmt.Sprintf("it.kafka-%d", time.Now().UnixNano())
	if err := EnsureTopics(ctx, brokers, []schemas.TopicSpec{{Name: topic, Partitions: partitions}}, 1); err != nil {
		t.Fatal(err)
	}
	return topic
}

// publishNumbered publishes n records keyed k000, k001, ... to topic.
func publishNumbered(t *testing.T, ctx context.Context, brokers Brokers, topic string, n int) {
	t.Helper()
	p := NewProducer(brokers)
	defer p.Close()
	var recs []Record
	for i := 0; i < n; i++ {
		recs = append(recs, Record{Topic: topic, Key: []byte(fmt.Sprintf("k%03d", i)), Value: []byte(fmt.Sprintf("v%03d", i))})
	}
	if err := p.Publish(ctx, recs...); err != nil {
		t.Fatal(err)
	}
}

// The consume loop commits only after the handler succeeded: a failing
// handler sees the same records again after a restart, a drained group
// returns at once, and ReadAll sees every record in order.
func TestConsumeCommitsOnlyAfterTheHandler(t *testing.T) {
	brokers := brokersOrSkip(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	topic := freshTopic(t, ctx, brokers, 3)
	const n = 500
	publishNumbered(t, ctx, brokers, topic, n)
	all, err := ReadAll(ctx, brokers, topic)
	if err != nil || len(all) != n {
		t.Fatalf("ReadAll: %d records, %v", len(all), err)
	}
	for i := 1; i < len(all); i++ {
		a, b := all[i-1], all[i]
		if a.Partition > b.Partition || (a.Partition == b.Partition && a.Offset >= b.Offset) {
			t.Fatal("ReadAll is not in (partition, offset) order")
		}
	}

	group := "it-group-" + topic
	cfg := ConsumerConfig{Brokers: brokers, GroupID: group, Topics: []string{topic}, MaxBatch: 64, MaxWait: 20 * time.Millisecond}
	boom := errors.New("handler failed")
	calls := 0
	err = Consume(ctx, cfg, func(ctx context.Context, b []Message) error { calls++; return boom }, true)
	if !errors.Is(err, boom) || calls != 1 {
		t.Fatalf("failing handler: err %v after %d calls", err, calls)
	}
	seen := map[string]int{}
	err = Consume(ctx, cfg, func(ctx context.Context, b []Message) error {
		for _, m := range b {
			seen[string(m.Key)]++
		}
		return nil
	}, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != n {
		t.Fatalf("after the failed batch was not committed, the group saw %d of %d keys", len(seen), n)
	}
	calls = 0
	if err := Consume(ctx, cfg, func(ctx context.Context, b []Message) error { calls++; return nil }, true); err != nil || calls != 0 {
		t.Fatalf("drained group: %d handler calls, %v", calls, err)
	}
}

// Batches above the broker's default 1 MB limit and single records of
// several MB (a large pool period) are written and read back.
func TestLargeBatchesAndRecords(t *testing.T) {
	brokers := brokersOrSkip(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	topic := freshTopic(t, ctx, brokers, 1)
	p := NewProducer(brokers)
	defer p.Close()
	var recs []Record
	for i := 0; i < 2000; i++ {
		recs = append(recs, Record{Topic: topic, Key: []byte(fmt.Sprint(i)), Value: make([]byte, 1300)})
	}
	recs = append(recs, Record{Topic: topic, Key: []byte("big"), Value: make([]byte, 5<<20)})
	// A record above the producer's old 16 MiB batch limit, below the
	// topics' 32 MiB: it must go through (a pool period of a very large
	// pool), not wedge the processor.
	recs = append(recs, Record{Topic: topic, Key: []byte("huge"), Value: make([]byte, 24<<20)})
	if err := p.Publish(ctx, recs...); err != nil {
		t.Fatalf("publish %d records: %v", len(recs), err)
	}
	all, err := ReadAll(ctx, brokers, topic)
	if err != nil || len(all) != len(recs) || len(all[len(all)-1].Value) != 24<<20 || len(all[len(all)-2].Value) != 5<<20 {
		t.Fatalf("read back %d records (%v)", len(all), err)
	}
	// EnsureTopics on an existing topic is a no-op that keeps the limit.
	if err := EnsureTopics(ctx, brokers, []schemas.TopicSpec{{Name: topic, Partitions: 1}}, 1); err != nil {
		t.Fatal(err)
	}
}

// A drain returns once the group has reached its targets even when another
// member of the group consumed them.
func TestDrainEndsWhenAnotherMemberConsumed(t *testing.T) {
	brokers := brokersOrSkip(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	topic := freshTopic(t, ctx, brokers, 1)
	p := NewProducer(brokers)
	defer p.Close()
	if err := p.Publish(ctx, Record{Topic: topic, Key: []byte("a"), Value: []byte("1")}); err != nil {
		t.Fatal(err)
	}
	cfg := ConsumerConfig{Brokers: brokers, GroupID: "it-drain-" + topic, Topics: []string{topic}, MaxWait: 20 * time.Millisecond}
	// A long-running member holds the partition and commits the record.
	mctx, stop := context.WithCancel(ctx)
	got := make(chan struct{}, 1)
	go func() {
		_ = Consume(mctx, cfg, func(ctx context.Context, b []Message) error { got <- struct{}{}; return nil }, false)
	}()
	select {
	case <-got:
	case <-ctx.Done():
		t.Fatal("the long-running member never got the record")
	}
	// Another record arrives; the drain starts while the member still runs.
	if err := p.Publish(ctx, Record{Topic: topic, Key: []byte("b"), Value: []byte("2")}); err != nil {
		t.Fatal(err)
	}
	dctx, dcancel := context.WithTimeout(ctx, 60*time.Second)
	defer dcancel()
	start := time.Now()
	err := Consume(dctx, cfg, func(ctx context.Context, b []Message) error { return nil }, true)
	stop()
	if err != nil || dctx.Err() != nil {
		t.Fatalf("drain: %v after %s (ctx %v)", err, time.Since(start), dctx.Err())
	}
}

// A staged consumer prepares the next batch while the current one is
// handled: each Handle gets what Prepare made of that very batch, a failed
// batch and the one prepared after it are not committed, and a restart
// sees exactly the records not committed before, none of the committed.
func TestConsumeStagePreparesAheadAndCommitsInOrder(t *testing.T) {
	brokers := brokersOrSkip(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	topic := freshTopic(t, ctx, brokers, 1)
	const n = 400
	publishNumbered(t, ctx, brokers, topic, n)
	cfg := ConsumerConfig{Brokers: brokers, GroupID: "it-stage-" + topic, Topics: []string{topic}, MaxBatch: 50, MaxWait: 20 * time.Millisecond}
	keysOf := func(b []Message) any {
		ks := make([]string, len(b))
		for i, m := range b {
			ks[i] = string(m.Key)
		}
		return ks
	}
	boom := errors.New("handler failed")
	committed := map[string]bool{}
	handled := 0
	err := ConsumeStage(ctx, cfg, Stage{Prepare: keysOf, Handle: func(ctx context.Context, b []Message, prepared any) error {
		ks := prepared.([]string)
		if len(ks) != len(b) {
			t.Fatalf("prepared %d keys for a batch of %d", len(ks), len(b))
		}
		for i, m := range b {
			if ks[i] != string(m.Key) {
				t.Fatalf("prepared key %s for record %s: another batch's preparation", ks[i], m.Key)
			}
		}
		handled++
		if handled == 3 {
			return boom
		}
		for _, k := range ks {
			committed[k] = true
		}
		return nil
	}}, true)
	if !errors.Is(err, boom) || handled != 3 || len(committed) == 0 {
		t.Fatalf("failing third batch: err %v after %d batches, %d committed", err, handled, len(committed))
	}
	seen := map[string]bool{}
	err = ConsumeStage(ctx, cfg, Stage{Prepare: keysOf, Handle: func(ctx context.Context, b []Message, _ any) error {
		for _, m := range b {
			if committed[string(m.Key)] {
				t.Errorf("record %s was committed and is delivered again", m.Key)
			}
			seen[string(m.Key)] = true
		}
		return nil
	}}, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(seen)+len(committed) != n {
		t.Fatalf("restart saw %d records, %d were committed before: %d of %d", len(seen), len(committed), len(seen)+len(committed), n)
	}
}
