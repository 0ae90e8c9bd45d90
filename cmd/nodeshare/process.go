package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nodeshare/nodeshare/connectors/clickhouse"
	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/connectors/kafka"
	"github.com/nodeshare/nodeshare/connectors/metrics"
	"github.com/nodeshare/nodeshare/pipeline/entitle"
	"github.com/nodeshare/nodeshare/pipeline/stage"
	lifecyclestage "github.com/nodeshare/nodeshare/pipeline/stage/lifecycle"
	"github.com/nodeshare/nodeshare/pipeline/stage/process"
	"github.com/nodeshare/nodeshare/pipeline/stage/retry"
	"github.com/nodeshare/nodeshare/pipeline/stage/sink"
	"github.com/nodeshare/nodeshare/schemas"
)

// processCmd runs the two stream processors, each under its own consumer
// group, in one process: the entitlement processor (pipeline/stage/process:
// pools, contributions, rates and NNS rewards in, and the pool states of
// dao.pool-lifecycle.v1 read for each reward; pool periods and
// entitlements out) and the pool lifecycle processor
// (pipeline/stage/lifecycle: pools, pool facts and ledger blocks in; pool
// states and lifecycle transfers out). Both dead-letter what they cannot
// use, with the reason, and commit offsets only after their outputs are
// acknowledged. Both run until the context ends or one fails (then the
// other is stopped and the command fails); --drain drains both. A replay
// (--from-beginning) runs the entitlement processor alone: the lifecycle
// has no replay topic, and a fresh group of it would find everything
// published.
type processCmd struct {
	kafkaFlags
	metricsFlags
	Group             string `name:"group" default:"${process_group}" help:"Consumer group id of the entitlement processor."`
	FromBeginning     bool   `name:"from-beginning" help:"Replay: consume every input of the entitlement processor from its first offset under a fresh group id (<group>-replay-<unix time>); the lifecycle processor does not run."`
	EntitlementsTopic string `name:"entitlements-topic" default:"${entitlements_topic}" help:"Topic for pool periods and entitlements (a fresh topic for a replay; created if missing)."`
	LedgerFeeE8s      int64  `name:"ledger-fee-e8s" env:"NODESHARE_LEDGER_FEE_E8S" default:"10000" help:"ICP ledger fee borne by each recipient (icrc1_fee)."`
	Drain             bool   `name:"drain" help:"Stop once everything on the input topics when it started is processed (both processors)."`
	Lifecycle         bool   `name:"lifecycle" default:"true" negatable:"" help:"Run the pool lifecycle processor beside the entitlement processor (--no-lifecycle: the entitlement processor alone)."`
	LifecycleGroup    string `name:"lifecycle-group" default:"nodeshare-lifecycle.v1" help:"Consumer group id of the pool lifecycle processor."`
	TopicPrefix       string `name:"topic-prefix" env:"NODESHARE_TOPIC_PREFIX" help:"Prefix of every topic read and written (tests only)."`
}

func (c *processCmd) config() process.Config {
	return process.Config{Group: c.Group, EntitlementsTopic: c.EntitlementsTopic, Params: entitle.Params{LedgerFeeE8s: c.LedgerFeeE8s}}
}

func (c *processCmd) lifecycleConfig() lifecyclestage.Config {
	return lifecyclestage.Config{Group: c.LifecycleGroup, Verifier: ic.Verifier{}}
}

func (c *processCmd) Validate() error {
	if !c.Lifecycle || c.FromBeginning {
		return validateAll(c.kafkaFlags, c.metricsFlags, c.config())
	}
	return validateAll(c.kafkaFlags, c.metricsFlags, c.config(), c.lifecycleConfig())
}

func (c *processCmd) Run(e env) error {
	pc := c.config()
	pc.Crash, pc.Logger = crashFromEnv(), slog.New(slog.NewJSONHandler(e.stderr, nil))
	brokers := c.brokers()
	if c.FromBeginning {
		pc.Group = fmt.Sprintf("%s-replay-%d", pc.Group, time.Now().Unix())
	}
	lc := c.lifecycleConfig()
	lc.Crash, lc.Logger = pc.Crash, pc.Logger.With("stage", "lifecycle")
	withLifecycle := c.Lifecycle && !c.FromBeginning
	// Metrics: records in and dead letters of each processor, each
	// group's lag. Ready: Kafka answers.
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	if addr := c.addr(metricsProcess, c.Drain); addr != "" {
		reg := metrics.New(versionString())
		pc.Observer = reg.Stream("process", process.Inputs(), stage.Reasons())
		watchLag(ctx, reg, kafka.ConsumerConfig{Brokers: brokers, GroupID: pc.Group, Topics: process.Inputs(), Logger: pc.Logger, TopicPrefix: c.TopicPrefix})
		if withLifecycle {
			lc.Observer = reg.Stream("lifecycle", lc.Inputs(), stage.Reasons())
			watchLag(ctx, reg, kafka.ConsumerConfig{Brokers: brokers, GroupID: lc.Group, Topics: lc.Inputs(), Logger: lc.Logger, TopicPrefix: c.TopicPrefix})
		}
		wait, err := serveMetrics(ctx, addr, reg, []metrics.Check{kafkaCheck(brokers)}, pc.Logger)
		if err != nil {
			return err
		}
		defer wait()
		defer cancel()
	}
	topts := c.topicOptions()
	entitlements := func(ctx context.Context) error {
		return supervised(ctx, "processor", pc.Logger, func(ctx context.Context) error {
			return runProcessor(ctx, brokers, topts, c.TopicPrefix, pc, c.Drain)
		})
	}
	if !withLifecycle {
		return entitlements(ctx)
	}
	return runTogether(ctx, entitlements, func(ctx context.Context) error {
		return supervised(ctx, "lifecycle processor", lc.Logger, func(ctx context.Context) error {
			return runLifecycle(ctx, brokers, topts, c.TopicPrefix, lc, c.Drain)
		})
	})
}

// supervised runs a daemon's loop through retry.Supervise: a transient
// failure (Kafka or ClickHouse away: connection refused, a broker without a
// leader, a commit that timed out, the group rebalancing) is logged with
// its reason and the loop starts again after a capped, jittered wait, for
// as long as the command runs; any other failure stops the command. The
// loops commit offsets only after their effects are durable and every
// effect is idempotent, so a restarted loop loses and duplicates nothing.
func supervised(ctx context.Context, name string, log *slog.Logger, run func(context.Context) error) error {
	return retry.Supervise(ctx, retry.Daemon{Name: name, Logger: log, Initial: time.Second, Max: 15 * time.Second}, run)
}

// runTogether runs fns side by side until all return; the first to fail
// stops the others, and its error is returned.
func runTogether(ctx context.Context, fns ...func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(fns))
	for _, f := range fns {
		go func() { errs <- f(ctx) }()
	}
	var first error
	for range fns {
		if err := <-errs; err != nil && first == nil {
			first = err
			cancel()
		}
	}
	return first
}

// runProcessors runs the entitlement and the lifecycle processors side by
// side until ctx ends (or, with drain, until both drained). The first to
// fail stops the other, and its error is returned.
func runProcessors(ctx context.Context, brokers kafka.Brokers, topts kafka.TopicOptions, prefix string, pc process.Config, lc lifecyclestage.Config, drain bool) error {
	return runTogether(ctx,
		func(ctx context.Context) error { return runProcessor(ctx, brokers, topts, prefix, pc, drain) },
		func(ctx context.Context) error { return runLifecycle(ctx, brokers, topts, prefix, lc, drain) })
}

// runLifecycle wires the lifecycle processor stage to Kafka (topics,
// producer, the event log) and runs it under the consume loop.
func runLifecycle(ctx context.Context, brokers kafka.Brokers, topts kafka.TopicOptions, prefix string, lc lifecyclestage.Config, drain bool) error {
	if err := kafka.EnsureTopicsWith(ctx, brokers, prefixed(prefix, schemas.Topics()), topts); err != nil {
		return err
	}
	return runLifecycleStage(ctx, brokers, topts, prefix, lc, drain)
}

// runLifecycleStage is runLifecycle once the topics exist.
func runLifecycleStage(ctx context.Context, brokers kafka.Brokers, topts kafka.TopicOptions, prefix string, lc lifecyclestage.Config, drain bool) error {
	producer := kafka.NewProducer(brokers)
	defer producer.Close()
	h, err := lifecyclestage.New(lc, &kafka.Log{Brokers: brokers, Producer: producer, TopicPrefix: prefix})
	if err != nil {
		return err
	}
	if lc.Logger != nil {
		lc.Logger.Info("lifecycle processor started", "group", lc.Group, "drain", drain)
	}
	cc := kafka.ConsumerConfig{Brokers: brokers, GroupID: lc.Group, Topics: lc.Inputs(), MaxBatch: lc.Batch(), Logger: lc.Logger, TopicPrefix: prefix}
	return kafka.ConsumeStage(ctx, cc, kafka.Stage(h), drain)
}

// runProcessor wires the processor stage to Kafka (topics, producer, the
// event log) and runs it under the consume loop.
func runProcessor(ctx context.Context, brokers kafka.Brokers, topts kafka.TopicOptions, prefix string, pc process.Config, drain bool) error {
	topics := schemas.Topics()
	if pc.EntitlementsTopic != schemas.TopicEntitlements {
		topics = append(topics, schemas.TopicSpec{Name: pc.EntitlementsTopic, Partitions: 1, Key: "replay of " + schemas.TopicEntitlements})
	}
	if err := kafka.EnsureTopicsWith(ctx, brokers, prefixed(prefix, topics), topts); err != nil {
		return err
	}
	producer := kafka.NewProducer(brokers)
	defer producer.Close()
	h, err := process.New(pc, &kafka.Log{Brokers: brokers, Producer: producer, TopicPrefix: prefix})
	if err != nil {
		return err
	}
	if pc.Logger != nil {
		pc.Logger.Info("processor started", "group", pc.Group, "entitlements_topic", pc.EntitlementsTopic, "drain", drain)
	}
	cc := kafka.ConsumerConfig{Brokers: brokers, GroupID: pc.Group, Topics: process.Inputs(), Logger: pc.Logger, TopicPrefix: prefix}
	return kafka.ConsumeStage(ctx, cc, kafka.Stage(h), drain)
}

// sinkCmd applies the ClickHouse migrations, then stores every record of
// every nodeshare topic in the audit trail (events_raw with its hash
// chain, plus the decision and payout tables), idempotently
// (pipeline/stage/sink).
type sinkCmd struct {
	kafkaFlags
	clickhouseFlags
	metricsFlags
	Group       string        `name:"group" default:"${sink_group}" help:"Consumer group id."`
	Drain       bool          `name:"drain" help:"Stop once everything on the topics when it started is stored."`
	Batch       int           `name:"batch" default:"50000" help:"Records per ClickHouse insert (max)."`
	BatchWait   time.Duration `name:"batch-wait" default:"200ms" help:"How long a partial batch waits for more records."`
	TopicPrefix string        `name:"topic-prefix" env:"NODESHARE_TOPIC_PREFIX" help:"Prefix of every topic read (tests only)."`
}

func (c *sinkCmd) config() sink.Config {
	return sink.Config{Group: c.Group, MaxBatch: c.Batch, MaxWait: c.BatchWait}
}

func (c *sinkCmd) Validate() error {
	return validateAll(c.kafkaFlags, c.clickhouseFlags, c.metricsFlags, c.config())
}

func (c *sinkCmd) Run(e env) error {
	sc := c.config()
	sc.Crash, sc.Logger = crashFromEnv(), slog.New(slog.NewJSONHandler(e.stderr, nil))
	// A ClickHouse that is down when the sink starts is waited for, as
	// one that goes away later is (the pool reconnects by itself).
	var store *clickhouse.Store
	err := supervised(e.ctx, "sink", sc.Logger, func(ctx context.Context) error {
		s, err := clickhouse.Open(ctx, c.clickhouseFlags.config())
		if err != nil {
			return err
		}
		if _, err := s.Migrate(ctx); err != nil {
			s.Close()
			return err
		}
		store = s
		return nil
	})
	if err != nil || store == nil {
		return err // store is nil only when the command was stopped
	}
	defer store.Close()
	brokers := c.brokers()
	// Metrics: records in, the sink's own dead letters, rows and insert
	// latency by table, the group's lag. Ready: Kafka and ClickHouse answer.
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	if addr := c.addr(metricsSink, c.Drain); addr != "" {
		reg := metrics.New(versionString())
		sc.Observer = reg.Stream("sink", sink.Topics(), stage.Reasons())
		watchLag(ctx, reg, kafka.ConsumerConfig{Brokers: brokers, GroupID: sc.Group, Topics: sink.Topics(), Logger: sc.Logger, TopicPrefix: c.TopicPrefix})
		wait, err := serveMetrics(ctx, addr, reg, []metrics.Check{kafkaCheck(brokers), clickhouseCheck(store)}, sc.Logger)
		if err != nil {
			return err
		}
		defer wait()
		defer cancel()
	}
	return supervised(ctx, "sink", sc.Logger, func(ctx context.Context) error {
		return runSinkStage(ctx, brokers, c.topicOptions(), c.TopicPrefix, store, sc, c.Drain)
	})
}

// runSinkStage wires the sink stage to Kafka and the ClickHouse store and
// runs it under the consume loop.
func runSinkStage(ctx context.Context, brokers kafka.Brokers, topts kafka.TopicOptions, prefix string, store *clickhouse.Store, sc sink.Config, drain bool) error {
	if err := kafka.EnsureTopicsWith(ctx, brokers, prefixed(prefix, schemas.Topics()), topts); err != nil {
		return err
	}
	h, err := sink.New(sc, store)
	if err != nil {
		return err
	}
	cc := kafka.ConsumerConfig{Brokers: brokers, GroupID: sc.Group, Topics: sink.Topics(), MaxBatch: sc.MaxBatch, MaxWait: sc.MaxWait, Logger: sc.Logger, TopicPrefix: prefix}
	return kafka.ConsumeStage(ctx, cc, kafka.Stage(h), drain)
}

// prefixed is topics with prefix before each name (a test's isolated
// topics; empty in production).
func prefixed(prefix string, topics []schemas.TopicSpec) []schemas.TopicSpec {
	out := make([]schemas.TopicSpec, len(topics))
	for i, t := range topics {
		t.Name = prefix + t.Name
		out[i] = t
	}
	return out
}
