package main

// Thin copies of helpers that moved to pipeline/stage/process and
// pipeline/stage/sink, for code not yet moved (demo.go): removed when
// payout moves (and the demo with it). New code uses the stages directly
// (process.go).

import (
	"context"
	"log/slog"
	"time"

	"github.com/nodeshare/nodeshare/connectors/clickhouse"
	"github.com/nodeshare/nodeshare/connectors/kafka"
	"github.com/nodeshare/nodeshare/pipeline/entitle"
	"github.com/nodeshare/nodeshare/pipeline/stage"
	"github.com/nodeshare/nodeshare/pipeline/stage/process"
	"github.com/nodeshare/nodeshare/pipeline/stage/sink"
)

// Consumer group ids (process.DefaultGroup, sink.DefaultGroup). Removed
// when payout moves.
const (
	groupEntitle = process.DefaultGroup
	groupSink    = sink.DefaultGroup
)

// processorTopics are the processor's inputs (process.Inputs). Removed
// when payout moves.
var processorTopics = process.Inputs()

// processorConfig configures processStage. Removed when payout moves.
type processorConfig struct {
	Brokers           []string
	EntitlementsTopic string
	DLQTopic          string
	InputTypes        map[string]string
	Params            entitle.Params
}

// processStage is the processor stage (process.New) over Kafka. Removed
// when payout moves.
func processStage(cfg processorConfig, p *kafka.Producer, log *slog.Logger) kafka.Stage {
	h, err := process.New(process.Config{Group: process.DefaultGroup, EntitlementsTopic: cfg.EntitlementsTopic, DLQTopic: cfg.DLQTopic,
		InputTypes: cfg.InputTypes, Params: cfg.Params, Logger: log}, &kafka.Log{Brokers: cfg.Brokers, Producer: p})
	return shimStage(h, err)
}

// sinkStage is the sink stage (sink.New) over the ClickHouse store.
// Removed when payout moves.
func sinkStage(store *clickhouse.Store, log *slog.Logger) kafka.Stage {
	h, err := sink.New(sink.Config{Group: sink.DefaultGroup, MaxBatch: 1000, MaxWait: 100 * time.Millisecond, Logger: log}, store)
	return shimStage(h, err)
}

// shimStage is h, or a stage that fails every batch with err.
func shimStage(h stage.BatchHandler, err error) kafka.Stage {
	if err != nil {
		return kafka.Stage{Handle: func(context.Context, []kafka.Message, any) error { return err }}
	}
	return kafka.Stage(h)
}

// publishNew publishes the facts whose key is not yet on their topic
// (kafka.Log.PublishOnce) and returns how many it published. Removed when
// payout moves.
func publishNew(ctx context.Context, brokers []string, p *kafka.Producer, evs []entitle.Event) (int, error) {
	st, err := (&kafka.Log{Brokers: brokers, Producer: p}).PublishOnce(ctx, evs)
	return st.Published, err
}
