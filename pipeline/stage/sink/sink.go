package sink

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/nodeshare/nodeshare/pipeline/stage"
	"github.com/nodeshare/nodeshare/pipeline/stage/retry"
	"github.com/nodeshare/nodeshare/schemas"
)

// chunkRows is the size of one raw insert inside a batch: a full batch
// (50,000) goes as four inserts at once, which kept the server busy while
// the client encoded (measured: 205-215k rows/s against 185-209k for one
// insert of the same rows on one connection; docs/pipeline.md).
const chunkRows = 12500

// sink is the stage's state between batches: the chain tips of the rows
// it stored, so a batch that follows the last one links without a read.
type sink struct {
	cfg    Config
	store  Store
	out    *slog.Logger
	tips   chainTips
	policy retry.Policy
}

// New returns the sink's batch handler over store, for the consume loop
// (cmd/nodeshare runs it as kafka.Stage(h) under cfg.Group on Topics()).
// The handler keeps the chain tips between batches: one handler per loop.
func New(cfg Config, store Store) (stage.BatchHandler, error) {
	if err := cfg.Validate(); err != nil {
		return stage.BatchHandler{}, err
	}
	if store == nil {
		return stage.BatchHandler{}, fmt.Errorf("sink: no store")
	}
	s := &sink{cfg: cfg, store: store, out: cfg.logger(), tips: chainTips{}}
	// Every step retried is idempotent (a tokened insert, a read), so any
	// failure may be the store restarting: retry.Always.
	s.policy = retry.Policy{Classify: retry.Always, OnRetry: func(err error, try int, wait time.Duration) {
		s.out.Warn("store step retried", "try", try, "wait", wait.String(), "reason", err.Error())
	}}
	return stage.BatchHandler{Prepare: func(b []schemas.Message) any { return decodeBatch(b) }, Handle: s.handle}, nil
}

// handle stores the batch: raw rows in chunks (concurrently), then the
// typed rows; the chain tips move only once everything is stored.
func (s *sink) handle(ctx context.Context, batch []schemas.Message, prepared any) error {
	decoded, ok := prepared.([]row)
	if !ok || len(decoded) != len(batch) {
		decoded = decodeBatch(batch) // a loop that did not prepare: do it here
	}
	var (
		ents    []schemas.EntitlementRow
		periods []schemas.PoolPeriodRow
		intents []schemas.PayoutIntent
		results []schemas.ResultRow
		dead    []schemas.DeadLetter
		// own are the records the sink dead-letters itself (not those
		// read from the dead-letter topic).
		own = stage.DeadLetterCounts{}
	)
	var all bytes.Buffer
	// The raw rows go in chunks; chunk boundaries depend only on the
	// batch, so tokens are stable for a redelivered batch.
	local := chainTips{}
	for k, v := range s.tips {
		local[k] = v
	}
	var inserts []func() error
	for lo := 0; lo < len(batch); lo += chunkRows {
		chunk := batch[lo:min(lo+chunkRows, len(batch))]
		rows := decoded[lo : lo+len(chunk)]
		raws := make([]schemas.RawEvent, len(rows))
		var coords bytes.Buffer
		for i, r := range rows {
			m := chunk[i]
			coords.WriteString(m.Topic + "/" + strconv.Itoa(m.Partition) + "/" + strconv.FormatInt(m.Offset, 10) + ";")
			raws[i] = r.raw
			if r.err != nil {
				own.Add(m.Topic, stage.ReasonUndecodable)
				dead = append(dead, schemas.DeadLetter{SourceTopic: m.Topic, Partition: m.Partition, Offset: m.Offset, Key: string(m.Key), Reason: r.err.Error(), RawBase64: base64.StdEncoding.EncodeToString(m.Value)})
				continue
			}
			switch v := r.typed.(type) {
			case schemas.Entitlement:
				ents = append(ents, schemas.EntitlementRow{Entitlement: v, EventID: r.raw.EventID, Coord: r.raw.Coord})
			case schemas.PoolPeriod:
				periods = append(periods, schemas.PoolPeriodRow{PoolPeriod: v, EventID: r.raw.EventID, Coord: r.raw.Coord})
			case schemas.PayoutIntent:
				intents = append(intents, v)
			case schemas.PayoutResult:
				results = append(results, schemas.ResultRow{PayoutResult: v, RecordedAt: m.Time})
			case schemas.DeadLetter:
				dead = append(dead, v)
			}
		}
		all.Write(coords.Bytes())
		next, err := s.chain(ctx, local, raws)
		if err != nil {
			return err
		}
		for k, v := range next {
			local[k] = v
		}
		token := "raw-" + digest(coords.Bytes())
		inserts = append(inserts, func() error {
			return s.timed("events_raw", len(raws), func() error {
				return retry.Do(ctx, s.policy, func(ctx context.Context) error { return s.store.InsertRaw(ctx, token, raws) })
			})
		})
	}
	// The chunks go to the store at once, each on its own connection: the
	// server writes one while it reads the other. Every chunk is stored
	// before the batch counts as stored.
	if err := allDone(inserts); err != nil {
		return err
	}
	s.cfg.Crash.At(CrashAfterRaw)
	token := digest(all.Bytes())
	steps := []struct {
		table string
		rows  int
		do    func(context.Context) error
	}{
		{"entitlements", len(ents), func(ctx context.Context) error { return s.store.InsertEntitlements(ctx, "ent-"+token, ents) }},
		{"pool_periods", len(periods), func(ctx context.Context) error { return s.store.InsertPoolPeriods(ctx, "pp-"+token, periods) }},
		{"payout_intents", len(intents), func(ctx context.Context) error { return s.store.InsertIntents(ctx, "int-"+token, intents) }},
		{"payout_results", len(results), func(ctx context.Context) error { return s.store.InsertResults(ctx, "res-"+token, results) }},
		{"dead_letters", len(dead), func(ctx context.Context) error { return s.store.InsertDeadLetters(ctx, "dlq-"+token, dead) }},
	}
	for _, step := range steps {
		if err := s.timed(step.table, step.rows, func() error { return retry.Do(ctx, s.policy, step.do) }); err != nil {
			return err
		}
	}
	for k, v := range local { // only once the rows are stored
		s.tips[k] = v
	}
	if s.cfg.Observer != nil {
		own.Report(s.cfg.Observer)
		stage.RecordsIn(s.cfg.Observer, batch)
	}
	s.out.Debug("sink batch stored", "records", len(batch), "entitlements", len(ents), "dead_letters", len(dead))
	return nil
}

// timed runs insert (rows rows into table) and tells the observer how
// long it took, once it succeeded. An empty insert is not counted.
func (s *sink) timed(table string, rows int, insert func() error) error {
	start := time.Now()
	err := insert()
	if err == nil && rows > 0 && s.cfg.Observer != nil {
		s.cfg.Observer.Stored(table, rows, time.Since(start))
	}
	return err
}

// digest is the token part of a list of coordinates: 128 bits of SHA-256.
func digest(coords []byte) string {
	sum := sha256.Sum256(coords)
	return hex.EncodeToString(sum[:16])
}

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
