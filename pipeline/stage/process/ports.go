package process

import (
	"context"

	"github.com/nodeshare/nodeshare/pipeline/stage"
	"github.com/nodeshare/nodeshare/schemas"
)

// Log is the event log as the processor uses it (connectors/kafka.Log in
// production, an in-memory log in the tests).
type Log interface {
	// PublishOnce publishes the facts whose key is not yet on their topic
	// (stage.Publisher): the processor's decisions and derived rates.
	stage.Publisher
	// ReadAll returns every record of topic from its first offset to its
	// end as the call starts, in (partition, offset) order: the state of a
	// reward and the rate observations are rebuilt from it.
	ReadAll(ctx context.Context, topic string) ([]schemas.Message, error)
	// Publish writes records as they are and returns once all are
	// acknowledged: the dead letters (keyed by their source coordinates).
	Publish(ctx context.Context, recs ...schemas.Record) error
}
