package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/nodeshare/nodeshare/connectors/clickhouse"
	"github.com/nodeshare/nodeshare/connectors/kafka"
	"github.com/nodeshare/nodeshare/pipeline/entitle"
	"github.com/nodeshare/nodeshare/pipeline/rates"
	"github.com/nodeshare/nodeshare/schemas"
)

// Consumer group ids. Changing one makes the group start from the beginning.
const (
	groupEntitle = "nodeshare-entitle.v1"
	groupSink    = "nodeshare-sink.v1"
)

// deadLetter builds the dead-letter record of a record that cannot be
// processed (DLQ v1, schemas.DeadLetterRecord): its value unchanged, the
// reason and coordinates in headers. The stream goes on.
func deadLetter(dlqTopic string, m kafka.Message, reason error) kafka.Record {
	k, v, h := schemas.DeadLetterRecord(m.Topic, m.Partition, m.Offset, m.Key, m.Value, reason.Error())
	return kafka.Record{Topic: dlqTopic, Key: k, Value: v, Headers: h}
}

// publishNew publishes the events whose key is not yet on their topic with
// the same content, so that re-running a step never duplicates a fact. A
// key that exists with other content is an error: a fact never changes.
func publishNew(ctx context.Context, brokers []string, p *kafka.Producer, evs []entitle.Event) (int, error) {
	existing := map[string]map[string]string{} // topic -> key -> content hash
	var recs []kafka.Record
	for _, ev := range evs {
		if existing[ev.Topic] == nil {
			msgs, err := kafka.ReadAll(ctx, brokers, ev.Topic)
			if err != nil {
				return 0, err
			}
			seen := map[string]string{}
			for _, m := range msgs {
				if env, err := schemas.DecodeEnvelope(m.Value); err == nil {
					seen[string(m.Key)] = env.Provenance.ContentSHA256
				}
			}
			existing[ev.Topic] = seen
		}
		if h, ok := existing[ev.Topic][ev.Key]; ok {
			if h != ev.Envelope.Provenance.ContentSHA256 {
				return 0, fmt.Errorf("%s key %s already holds different content (%s, new %s): refusing to overwrite a fact", ev.Topic, ev.Key, h, ev.Envelope.Provenance.ContentSHA256)
			}
			continue
		}
		b, err := ev.Envelope.Marshal()
		if err != nil {
			return 0, err
		}
		recs = append(recs, kafka.Record{Topic: ev.Topic, Key: []byte(ev.Key), Value: b})
		existing[ev.Topic][ev.Key] = ev.Envelope.Provenance.ContentSHA256
	}
	return len(recs), p.Publish(ctx, recs...)
}

// rebuildState reads the pool, contribution and entitlement topics to their
// ends and folds them into a fresh processor state. Invalid records were
// dead-lettered when first consumed and are left out.
func rebuildState(ctx context.Context, brokers []string, entitlementsTopic string, log *slog.Logger) (*entitle.State, error) {
	st := entitle.NewState()
	for _, topic := range []string{schemas.TopicPools, schemas.TopicContributions, schemas.TopicNodePeriodWeights, entitlementsTopic} {
		msgs, err := kafka.ReadAll(ctx, brokers, topic)
		if err != nil {
			return nil, err
		}
		for _, m := range msgs {
			env, err := schemas.DecodeEnvelope(m.Value)
			if err == nil {
				err = st.Apply(env)
			}
			if err != nil {
				log.Debug("state record skipped", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "reason", err.Error())
			}
		}
	}
	return st, nil
}

// processorConfig configures the entitlement processor.
type processorConfig struct {
	Brokers           []string
	EntitlementsTopic string // dao.entitlements.v1, or a fresh topic for a replay
	DLQTopic          string // dao.dlq.v1 unless a test or benchmark isolates it
	// InputTypes maps extra input topics to their event type (benchmarks);
	// the standard inputs are always known.
	InputTypes map[string]string
	Params     entitle.Params
}

func (c processorConfig) dlqTopic() string {
	if c.DLQTopic != "" {
		return c.DLQTopic
	}
	return schemas.TopicDLQ
}

// processorTopics are the processor's inputs.
var processorTopics = []string{schemas.TopicPools, schemas.TopicContributions, schemas.TopicRates, schemas.TopicNodeRewards}

// processStage validates every input record (invalid ones go to the
// dead-letter topic with the reason and the stream goes on) and, for each
// NNS reward, rebuilds the state, allocates, and publishes the pool periods
// and entitlements before the offset moves.
func processStage(cfg processorConfig, p *kafka.Producer, log *slog.Logger) kafka.Stage {
	// Decoding and validating are independent per record and pure: done on
	// every core, for the next batch while the current one is handled (see
	// kafka.Stage); the records are then handled in order.
	prepare := func(batch []kafka.Message) any {
		return parallel(batch, func(m kafka.Message) checkedRecord {
			env, err := schemas.DecodeEnvelope(m.Value)
			if err == nil {
				if typ, ok := cfg.InputTypes[m.Topic]; ok {
					err = entitle.ValidateType(typ, m.Topic, env)
				} else {
					err = entitle.Validate(m.Topic, env)
				}
			}
			c := checkedRecord{env: env, err: err}
			if err != nil {
				c.dead = deadLetter(cfg.dlqTopic(), m, err)
			}
			return c
		})
	}
	handle := func(ctx context.Context, batch []kafka.Message, prepared any) error {
		// Dead letters of the batch are published together, before the
		// batch's offsets are committed.
		var dead []kafka.Record
		var spots []kafka.Message
		// reject dead-letters a record (rec, when already built).
		reject := func(m kafka.Message, reason error, rec *kafka.Record) {
			if len(dead) == 0 { // one line per batch, not per record: a flood stays readable
				log.Warn("record dead-lettered", "topic", m.Topic, "partition", m.Partition, "offset", m.Offset, "reason", reason.Error())
			}
			if rec == nil {
				r := deadLetter(cfg.dlqTopic(), m, reason)
				rec = &r
			}
			dead = append(dead, *rec)
		}
		checks := prepared.([]checkedRecord)
		for i, m := range batch {
			env, err := checks[i].env, checks[i].err
			if err != nil {
				reject(m, err, &checks[i].dead)
				continue
			}
			if m.Topic == schemas.TopicRates {
				spots = append(spots, m)
				continue
			}
			if m.Topic != schemas.TopicNodeRewards {
				continue
			}
			var r schemas.NodeReward
			if err := env.DecodePayload(schemas.TypeNodeReward, &r); err != nil {
				return err // Validate decoded it already: cannot happen
			}
			st, err := rebuildState(ctx, cfg.Brokers, cfg.EntitlementsTopic, log)
			if err != nil {
				return err
			}
			// A reward is allocated once: on redelivery (a crash before the
			// commit) its decisions stand, even if a fact arrived since.
			// A partly published reward (a crash mid-publish) is recomputed
			// and completed; publishNew refuses any record that differs.
			if st.Allocated(env.EventID) {
				log.Info("reward already allocated", "reward", env.EventID)
				continue
			}
			evs, err := st.Reward(r, cfg.Params)
			if err != nil {
				reject(m, err, nil)
				continue
			}
			for i := range evs {
				evs[i].Topic = cfg.EntitlementsTopic
			}
			if os.Getenv("NODESHARE_CRASHPOINT") == "process-mid-publish" {
				if _, err := publishNew(ctx, cfg.Brokers, p, evs[:len(evs)/2]); err != nil {
					return err
				}
				crashpoint("process-mid-publish")
			}
			n, err := publishNew(ctx, cfg.Brokers, p, evs)
			if err != nil {
				return err
			}
			log.Info("reward allocated", "reward", env.EventID, "period", entitle.PeriodOf(r.TimestampSeconds), "events", len(evs), "published", n)
		}
		if err := publishAverages(ctx, cfg, p, spots); err != nil {
			return err
		}
		if len(dead) > 1 {
			log.Warn("records dead-lettered in this batch", "count", len(dead))
		}
		return p.Publish(ctx, dead...)
	}
	return kafka.Stage{Prepare: prepare, Handle: handle}
}

// checkedRecord is one input record decoded and validated.
type checkedRecord struct {
	env  schemas.Envelope
	err  error        // why the record is rejected, if it is
	dead kafka.Record // its dead letter when rejected
}

// parallel applies f to every element on every core, keeping the order.
func parallel[T, R any](in []T, f func(T) R) []R {
	out := make([]R, len(in))
	workers := runtime.GOMAXPROCS(0)
	if len(in) < 256 || workers < 2 {
		for i, x := range in {
			out[i] = f(x)
		}
		return out
	}
	var wg sync.WaitGroup
	chunk := (len(in) + workers - 1) / workers
	for lo := 0; lo < len(in); lo += chunk {
		hi := min(lo+chunk, len(in))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				out[i] = f(in[i])
			}
		}()
	}
	wg.Wait()
	return out
}

// publishAverages publishes, for every spot rate of the batch, the 30-day
// average and the NNS rate (minimum floor applied) as of that observation,
// computed from the observations up to it on the rates topic; so a replay
// computes the same numbers whatever came later.
func publishAverages(ctx context.Context, cfg processorConfig, p *kafka.Producer, spots []kafka.Message) error {
	var todo []kafka.Message
	for _, m := range spots {
		env, err := schemas.DecodeEnvelope(m.Value)
		var r schemas.Rate
		if err == nil && env.DecodePayload(schemas.TypeRate, &r) == nil && r.Kind == "spot" && env.Provenance.Source != "nodeshare" {
			todo = append(todo, m)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	all, err := kafka.ReadAll(ctx, cfg.Brokers, schemas.TopicRates)
	if err != nil {
		return err
	}
	type obs struct {
		partition int
		offset    int64
		o         rates.Observation
	}
	var known []obs
	for _, m := range all {
		env, err := schemas.DecodeEnvelope(m.Value)
		var r schemas.Rate
		if err == nil && env.DecodePayload(schemas.TypeRate, &r) == nil && r.Kind == "spot" && r.XDRPermyriadPerICP > 0 && env.Provenance.Source != "nodeshare" {
			known = append(known, obs{m.Partition, m.Offset, rates.Observation{TimestampSeconds: r.TimestampSeconds, XDRPermyriadPerICP: r.XDRPermyriadPerICP}})
		}
	}
	var evs []entitle.Event
	for _, m := range todo {
		var upTo []rates.Observation
		var at uint64
		for _, k := range known {
			if k.partition == m.Partition && k.offset <= m.Offset {
				upTo = append(upTo, k.o)
				if k.offset == m.Offset {
					at = k.o.TimestampSeconds
				}
			}
		}
		avg, _, err := rates.Average30(upTo, at)
		if err != nil {
			continue // nothing to average yet
		}
		minRate := cfg.Params.MinimumICPXDRRate
		if minRate == 0 {
			minRate = 100
		}
		for kind, v := range map[string]int64{"avg30": avg, "nns": rates.NNSRate(avg, minRate)} {
			key := "nodeshare/" + kind + "/" + string(m.Key)
			env, err := schemas.NewEnvelope(schemas.TypeRate, key, schemas.Provenance{Source: "nodeshare", Method: "rates/" + kind},
				schemas.Rate{Kind: kind, TimestampSeconds: at, XDRPermyriadPerICP: v})
			if err != nil {
				return err
			}
			evs = append(evs, entitle.Event{Topic: schemas.TopicRates, Key: key, Envelope: env})
		}
	}
	sort.Slice(evs, func(i, j int) bool { return evs[i].Key < evs[j].Key })
	_, err = publishNew(ctx, cfg.Brokers, p, evs)
	return err
}

// sinkStage writes every record to events_raw and the typed tables. Rows
// are keyed by their business key (ReplacingMergeTree) and each insert
// carries a token derived from the batch's coordinates, so a redelivered
// batch changes nothing. Decoding and the per-row chain digests (the
// sink's CPU work, pure) are the Prepare step: they run for the next batch
// while the current one is inserted (kafka.ConsumeStage).
func sinkStage(store *clickhouse.Store, log *slog.Logger) kafka.Stage {
	tips := chainTips{}
	prepare := func(batch []kafka.Message) any { return decodeForSink(batch) }
	handle := func(ctx context.Context, batch []kafka.Message, prepared any) error {
		var (
			ents    []clickhouse.EntitlementRow
			periods []clickhouse.PoolPeriodRow
			intents []schemas.PayoutIntent
			results []clickhouse.ResultRow
			dead    []schemas.DeadLetter
		)
		decoded := prepared.([]sinkRow)
		var all bytes.Buffer
		// The raw rows go in chunks; chunk boundaries depend only on the
		// batch, so tokens are stable for a redelivered batch.
		local := chainTips{}
		for k, v := range tips {
			local[k] = v
		}
		var inserts []func() error
		for lo := 0; lo < len(batch); lo += sinkChunk {
			chunk := batch[lo:min(lo+sinkChunk, len(batch))]
			rows := decoded[lo : lo+len(chunk)]
			raws := make([]clickhouse.RawEvent, len(rows))
			var coords bytes.Buffer
			for i, r := range rows {
				m := chunk[i]
				coords.WriteString(m.Topic + "/" + strconv.Itoa(m.Partition) + "/" + strconv.FormatInt(m.Offset, 10) + ";")
				raws[i] = r.raw
				if r.err != nil {
					dead = append(dead, schemas.DeadLetter{SourceTopic: m.Topic, Partition: m.Partition, Offset: m.Offset, Key: string(m.Key), Reason: r.err.Error(), RawBase64: base64.StdEncoding.EncodeToString(m.Value)})
					continue
				}
				switch v := r.typed.(type) {
				case schemas.Entitlement:
					ents = append(ents, clickhouse.EntitlementRow{Entitlement: v, EventID: r.raw.EventID, Coord: r.raw.Coord})
				case schemas.PoolPeriod:
					periods = append(periods, clickhouse.PoolPeriodRow{PoolPeriod: v, EventID: r.raw.EventID, Coord: r.raw.Coord})
				case schemas.PayoutIntent:
					intents = append(intents, v)
				case schemas.PayoutResult:
					results = append(results, clickhouse.ResultRow{PayoutResult: v, RecordedAt: m.Time})
				case schemas.DeadLetter:
					dead = append(dead, v)
				}
			}
			all.Write(coords.Bytes())
			next, err := chainRaw(ctx, store, local, raws)
			if err != nil {
				return err
			}
			for k, v := range next {
				local[k] = v
			}
			sum := sha256.Sum256(coords.Bytes())
			inserts = append(inserts, func() error {
				return retry(ctx, 5, func() error { return store.InsertRaw(ctx, "raw-"+hex.EncodeToString(sum[:16]), raws) })
			})
		}
		// The chunks go to ClickHouse at once, each on its own connection:
		// the server writes one while it reads the other. Every chunk is
		// stored before the batch counts as stored.
		if err := allDone(inserts); err != nil {
			return err
		}
		crashpoint("sink-after-raw")
		sum := sha256.Sum256(all.Bytes())
		token := hex.EncodeToString(sum[:16])
		steps := []func() error{
			func() error { return store.InsertEntitlements(ctx, "ent-"+token, ents) },
			func() error { return store.InsertPoolPeriods(ctx, "pp-"+token, periods) },
			func() error { return store.InsertIntents(ctx, "int-"+token, intents) },
			func() error { return store.InsertResults(ctx, "res-"+token, results) },
			func() error { return store.InsertDeadLetters(ctx, "dlq-"+token, dead) },
		}
		for _, step := range steps {
			if err := retry(ctx, 5, step); err != nil {
				return err
			}
		}
		for k, v := range local { // only once the rows are stored
			tips[k] = v
		}
		log.Debug("sink batch stored", "records", len(batch), "entitlements", len(ents), "dead_letters", len(dead))
		return nil
	}
	return kafka.Stage{Prepare: prepare, Handle: handle}
}

// sinkChunk is the size of one raw insert inside a batch: a full batch
// (50,000) goes as four inserts at once, which kept the server busy while
// the client encoded (measured: 205-215k rows/s against 185-209k for one
// insert of the same rows on one connection).
const sinkChunk = 12500

// allDone runs fs concurrently and returns the first error, once all are done.
func allDone(fs []func() error) error {
	errs := make(chan error, len(fs))
	for _, f := range fs {
		go func() { errs <- f() }()
	}
	var first error
	for range fs {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// sinkRow is one record decoded for the sink: its raw row, and the typed
// row of the decision and payout tables when it has one.
type sinkRow struct {
	raw   clickhouse.RawEvent
	typed any
	err   error // undecodable: stored raw as "undecodable" and dead-lettered
}

// decodeForSink decodes a batch and computes each row's chain digest on
// every core: that is the sink's main CPU cost, and rows are independent
// (only the cheap linking of the chain is done after, in order).
func decodeForSink(batch []kafka.Message) []sinkRow {
	return parallel(batch, func(m kafka.Message) sinkRow {
		r := decodeSinkRow(m)
		r.raw.Digest, r.raw.HasDigest = schemas.ChainDigest(r.raw.ChainRow()), true
		return r
	})
}

func decodeSinkRow(m kafka.Message) sinkRow {
	c := clickhouse.Coord{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Time: m.Time}
	if schemas.IsDeadLetterRecord(m.Headers) {
		// DLQ v1: the rejected value as it arrived, the why in headers; the
		// row keeps both (provenance holds the headers as JSON).
		d, err := schemas.ReadDeadLetter(m.Key, m.Value, m.Headers)
		if err != nil {
			return sinkRow{raw: clickhouse.RawEvent{Coord: c, Key: string(m.Key), EventType: "undecodable", Payload: string(m.Value)}, err: err}
		}
		return sinkRow{raw: clickhouse.RawEvent{Coord: c, Key: string(m.Key), EventID: string(m.Key), EventType: schemas.TypeDeadLetter,
			SchemaVersion: schemas.SchemaVersion, Provenance: d.AuditJSON(), Payload: string(m.Value)}, typed: d}
	}
	env, err := schemas.PeekEnvelope(m.Value)
	if err != nil {
		return sinkRow{raw: clickhouse.RawEvent{Coord: c, Key: string(m.Key), EventType: "undecodable", Payload: string(m.Value)}, err: err}
	}
	r := sinkRow{raw: clickhouse.RawEvent{Coord: c, Key: string(m.Key), EventID: env.EventID, EventType: env.Type,
		SchemaVersion: env.SchemaVersion, Provenance: string(env.Provenance), Payload: string(env.Payload)}}
	if decode, ok := sinkTyped[env.Type]; ok {
		strict := schemas.Envelope{SchemaVersion: env.SchemaVersion, Type: env.Type, EventID: env.EventID, Payload: env.Payload}
		r.typed, r.err = decode(strict)
	}
	return r
}

// sinkTyped decodes the payloads the sink also stores in typed tables.
var sinkTyped = map[string]func(schemas.Envelope) (any, error){
	schemas.TypeEntitlement:  decodeTyped[schemas.Entitlement],
	schemas.TypePoolPeriod:   decodeTyped[schemas.PoolPeriod],
	schemas.TypePayoutIntent: decodeTyped[schemas.PayoutIntent],
	schemas.TypePayoutResult: decodeTyped[schemas.PayoutResult],
	schemas.TypeDeadLetter:   decodeTyped[schemas.DeadLetter],
}

// decodeTyped decodes env's payload strictly as a T (nil on error).
func decodeTyped[T any](env schemas.Envelope) (any, error) {
	var v T
	if err := env.DecodePayload(env.Type, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// chainTip is the last row this sink stored for a (topic, partition).
type chainTip struct {
	offset int64
	hash   string
}

type chainKey struct {
	topic     string
	partition int
}

type chainTips map[chainKey]chainTip

// chainRaw fills prev_hash and row_hash of raw rows: per (topic, partition)
// in offset order, starting from the last stored row below the batch (the
// sink's own last row when the batch follows it directly, else asked of
// ClickHouse). The hashes depend only on the rows, so a redelivered batch
// gets the same ones. It returns the new tips, to remember once stored.
func chainRaw(ctx context.Context, store *clickhouse.Store, tips chainTips, raws []clickhouse.RawEvent) (chainTips, error) {
	idx := map[chainKey][]int{}
	var order []chainKey
	for i, r := range raws {
		k := chainKey{r.Topic, r.Partition}
		if _, ok := idx[k]; !ok {
			order = append(order, k)
		}
		idx[k] = append(idx[k], i)
	}
	next := chainTips{}
	for _, k := range order {
		is := idx[k]
		if !sort.SliceIsSorted(is, func(a, b int) bool { return raws[is[a]].Offset < raws[is[b]].Offset }) { // batches come in offset order
			sort.Slice(is, func(a, b int) bool { return raws[is[a]].Offset < raws[is[b]].Offset })
		}
		first := raws[is[0]].Offset
		var prev string
		if tip, ok := tips[k]; ok && tip.offset == first-1 {
			prev = tip.hash
		} else {
			err := retry(ctx, 5, func() error {
				var err error
				prev, err = store.ChainTip(ctx, k.topic, k.partition, first)
				return err
			})
			if err != nil {
				return nil, err
			}
		}
		for _, i := range is {
			raws[i].PrevHash = prev
			if !raws[i].HasDigest {
				raws[i].Digest, raws[i].HasDigest = schemas.ChainDigest(raws[i].ChainRow()), true
			}
			raws[i].RowHash = schemas.ChainLink(prev, raws[i].Digest)
			prev = raws[i].RowHash
		}
		last := raws[is[len(is)-1]]
		next[k] = chainTip{offset: last.Offset, hash: last.RowHash}
	}
	return next, nil
}

// retry runs f up to n times with a doubling backoff while ctx lives. Only
// idempotent steps are retried.
func retry(ctx context.Context, n int, f func() error) error {
	var err error
	wait := 200 * time.Millisecond
	for i := 0; i < n; i++ {
		if err = f(); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait *= 2
	}
	return err
}
