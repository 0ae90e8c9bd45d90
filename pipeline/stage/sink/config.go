package sink

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/nodeshare/nodeshare/pipeline/stage"
	"github.com/nodeshare/nodeshare/schemas"
)

// DefaultGroup is the sink's consumer group id. Changing it makes the group
// store every topic again from the beginning (harmless: idempotent).
const DefaultGroup = "nodeshare-sink.v1"

// CrashAfterRaw is the crash point after a batch's raw rows are stored and
// before its typed rows (stage.Crash): the kill tests stop the sink there.
const CrashAfterRaw = "sink-after-raw"

// Topics are the topics the sink stores: every nodeshare topic.
func Topics() []string {
	var ts []string
	for _, t := range schemas.Topics() {
		ts = append(ts, t.Name)
	}
	return ts
}

// Config is the sink's configuration; cmd/nodeshare fills it from flags
// and validates it before anything starts.
type Config struct {
	// Group is the consumer group the loop runs the stage under.
	Group string
	// MaxBatch is the most records per batch (the loop cuts batches; the
	// stage inserts a batch's raw rows in chunks of 12,500).
	MaxBatch int
	// MaxWait is how long the loop lets a partial batch wait for more.
	MaxWait time.Duration
	// Crash is the crash hook (nil in production).
	Crash stage.Crash
	// Logger receives the stage's JSON log lines (nil: none).
	Logger *slog.Logger
	// Observer is told of every insert and of the records the sink
	// dead-letters itself (nil: nobody; cmd/nodeshare passes the metrics
	// connector).
	Observer Observer
}

// Observer is the port the sink reports through.
type Observer interface {
	stage.StreamObserver
	// Stored counts rows inserted into table (events_raw, entitlements,
	// pool_periods, payout_intents, payout_results, dead_letters) by one
	// insert that took took, retries included.
	Stored(table string, rows int, took time.Duration)
}

// Validate reports every setting that is wrong, naming it.
func (c Config) Validate() error {
	var errs []error
	if c.Group == "" {
		errs = append(errs, errors.New("consumer group is empty"))
	}
	if c.MaxBatch <= 0 {
		errs = append(errs, fmt.Errorf("batch must be > 0 records, got %d", c.MaxBatch))
	}
	if c.MaxWait <= 0 {
		errs = append(errs, fmt.Errorf("batch wait must be > 0, got %s", c.MaxWait))
	}
	return errors.Join(errs...)
}

func (c Config) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.NewJSONHandler(io.Discard, nil))
}
