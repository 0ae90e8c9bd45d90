package kafka

import (
	"context"
	"errors"
	"io"
	"strings"

	kgo "github.com/segmentio/kafka-go"

	"github.com/nodeshare/nodeshare/pipeline/stage/retry"
)

// groupErrors are the consumer group's answers while it rebalances (a
// member joined or left, the coordinator moved): the batch is delivered
// again to whichever member holds its partition next, so the step is
// worth repeating. kafka-go does not call them Temporary.
var groupErrors = []error{kgo.RebalanceInProgress, kgo.IllegalGeneration, kgo.UnknownMemberId,
	kgo.NotCoordinatorForGroup, kgo.GroupCoordinatorNotAvailable, kgo.GroupLoadInProgress}

// markOutage marks err transient when it is a broker that is away or
// busy rather than a request that is wrong: a connection refused, reset
// or cut off mid-answer (io.EOF, io.ErrUnexpectedEOF: kafka-go reports a
// broker killed under a request so), a broker error code kafka-go calls
// Temporary (NotEnoughReplicas, LeaderNotAvailable, NotLeaderForPartition,
// RequestTimedOut, ...), the group rebalancing, a broker's
// UNKNOWN_SERVER_ERROR (-1: the broker failed, not the request; seen from
// ListOffsets while a killed broker's partitions change leader on a
// three-broker cluster, cmd/nodeshare/outage_integration_test.go), or one
// of this package's own timeouts expiring while the caller's ctx still
// lives. Everything
// else keeps its class (retry.Classify): a refused login or a failed TLS
// handshake is marked fatal (isSecurityFailure); a permanent broker error such as
// MessageSizeTooLarge or TopicAuthorizationFailed stops the daemon.
func markOutage(ctx context.Context, err error) error {
	if err == nil || ctx.Err() != nil {
		return err
	}
	if isSecurityFailure(err) {
		return retry.MarkFatal(err)
	}
	if retry.IsConnectionError(err) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, context.DeadlineExceeded) {
		return retry.MarkTransient(err)
	}
	for _, g := range groupErrors {
		if errors.Is(err, g) {
			return retry.MarkTransient(err)
		}
	}
	var kerr kgo.Error
	if errors.As(err, &kerr) && (kerr.Temporary() || kerr.Timeout() || kerr == kgo.Unknown) {
		return retry.MarkTransient(err)
	}
	return err
}

// isSecurityFailure reports a refused login or a TLS handshake that failed
// (a certificate that does not verify, a plaintext listener): a setting to
// fix, not an outage, though it may travel as a connection error.
func isSecurityFailure(err error) bool {
	return errors.Is(err, kgo.SASLAuthenticationFailed) || retry.IsTLSFailure(err) ||
		strings.Contains(err.Error(), "first record does not look like a TLS handshake")
}
