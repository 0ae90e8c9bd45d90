package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/nodeshare/nodeshare/connectors/clickhouse"
	"github.com/nodeshare/nodeshare/connectors/kafka"
	"github.com/nodeshare/nodeshare/pipeline/entitle"
	"github.com/nodeshare/nodeshare/pipeline/stage/process"
	"github.com/nodeshare/nodeshare/pipeline/stage/sink"
	"github.com/nodeshare/nodeshare/schemas"
)

func runProcess(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("process", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	cfg.register(fs, "kafka")
	group := fs.String("group", process.DefaultGroup, "consumer group id")
	fromBeginning := fs.Bool("from-beginning", false, "replay: consume every input from its first offset under a fresh group id (<group>-replay-<unix time>)")
	out := fs.String("entitlements-topic", schemas.TopicEntitlements, "topic for pool periods and entitlements (a fresh topic for a replay; created if missing)")
	fee := fs.Int64("ledger-fee-e8s", 10_000, "ICP ledger fee borne by each recipient (icrc1_fee)")
	drain := fs.Bool("drain", false, "stop once everything on the input topics when it started is processed")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: nodeshare process [flags]\n\nThe entitlement processor: consumes pools, contributions, rates and NNS rewards (consumer group),\ndead-letters invalid records with the reason, and for every reward publishes the pool periods and\nentitlements. Offsets are committed only after its outputs are acknowledged.\n\nflags:")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if err := cfg.validate("kafka"); err != nil {
		fmt.Fprintf(stderr, "process: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	if *fromBeginning {
		*group = fmt.Sprintf("%s-replay-%d", *group, time.Now().Unix())
	}
	pc := process.Config{Group: *group, EntitlementsTopic: *out, Params: entitle.Params{LedgerFeeE8s: *fee},
		Crash: crashFromEnv(), Logger: log}
	if err := pc.Validate(); err != nil {
		fmt.Fprintf(stderr, "process: %v\n", err)
		return 2
	}
	if err := runProcessor(ctx, cfg.brokers(), pc, *drain); err != nil {
		fmt.Fprintf(stderr, "process: %v\n", err)
		return 1
	}
	return 0
}

// runProcessor wires the processor stage to Kafka (topics, producer, the
// event log) and runs it under the consume loop.
func runProcessor(ctx context.Context, brokers []string, pc process.Config, drain bool) error {
	topics := schemas.Topics()
	if pc.EntitlementsTopic != schemas.TopicEntitlements {
		topics = append(topics, schemas.TopicSpec{Name: pc.EntitlementsTopic, Partitions: 1, Key: "replay of " + schemas.TopicEntitlements})
	}
	if err := kafka.EnsureTopics(ctx, brokers, topics, 1); err != nil {
		return err
	}
	producer := kafka.NewProducer(brokers)
	defer producer.Close()
	h, err := process.New(pc, &kafka.Log{Brokers: brokers, Producer: producer})
	if err != nil {
		return err
	}
	if pc.Logger != nil {
		pc.Logger.Info("processor started", "group", pc.Group, "entitlements_topic", pc.EntitlementsTopic, "drain", drain)
	}
	cc := kafka.ConsumerConfig{Brokers: brokers, GroupID: pc.Group, Topics: process.Inputs(), Logger: pc.Logger}
	return kafka.ConsumeStage(ctx, cc, kafka.Stage(h), drain)
}

func runSink(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sink", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	cfg.register(fs, "kafka", "clickhouse")
	group := fs.String("group", sink.DefaultGroup, "consumer group id")
	drain := fs.Bool("drain", false, "stop once everything on the topics when it started is stored")
	batch := fs.Int("batch", 50000, "records per ClickHouse insert (max)")
	wait := fs.Duration("batch-wait", 200*time.Millisecond, "how long a partial batch waits for more records")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: nodeshare sink [flags]\n\nApplies the ClickHouse migrations, then stores every record of every nodeshare topic in the audit\ntrail (events_raw with its hash chain, plus the decision and payout tables), idempotently.\n\nflags:")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if err := cfg.validate("kafka", "clickhouse"); err != nil {
		fmt.Fprintf(stderr, "sink: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	sc := sink.Config{Group: *group, MaxBatch: *batch, MaxWait: *wait, Crash: crashFromEnv(), Logger: log}
	if err := sc.Validate(); err != nil {
		fmt.Fprintf(stderr, "sink: %v\n", err)
		return 2
	}
	store, err := clickhouse.Open(ctx, cfg.ClickHouse)
	if err != nil {
		fmt.Fprintf(stderr, "sink: %v\n", err)
		return 1
	}
	defer store.Close()
	if _, err := store.Migrate(ctx); err != nil {
		fmt.Fprintf(stderr, "sink: %v\n", err)
		return 1
	}
	if err := runSinkStage(ctx, cfg.brokers(), store, sc, *drain); err != nil {
		fmt.Fprintf(stderr, "sink: %v\n", err)
		return 1
	}
	return 0
}

// runSinkStage wires the sink stage to Kafka and the ClickHouse store and
// runs it under the consume loop.
func runSinkStage(ctx context.Context, brokers []string, store *clickhouse.Store, sc sink.Config, drain bool) error {
	if err := kafka.EnsureTopics(ctx, brokers, schemas.Topics(), 1); err != nil {
		return err
	}
	h, err := sink.New(sc, store)
	if err != nil {
		return err
	}
	cc := kafka.ConsumerConfig{Brokers: brokers, GroupID: sc.Group, Topics: sink.Topics(), MaxBatch: sc.MaxBatch, MaxWait: sc.MaxWait, Logger: sc.Logger}
	return kafka.ConsumeStage(ctx, cc, kafka.Stage(h), drain)
}
