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
	"github.com/nodeshare/nodeshare/schemas"
)

func runProcess(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("process", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	cfg.register(fs, "kafka")
	group := fs.String("group", groupEntitle, "consumer group id")
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
	if *fee < 0 {
		fmt.Fprintf(stderr, "process: ledger-fee-e8s must be >= 0, got %d\n", *fee)
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	if *fromBeginning {
		*group = fmt.Sprintf("%s-replay-%d", *group, time.Now().Unix())
	}
	if err := process(ctx, cfg.brokers(), *group, *out, *fee, *drain, log); err != nil {
		fmt.Fprintf(stderr, "process: %v\n", err)
		return 1
	}
	return 0
}

func process(ctx context.Context, brokers []string, group, entitlementsTopic string, feeE8s int64, drain bool, log *slog.Logger) error {
	topics := schemas.Topics()
	if entitlementsTopic != schemas.TopicEntitlements {
		spec := schemas.TopicSpec{Name: entitlementsTopic, Partitions: 1, Key: "replay of " + schemas.TopicEntitlements}
		topics = append(topics, spec)
	}
	if err := kafka.EnsureTopics(ctx, brokers, topics, 1); err != nil {
		return err
	}
	producer := kafka.NewProducer(brokers)
	defer producer.Close()
	pcfg := processorConfig{Brokers: brokers, EntitlementsTopic: entitlementsTopic, Params: entitle.Params{LedgerFeeE8s: feeE8s}}
	log.Info("processor started", "group", group, "entitlements_topic", entitlementsTopic, "drain", drain)
	return kafka.ConsumeStage(ctx, kafka.ConsumerConfig{Brokers: brokers, GroupID: group, Topics: processorTopics, Logger: log},
		processStage(pcfg, producer, log), drain)
}

func runSink(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sink", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	cfg.register(fs, "kafka", "clickhouse")
	group := fs.String("group", groupSink, "consumer group id")
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
	brokers := cfg.brokers()
	if err := kafka.EnsureTopics(ctx, brokers, schemas.Topics(), 1); err != nil {
		fmt.Fprintf(stderr, "sink: %v\n", err)
		return 1
	}
	cc := kafka.ConsumerConfig{Brokers: brokers, GroupID: *group, Topics: sinkTopics(), MaxBatch: *batch, MaxWait: *wait, Logger: log}
	if err := kafka.ConsumeStage(ctx, cc, sinkStage(store, log), *drain); err != nil {
		fmt.Fprintf(stderr, "sink: %v\n", err)
		return 1
	}
	return 0
}
