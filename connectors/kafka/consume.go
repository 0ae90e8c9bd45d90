package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	kgo "github.com/segmentio/kafka-go"
)

// Handler processes one batch. It must make its outputs durable (acknowledged
// by Kafka or ClickHouse) before returning nil; only then are the batch's
// offsets committed. A non-nil error stops the loop without committing, so
// the batch is delivered again after a restart: handlers are idempotent.
type Handler func(ctx context.Context, batch []Message) error

// ConsumerConfig configures a consumer-group loop.
type ConsumerConfig struct {
	Brokers  Brokers
	GroupID  string
	Topics   []string
	MaxBatch int           // records per handler call; default 1000
	MaxWait  time.Duration // how long a partial batch waits for more; default 100ms
	Logger   *slog.Logger
	// TopicPrefix, when set, is put before every topic consumed and taken
	// off the records handed to the stage, which sees the topics' own
	// names (a test's isolated topics, as Log.TopicPrefix).
	TopicPrefix string
}

func (c *ConsumerConfig) validate() error {
	if len(c.Brokers.Addrs) == 0 {
		return errors.New("kafka consumer: no brokers (set NODESHARE_KAFKA_BROKERS)")
	}
	if c.GroupID == "" {
		return errors.New("kafka consumer: group id is empty")
	}
	if len(c.Topics) == 0 {
		return errors.New("kafka consumer: no topics")
	}
	if c.TopicPrefix != "" {
		prefixed := make([]string, len(c.Topics))
		for i, t := range c.Topics {
			prefixed[i] = c.TopicPrefix + t
		}
		c.Topics = prefixed
	}
	if c.MaxBatch <= 0 {
		c.MaxBatch = 1000
	}
	if c.MaxWait <= 0 {
		c.MaxWait = 100 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Stage is a handler in two steps. Prepare is pure: it reads the batch and
// returns what Handle needs (decoded and validated records), with no
// outputs and no shared state. Because of that, Consume prepares the next
// batch while the current one is handled and committed: on a loop bound by
// round trips to the broker, the CPU work of one batch overlaps the waiting
// of the other. Handle has Handler's contract.
type Stage struct {
	Prepare func(batch []Message) any
	Handle  func(ctx context.Context, batch []Message, prepared any) error
}

// Consume runs the loop until ctx is cancelled (returns nil) or the handler
// fails (returns its error). With drain set, it returns nil as soon as the
// group has processed everything that was in the topics when it started.
func Consume(ctx context.Context, cfg ConsumerConfig, h Handler, drain bool) error {
	return ConsumeStage(ctx, cfg, Stage{Handle: func(ctx context.Context, batch []Message, _ any) error { return h(ctx, batch) }}, drain)
}

// ConsumeStage is Consume with a two-step handler. The next batch is
// fetched (and prepared) while the current one is handled; it is never
// committed before its own Handle returned nil, so a failure or a crash
// delivers it again.
func ConsumeStage(ctx context.Context, cfg ConsumerConfig, st Stage, drain bool) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	var targets map[tp]int64
	if drain {
		var err error
		targets, err = pendingTargetsSettled(ctx, cfg)
		if err != nil {
			return markOutage(ctx, err)
		}
		if len(targets) == 0 {
			return nil
		}
	}
	r := kgo.NewReader(kgo.ReaderConfig{
		Brokers:        cfg.Brokers.Addrs,
		Dialer:         cfg.Brokers.dialer(),
		GroupID:        cfg.GroupID,
		GroupTopics:    cfg.Topics,
		StartOffset:    kgo.FirstOffset,         // docs/pitfalls.md K9
		CommitInterval: 0,                       // synchronous commits (docs/pitfalls.md K8)
		MaxBytes:       MaxMessageBytes + 1<<20, // docs/pitfalls.md K14
		MaxWait:        250 * time.Millisecond,
	})
	defer closeWithDeadline(r, 10*time.Second)

	// One fetch is outstanding at a time, in its own goroutine; it is
	// cancelled and waited for before the reader closes.
	fctx, stopFetch := context.WithCancel(ctx)
	next := make(chan fetchedBatch, 1)
	pending := false
	fetch := func() {
		pending = true
		go func() { next <- fetchBatch(fctx, r, cfg, st.Prepare, drain) }()
	}
	defer func() {
		stopFetch()
		if pending {
			<-next
		}
	}()
	fetch()
	for {
		f := <-next
		pending = false
		if f.err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if drain && errors.Is(f.err, context.DeadlineExceeded) {
				// A draining loop looks up every few seconds whether the
				// group has reached its targets anyway: another member of
				// the group may hold the partitions (a daemon running beside
				// a one-off drain).
				for k, target := range targets {
					done, cerr := committedAtLeast(ctx, cfg, k, target)
					if cerr != nil {
						return markOutage(ctx, fmt.Errorf("kafka consumer %s: committed offsets: %w", cfg.GroupID, cerr))
					}
					if done {
						delete(targets, k)
					}
				}
				if len(targets) == 0 {
					return nil
				}
				fetch()
				continue
			}
			return markOutage(ctx, fmt.Errorf("kafka consumer %s: fetch: %w", cfg.GroupID, cfg.Brokers.explain(ctx, f.err)))
		}
		fetch() // the next batch, while this one is handled
		if err := st.Handle(ctx, f.batch, f.prepared); err != nil {
			return fmt.Errorf("kafka consumer %s: handler: %w", cfg.GroupID, err)
		}
		// Commit the last record of every partition in the batch (docs/pitfalls.md
		// K8: CommitMessages(msg) commits only msg's partition).
		last := map[tp]kgo.Message{}
		for _, m := range f.raw {
			k := tp{m.Topic, m.Partition}
			if prev, ok := last[k]; !ok || m.Offset > prev.Offset {
				last[k] = m
			}
		}
		commits := make([]kgo.Message, 0, len(last))
		for _, m := range last {
			commits = append(commits, m)
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		err := r.CommitMessages(cctx, commits...)
		cancel()
		if err != nil {
			// Not committed: the batch is delivered again (to this member
			// or, after a rebalance, another), and its effects are
			// idempotent.
			return markOutage(ctx, fmt.Errorf("kafka consumer %s: commit: %w", cfg.GroupID, err))
		}
		if drain {
			for k, m := range last {
				if t, ok := targets[k]; ok && m.Offset+1 >= t {
					delete(targets, k)
				}
			}
			if len(targets) == 0 {
				return nil
			}
		}
	}
}

// fetchedBatch is one batch read from the group, prepared when the stage
// has a Prepare step.
type fetchedBatch struct {
	raw      []kgo.Message
	batch    []Message
	prepared any
	err      error
}

// fetchBatch blocks for the first record (a draining loop for at most 3 s),
// then gathers more for up to MaxWait, up to MaxBatch.
func fetchBatch(ctx context.Context, r *kgo.Reader, cfg ConsumerConfig, prepare func([]Message) any, drain bool) fetchedBatch {
	var f fetchedBatch
	wctx, cancel := ctx, context.CancelFunc(func() {})
	if drain {
		wctx, cancel = context.WithTimeout(ctx, 3*time.Second)
	}
	m, err := r.FetchMessage(wctx)
	cancel()
	if err != nil {
		f.err = err
		return f
	}
	f.raw = append(make([]kgo.Message, 0, cfg.MaxBatch), m)
	wctx, cancel = context.WithTimeout(ctx, cfg.MaxWait)
	for len(f.raw) < cfg.MaxBatch {
		m, err := r.FetchMessage(wctx)
		if err != nil {
			break
		}
		f.raw = append(f.raw, m)
	}
	cancel()
	f.batch = make([]Message, len(f.raw))
	for i, m := range f.raw {
		f.batch[i] = Message{Topic: strings.TrimPrefix(m.Topic, cfg.TopicPrefix), Partition: m.Partition, Offset: m.Offset, Key: m.Key, Value: m.Value, Time: m.Time, Headers: fromKafkaHeaders(m.Headers)}
	}
	if prepare != nil {
		f.prepared = prepare(f.batch)
	}
	return f
}

type tp struct {
	topic     string
	partition int
}

// pendingTargetsSettled is pendingTargets, asked again for up to 10 s while
// a partition answers with a temporary error: a topic created a moment ago
// has no leader yet ("Not Leader For Partition", "Leader Not Available"),
// and a drain that starts then would otherwise fail at once.
func pendingTargetsSettled(ctx context.Context, cfg ConsumerConfig) (map[tp]int64, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		targets, err := pendingTargets(ctx, cfg)
		var ke kgo.Error
		if err == nil || !errors.As(err, &ke) || !ke.Temporary() || time.Now().After(deadline) {
			return targets, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// pendingTargets returns, for every partition whose committed offset is
// below the current high-water mark, that high-water mark.
func pendingTargets(ctx context.Context, cfg ConsumerConfig) (map[tp]int64, error) {
	parts, err := groupOffsets(ctx, cfg)
	if err != nil {
		return nil, err
	}
	targets := map[tp]int64{}
	for k, p := range parts {
		if p.next() < p.last {
			targets[k] = p.last
		}
	}
	return targets, nil
}

// partOffsets are one partition's first and last (high-water) offsets and
// the group's committed offset there (-1: none).
type partOffsets struct{ first, last, committed int64 }

// next is the offset the group reads next: its committed offset, or the
// first offset kept when it committed nothing (or less) there.
func (p partOffsets) next() int64 { return max(p.first, p.committed) }

// groupOffsets asks the brokers, for every partition of cfg's topics, its
// offsets and the group's committed one: what a drain waits for and what
// the lag counts (lag.go).
func groupOffsets(ctx context.Context, cfg ConsumerConfig) (map[tp]partOffsets, error) {
	client := cfg.Brokers.newClient()
	md, err := client.Metadata(ctx, &kgo.MetadataRequest{Topics: cfg.Topics})
	if err != nil {
		return nil, fmt.Errorf("kafka consumer %s: metadata from %s: %w", cfg.GroupID, cfg.Brokers, cfg.Brokers.explain(ctx, err))
	}
	reqs := map[string][]kgo.OffsetRequest{}
	parts := map[string][]int{}
	for _, t := range md.Topics {
		if t.Error != nil {
			return nil, fmt.Errorf("kafka consumer %s: topic %s: %w", cfg.GroupID, t.Name, t.Error)
		}
		for _, p := range t.Partitions {
			reqs[t.Name] = append(reqs[t.Name], kgo.FirstOffsetOf(p.ID), kgo.LastOffsetOf(p.ID))
			parts[t.Name] = append(parts[t.Name], p.ID)
		}
	}
	offs, err := client.ListOffsets(ctx, &kgo.ListOffsetsRequest{Topics: reqs})
	if err != nil {
		return nil, fmt.Errorf("kafka consumer %s: list offsets: %w", cfg.GroupID, err)
	}
	committed, err := client.OffsetFetch(ctx, &kgo.OffsetFetchRequest{GroupID: cfg.GroupID, Topics: parts})
	if err != nil {
		return nil, fmt.Errorf("kafka consumer %s: committed offsets: %w", cfg.GroupID, err)
	}
	out := map[tp]partOffsets{}
	for topic, ps := range offs.Topics {
		for _, p := range ps {
			if p.Error != nil {
				return nil, fmt.Errorf("kafka consumer %s: offsets %s/%d: %w", cfg.GroupID, topic, p.Partition, p.Error)
			}
			out[tp{topic, p.Partition}] = partOffsets{first: p.FirstOffset, last: p.LastOffset, committed: -1}
		}
	}
	for topic, ps := range committed.Topics {
		for _, p := range ps {
			k := tp{topic, p.Partition}
			if o, ok := out[k]; ok && p.Error == nil {
				o.committed = p.CommittedOffset
				out[k] = o
			}
		}
	}
	return out, nil
}

// closeWithDeadline closes r but never hangs the caller (docs/pitfalls.md K12).
func closeWithDeadline(r *kgo.Reader, d time.Duration) {
	done := make(chan struct{})
	go func() { _ = r.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}

// committedAtLeast reports whether the group's committed offset of k is at
// least target.
func committedAtLeast(ctx context.Context, cfg ConsumerConfig, k tp, target int64) (bool, error) {
	client := cfg.Brokers.newClient()
	res, err := client.OffsetFetch(ctx, &kgo.OffsetFetchRequest{GroupID: cfg.GroupID, Topics: map[string][]int{k.topic: {k.partition}}})
	if err != nil {
		return false, err
	}
	for _, p := range res.Topics[k.topic] {
		if p.Partition == k.partition && p.Error == nil {
			return p.CommittedOffset >= target, nil
		}
	}
	return false, nil
}
