package process

import (
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/nodeshare/nodeshare/pipeline/entitle"
	"github.com/nodeshare/nodeshare/pipeline/stage"
	"github.com/nodeshare/nodeshare/schemas"
)

// DefaultGroup is the processor's consumer group id. Changing it makes the
// group start from the beginning of every input.
const DefaultGroup = "nodeshare-entitle.v1"

// CrashMidPublish is the crash point between the two halves of a reward's
// facts (stage.Crash): the kill tests stop the processor there.
const CrashMidPublish = "process-mid-publish"

// Inputs are the processor's input topics.
func Inputs() []string {
	return []string{schemas.TopicPools, schemas.TopicContributions, schemas.TopicRates, schemas.TopicNodeRewards}
}

// Config is the processor's configuration; cmd/nodeshare fills it from
// flags and validates it before anything starts.
type Config struct {
	// Group is the consumer group the loop runs the stage under
	// (DefaultGroup, or a fresh one for a replay).
	Group string
	// EntitlementsTopic receives the pool periods and entitlements
	// (dao.entitlements.v1, or a fresh topic for a replay).
	EntitlementsTopic string
	// DLQTopic receives the dead letters (dao.dlq.v1 unless a test or a
	// benchmark isolates it; empty means dao.dlq.v1).
	DLQTopic string
	// InputTypes maps extra input topics to their event type (benchmarks);
	// the standard inputs are always known (entitle.InputTypes).
	InputTypes map[string]string
	// Params are the rules' parameters that are not events (ledger fee,
	// NNS minimum rate).
	Params entitle.Params
	// PendingTries bounds how many times a reward waiting for a vote's
	// close (entitle.PendingError) rebuilds its state before the stage
	// stops (0: 60).
	PendingTries int
	// Crash is the crash hook (nil in production).
	Crash stage.Crash
	// Logger receives the stage's JSON log lines (nil: none).
	Logger *slog.Logger
	// Observer is told of the records handled and dead-lettered once the
	// batch's outputs are durable (nil: nobody; cmd/nodeshare passes the
	// metrics connector).
	Observer stage.StreamObserver
}

// Validate reports every setting that is wrong, naming it.
func (c Config) Validate() error {
	var errs []error
	if c.Group == "" {
		errs = append(errs, errors.New("consumer group is empty"))
	}
	if c.EntitlementsTopic == "" {
		errs = append(errs, errors.New("entitlements topic is empty"))
	}
	read := map[string]bool{}
	for _, in := range Inputs() {
		read[in] = true
		if c.EntitlementsTopic == in || c.DLQTopic == in {
			errs = append(errs, fmt.Errorf("output topic %s is one of the inputs", in))
		}
	}
	for _, in := range stateTopics {
		if !read[in] && (c.EntitlementsTopic == in || c.DLQTopic == in) {
			errs = append(errs, fmt.Errorf("output topic %s is one of the topics a reward's state is read from", in))
		}
	}
	for topic, typ := range c.InputTypes {
		if topic == "" || typ == "" {
			errs = append(errs, fmt.Errorf("input type %q of topic %q: both must be set", typ, topic))
		}
	}
	if c.Params.LedgerFeeE8s < 0 {
		errs = append(errs, fmt.Errorf("ledger fee must be >= 0 e8s, got %d", c.Params.LedgerFeeE8s))
	}
	if c.Params.MinimumICPXDRRate < 0 {
		errs = append(errs, fmt.Errorf("NNS minimum ICP/XDR rate must be >= 0, got %d", c.Params.MinimumICPXDRRate))
	}
	return errors.Join(errs...)
}

func (c Config) dlqTopic() string {
	if c.DLQTopic != "" {
		return c.DLQTopic
	}
	return schemas.TopicDLQ
}

func (c Config) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.New(slog.NewJSONHandler(io.Discard, nil))
}
