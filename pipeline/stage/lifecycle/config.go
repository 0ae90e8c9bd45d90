package lifecycle

import (
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/nodeshare/nodeshare/pipeline/stage"
	"github.com/nodeshare/nodeshare/schemas"
)

// DefaultGroup is the lifecycle processor's consumer group id.
const DefaultGroup = "nodeshare-lifecycle.v1"

// CrashMidPublish is the crash point after the batch's dead letters and
// states and half of its transfers are published (stage.Crash).
const CrashMidPublish = "lifecycle-mid-publish"

// DefaultMaxBatch is the most records the consume loop hands the stage at
// once. A batch costs the stage one write (its states and transfers) and
// one commit, whatever its size, and a state record per pool it touched:
// batches five times the loop's default write fewer intermediate states
// and reach the throughput target (docs/pipeline.md "Performance").
const DefaultMaxBatch = 5000

// HeaderHandled is the header of every state record the stage publishes:
// the input positions the state reflects, "<topic>/<partition>/<next
// offset>" joined by commas. Every fact of the pool on those inputs below
// those positions was applied or dead-lettered when the state was written;
// a restarted processor reads it to know which facts its predecessor
// applied (rebuild.go). It is a header, not part of the payload, so the
// state's content stays a function of the pool's facts alone.
const HeaderHandled = "nodeshare.lifecycle.handled"

// Config is the lifecycle processor's configuration; cmd/nodeshare fills it
// from flags and validates it before anything starts. An empty topic is
// the schemas' topic of that name (tests and benchmarks set their own).
type Config struct {
	// Group is the consumer group the loop runs the stage under.
	Group string
	// PoolsTopic (dao.pools.v1), PoolFactsTopic (dao.pool-facts.v1) and
	// BlocksTopic (ic.ledger-blocks.v1) are the inputs.
	PoolsTopic, PoolFactsTopic, BlocksTopic string
	// LifecycleTopic receives the states and transfers
	// (dao.pool-lifecycle.v1).
	LifecycleTopic string
	// DLQTopic receives the dead letters (dao.dlq.v1).
	DLQTopic string
	// MaxBatch is the most records per batch the loop should hand the
	// stage (0: DefaultMaxBatch).
	MaxBatch int
	// Verifier checks ballots' signatures (required).
	Verifier Verifier
	// Crash is the crash hook (nil in production).
	Crash stage.Crash
	// Logger receives the stage's JSON log lines (nil: none).
	Logger *slog.Logger
	// Observer is told of the records handled and dead-lettered once the
	// batch's outputs are durable (nil: nobody; cmd/nodeshare passes the
	// metrics connector).
	Observer stage.StreamObserver
}

func or(topic, def string) string {
	if topic != "" {
		return topic
	}
	return def
}

func (c Config) pools() string     { return or(c.PoolsTopic, schemas.TopicPools) }
func (c Config) poolFacts() string { return or(c.PoolFactsTopic, schemas.TopicPoolFacts) }
func (c Config) blocks() string    { return or(c.BlocksTopic, schemas.TopicLedgerBlocks) }
func (c Config) lifecycle() string { return or(c.LifecycleTopic, schemas.TopicPoolLifecycle) }
func (c Config) dlq() string       { return or(c.DLQTopic, schemas.TopicDLQ) }

// Batch is the batch size the consume loop should use.
func (c Config) Batch() int {
	if c.MaxBatch > 0 {
		return c.MaxBatch
	}
	return DefaultMaxBatch
}

// Inputs are the topics the consume loop runs the stage on.
func (c Config) Inputs() []string { return []string{c.pools(), c.poolFacts(), c.blocks()} }

// Validate reports every setting that is wrong, naming it.
func (c Config) Validate() error {
	var errs []error
	if c.Group == "" {
		errs = append(errs, errors.New("consumer group is empty"))
	}
	if c.Verifier == nil {
		errs = append(errs, errors.New("no signature verifier: ballots could not be checked (cmd/nodeshare sets connectors/ic.Verifier)"))
	}
	if c.MaxBatch < 0 {
		errs = append(errs, fmt.Errorf("batch size must be >= 0 (0: %d), got %d", DefaultMaxBatch, c.MaxBatch))
	}
	seen := map[string]string{}
	for _, t := range []struct{ name, topic string }{
		{"pools topic", c.pools()}, {"pool facts topic", c.poolFacts()}, {"ledger blocks topic", c.blocks()},
		{"lifecycle topic", c.lifecycle()}, {"dead-letter topic", c.dlq()},
	} {
		if prev, dup := seen[t.topic]; dup {
			errs = append(errs, fmt.Errorf("%s and %s are both %s: every input and output needs its own topic", prev, t.name, t.topic))
		}
		seen[t.topic] = t.name
	}
	return errors.Join(errs...)
}

func (c Config) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.NewJSONHandler(io.Discard, nil))
}
