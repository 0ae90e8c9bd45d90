package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"
	kgo "github.com/segmentio/kafka-go"

	"github.com/nodeshare/nodeshare/connectors/clickhouse"
	"github.com/nodeshare/nodeshare/connectors/kafka"
	"github.com/nodeshare/nodeshare/pipeline/stage/process"
	"github.com/nodeshare/nodeshare/pipeline/stage/sink"
	"github.com/nodeshare/nodeshare/schemas"
)

// benchSeq numbers topics and groups of the stream benchmarks.
var benchSeq atomic.Int64

// benchRecords is the number of records each stream benchmark moves; set
// NODESHARE_BENCH_RECORDS to change it.
func benchRecords() int {
	if n, err := strconv.Atoi(os.Getenv("NODESHARE_BENCH_RECORDS")); err == nil && n > 0 {
		return n
	}
	return 100_000
}

func benchServices(b *testing.B) config {
	b.Helper()
	if os.Getenv("NODESHARE_KAFKA_BROKERS") == "" {
		b.Skip("needs the local stack: ops/stack up; eval \"$(ops/stack env)\"")
	}
	return servicesFromEnv(b)
}

// contributionRecords builds n contribution events; invalid ones (negative
// amount) make the processor write a dead letter for each, so both sides of
// the processor benchmark consume and produce one record per input.
func contributionRecords(b *testing.B, n int, invalid bool) []kafka.Record {
	b.Helper()
	out := make([]kafka.Record, n)
	for i := range out {
		amt := int64(100_000_000 + i)
		if invalid {
			amt = -1
		}
		c := schemas.Contribution{DAO: "bench", PoolID: "pool-a", ContributionID: fmt.Sprintf("c%08d", i),
			Sponsor: "2vxsx-fae", AmountE8s: amt, At: "2026-01-01T00:00:00Z"}
		key := c.DAO + "/" + c.PoolID + "/" + c.ContributionID
		env, err := schemas.NewEnvelope(schemas.TypeContribution, key, schemas.Provenance{Source: "bench"}, c)
		if err != nil {
			b.Fatal(err)
		}
		v, _ := env.Marshal()
		out[i] = kafka.Record{Key: []byte(key), Value: v}
	}
	return out
}

func fillTopic(b *testing.B, ctx context.Context, brokers kafka.Brokers, topic string, recs []kafka.Record) {
	b.Helper()
	if err := kafka.EnsureTopics(ctx, brokers, []schemas.TopicSpec{{Name: topic, Partitions: 1}}, 1); err != nil {
		b.Fatal(err)
	}
	p := kafka.NewProducer(brokers)
	defer p.Close()
	for i := 0; i < len(recs); i += 5000 {
		end := min(i+5000, len(recs))
		chunk := make([]kafka.Record, end-i)
		for j := range chunk {
			chunk[j] = recs[i+j]
			chunk[j].Topic = topic
		}
		if err := p.Publish(ctx, chunk...); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkProcessorVsRawKafka: the processor's loop (consumer group,
// strict decode, validation, one dead letter produced per input, commit
// after the outputs are acknowledged) against raw kafka-go consume +
// produce + commit of the same records, in the same run.
func BenchmarkProcessorVsRawKafka(b *testing.B) {
	cfg := benchServices(b)
	ctx := context.Background()
	brokers := cfg.brokers()
	n := benchRecords()
	run := fmt.Sprintf("%d", time.Now().UnixNano())
	in := "bench.processor-in-" + run
	fillTopic(b, ctx, brokers, in, contributionRecords(b, n, true))

	b.Run("raw-kafka-go", func(b *testing.B) {
		var total time.Duration // the mean over every iteration
		for range b.N {
			i := benchSeq.Add(1) // unique per call: Go runs a benchmark function more than once
			out := fmt.Sprintf("bench.raw-out-%s-%d", run, i)
			if err := kafka.EnsureTopics(ctx, brokers, []schemas.TopicSpec{{Name: out, Partitions: 1}}, 1); err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			rawConsumeProduce(b, ctx, brokers, in, out, fmt.Sprintf("bench-raw-%s-%d", run, i), n)
			total += time.Since(start)
		}
		b.ReportMetric(float64(n*b.N)/total.Seconds(), "records/s")
	})
	b.Run("nodeshare-processor", func(b *testing.B) {
		var total time.Duration // the mean over every iteration
		for range b.N {
			i := benchSeq.Add(1)
			dlq := fmt.Sprintf("bench.dlq-%s-%d", run, i)
			if err := kafka.EnsureTopics(ctx, brokers, []schemas.TopicSpec{{Name: dlq, Partitions: 1}}, 1); err != nil {
				b.Fatal(err)
			}
			p := kafka.NewProducer(brokers)
			// As `nodeshare process` runs it (runProcessor), on the
			// benchmark's own input and dead-letter topics.
			pc := process.Config{Group: fmt.Sprintf("bench-proc-%s-%d", run, i), EntitlementsTopic: schemas.TopicEntitlements, DLQTopic: dlq,
				InputTypes: map[string]string{in: schemas.TypeContribution}, Logger: quietLog()}
			h, err := process.New(pc, &kafka.Log{Brokers: brokers, Producer: p})
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			err = kafka.ConsumeStage(ctx, kafka.ConsumerConfig{Brokers: brokers, GroupID: pc.Group,
				Topics: []string{in}, Logger: quietLog()}, kafka.Stage(h), true)
			if err != nil {
				b.Fatal(err)
			}
			total += time.Since(start)
			p.Close()
		}
		b.ReportMetric(float64(n*b.N)/total.Seconds(), "records/s")
	})
}

// rawConsumeProduce is the baseline: a kafka-go consumer group, batches of
// up to 1000, each written to out with the same writer settings, then the
// batch's last offset committed.
func rawConsumeProduce(b *testing.B, ctx context.Context, brokers kafka.Brokers, in, out, group string, n int) {
	r := kgo.NewReader(kgo.ReaderConfig{Brokers: brokers.Addrs, GroupID: group, GroupTopics: []string{in},
		StartOffset: kgo.FirstOffset, MaxBytes: 16 << 20, MaxWait: 250 * time.Millisecond,
		Dialer: &kgo.Dialer{Timeout: 10 * time.Second, DualStack: true, TLS: brokers.TLS, SASLMechanism: brokers.SASL}})
	defer r.Close()
	w := &kgo.Writer{Addr: kgo.TCP(brokers.Addrs...), Transport: &kgo.Transport{TLS: brokers.TLS, SASL: brokers.SASL}, Balancer: &kgo.Hash{}, RequiredAcks: kgo.RequireAll,
		BatchTimeout: 5 * time.Millisecond, BatchSize: 1000, BatchBytes: 16 << 20}
	defer w.Close()
	done := 0
	for done < n {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			b.Fatal(err)
		}
		batch := []kgo.Message{m}
		wctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		for len(batch) < 1000 {
			m, err := r.FetchMessage(wctx)
			if err != nil {
				break
			}
			batch = append(batch, m)
		}
		cancel()
		outs := make([]kgo.Message, len(batch))
		for i, m := range batch {
			outs[i] = kgo.Message{Topic: out, Key: m.Key, Value: m.Value}
		}
		if err := w.WriteMessages(ctx, outs...); err != nil {
			b.Fatal(err)
		}
		if err := r.CommitMessages(ctx, batch[len(batch)-1]); err != nil {
			b.Fatal(err)
		}
		done += len(batch)
	}
}

// BenchmarkSinkVsRawClickHouse: the sink handler (strict envelope decode,
// content hash check, hash chain, idempotent insert with a dedup token)
// against a raw clickhouse-go batch insert of the same rows into an
// identical table, in batches of 50,000 (the sink's default --batch), in the same run.
func BenchmarkSinkVsRawClickHouse(b *testing.B) {
	cfg := benchServices(b)
	ctx := context.Background()
	n := benchRecords()
	db := fmt.Sprintf("nodeshare_bench_%d", time.Now().UnixNano())
	c := cfg.ClickHouse
	c.Database = db
	store, err := clickhouse.Open(ctx, c)
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		_ = store.Conn().Exec(context.Background(), "DROP DATABASE IF EXISTS "+db)
		store.Close()
	}()
	if _, err := store.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	if err := store.Conn().Exec(ctx, "CREATE TABLE raw_baseline AS events_raw"); err != nil {
		b.Fatal(err)
	}
	recs := contributionRecords(b, n, false)
	now := time.Now()
	msgs := make([]kafka.Message, n)
	for i, r := range recs {
		msgs[i] = kafka.Message{Topic: "bench.sink", Partition: 0, Offset: int64(i), Key: r.Key, Value: r.Value, Time: now}
	}
	batch := 50_000 // rows per insert on both sides, the sink's default --batch; NODESHARE_BENCH_BATCH changes it
	if v, err := strconv.Atoi(os.Getenv("NODESHARE_BENCH_BATCH")); err == nil && v > 0 {
		batch = v
	}
	var batches [][]kafka.Message
	for i := 0; i < n; i += batch {
		batches = append(batches, msgs[i:min(i+batch, n)])
	}
	sc := sink.Config{Group: "bench-sink", MaxBatch: batch, MaxWait: 200 * time.Millisecond, Logger: quietLog()}
	// The baseline stores the very rows the sink stores (fields split out
	// of the envelopes, hash chain included): the sink stage run once over
	// a store that only keeps them, before the clock starts. What inserting
	// them costs with no decoding, checking or chaining.
	rows := sinkRows(b, sc, batches)
	if len(rows) != n {
		b.Fatalf("the sink stage stored %d raw rows of %d records", len(rows), n)
	}

	b.Run("raw-clickhouse-go", func(b *testing.B) {
		var total time.Duration // the mean over every iteration
		for it := 0; it < b.N; it++ {
			_ = store.Conn().Exec(ctx, "TRUNCATE TABLE raw_baseline")
			start := time.Now()
			for i := 0; i < n; i += batch {
				bt, err := store.Conn().PrepareBatch(ctx, "INSERT INTO raw_baseline (topic, partition, offset, key, event_id, event_type, schema_version, provenance, payload, kafka_time, ingested_at, prev_hash, row_hash)")
				if err != nil {
					b.Fatal(err)
				}
				for _, e := range rows[i:min(i+batch, n)] {
					if err := bt.Append(e.Topic, uint32(e.Partition), uint64(e.Offset), e.Key, e.EventID, e.EventType, uint16(e.SchemaVersion),
						e.Provenance, e.Payload, e.Time, now, e.PrevHash, e.RowHash); err != nil {
						b.Fatal(err)
					}
				}
				if err := bt.Send(); err != nil {
					b.Fatal(err)
				}
			}
			total += time.Since(start)
		}
		b.ReportMetric(float64(n*b.N)/total.Seconds(), "rows/s")
	})
	b.Run("nodeshare-sink", func(b *testing.B) {
		var total time.Duration // the mean over every iteration
		// As `nodeshare sink` runs it (runSinkStage): one handler, its
		// chain tips kept across batches, over the ClickHouse store.
		h, err := sink.New(sc, store)
		if err != nil {
			b.Fatal(err)
		}
		st := kafka.Stage(h)
		for it := 0; it < b.N; it++ {
			_ = store.Conn().Exec(ctx, "TRUNCATE TABLE events_raw")
			start := time.Now()
			if err := runStage(ch.Context(ctx), st, batches); err != nil {
				b.Fatal(err)
			}
			total += time.Since(start)
		}
		b.ReportMetric(float64(n*b.N)/total.Seconds(), "rows/s")
	})
}

// runStage drives st over batches as kafka.ConsumeStage does (without
// Kafka): the next batch is prepared while the current one is handled.
func runStage(ctx context.Context, st kafka.Stage, batches [][]kafka.Message) error {
	next := make(chan any, 1)
	pending := false
	prepare := func(b []kafka.Message) {
		pending = true
		go func() { next <- st.Prepare(b) }()
	}
	defer func() {
		if pending {
			<-next
		}
	}()
	prepare(batches[0])
	for i, b := range batches {
		p := <-next
		pending = false
		if i+1 < len(batches) {
			prepare(batches[i+1])
		}
		if err := st.Handle(ctx, b, p); err != nil {
			return err
		}
	}
	return nil
}

// sinkRows runs the sink stage over batches against a store that keeps
// the raw rows it is given (chained from the genesis, as into an empty
// table) and returns them in offset order.
func sinkRows(b *testing.B, sc sink.Config, batches [][]kafka.Message) []schemas.RawEvent {
	b.Helper()
	keep := &rawKeeper{}
	h, err := sink.New(sc, keep)
	if err != nil {
		b.Fatal(err)
	}
	if err := runStage(context.Background(), kafka.Stage(h), batches); err != nil {
		b.Fatal(err)
	}
	sort.Slice(keep.rows, func(i, j int) bool { return keep.rows[i].Offset < keep.rows[j].Offset })
	return keep.rows
}

// rawKeeper is a sink.Store that keeps the raw rows and drops the rest.
type rawKeeper struct {
	mu   sync.Mutex
	rows []schemas.RawEvent
}

func (k *rawKeeper) InsertRaw(_ context.Context, _ string, rows []schemas.RawEvent) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.rows = append(k.rows, rows...)
	return nil
}

func (k *rawKeeper) ChainTip(context.Context, string, int, int64) (string, error) {
	return schemas.ChainGenesis, nil
}

func (k *rawKeeper) InsertEntitlements(context.Context, string, []schemas.EntitlementRow) error {
	return nil
}
func (k *rawKeeper) InsertPoolPeriods(context.Context, string, []schemas.PoolPeriodRow) error {
	return nil
}
func (k *rawKeeper) InsertIntents(context.Context, string, []schemas.PayoutIntent) error { return nil }
func (k *rawKeeper) InsertResults(context.Context, string, []schemas.ResultRow) error    { return nil }
func (k *rawKeeper) InsertDeadLetters(context.Context, string, []schemas.DeadLetter) error {
	return nil
}
