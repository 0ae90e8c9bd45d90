package lifecycle

import (
	"context"

	"github.com/nodeshare/nodeshare/schemas"
)

// Log is the event log as the lifecycle processor uses it
// (connectors/kafka.Log in production, an in-memory log in the tests).
//
// There is no PublishOnce here on purpose: publish-once by reading the
// whole output topic per call (what connectors/kafka.Log.PublishOnce does)
// costs a read of dao.pool-lifecycle.v1 per batch. The stage is that
// topic's only writer (one consumer group, one-partition inputs: one
// active member); it reads its outputs once when it (re)builds its state
// and then knows every key it wrote, so it decides "once" itself with the
// same contract: a key already on the topic with the same content is
// skipped, one with other content is an error, never an overwrite.
type Log interface {
	// ReadAll returns every record of topic from its first offset to its
	// end as the call starts, in (partition, offset) order, headers
	// included: the state is rebuilt from it.
	ReadAll(ctx context.Context, topic string) ([]schemas.Message, error)
	// Publish writes records as they are and returns once all are
	// acknowledged: dead letters, states and transfers. Records of one
	// partition are written in order, and up to OneWrite of them (and
	// OneWriteBytes) in one call are appended together or not at all (one
	// produce request).
	Publish(ctx context.Context, recs ...schemas.Record) error
}

// Verifier checks a signature over message under publicKeyDER (an Ed25519
// or secp256k1 DER SubjectPublicKeyInfo): nil when it verifies. The
// processor checks every ballot with it (connectors/ic.Verifier).
type Verifier interface {
	Verify(publicKeyDER, message, signature []byte) error
}
