package kafka

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	kgo "github.com/segmentio/kafka-go"

	"github.com/nodeshare/nodeshare/pipeline/stage/retry"
)

// The classes of kafka-go's own errors, as a daemon sees them: a broker
// away or busy is transient (ride it out), a request the broker refuses
// for good is fatal (stop and tell a person).
func TestOutageClasses(t *testing.T) {
	live := context.Background()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	cases := []struct {
		name string
		ctx  context.Context
		err  error
		want retry.Class
	}{
		{"connection refused, wrapped", live, fmt.Errorf("kafka consumer g: commit: %w", refused), retry.Transient},
		{"broker killed mid-answer", live, fmt.Errorf("kafka: list offsets: %w", io.ErrUnexpectedEOF), retry.Transient},
		{"broker closed the connection", live, fmt.Errorf("kafka: publish: %w", io.EOF), retry.Transient},
		{"not enough replicas", live, fmt.Errorf("kafka: publish: %w", kgo.NotEnoughReplicas), retry.Transient},
		{"not enough replicas after append", live, kgo.NotEnoughReplicasAfterAppend, retry.Transient},
		{"leader not available", live, kgo.LeaderNotAvailable, retry.Transient},
		{"not leader for partition", live, kgo.NotLeaderForPartition, retry.Transient},
		{"request timed out", live, kgo.RequestTimedOut, retry.Transient},
		{"group rebalancing", live, fmt.Errorf("commit: %w", kgo.RebalanceInProgress), retry.Transient},
		{"generation gone", live, kgo.IllegalGeneration, retry.Transient},
		{"member unknown", live, kgo.UnknownMemberId, retry.Transient},
		{"broker's unexpected server error", live, fmt.Errorf("kafka: offsets of t/0: %w", kgo.Unknown), retry.Transient},
		{"own timeout, caller alive", live, fmt.Errorf("commit: %w", context.DeadlineExceeded), retry.Transient},
		{"caller stopping", cancelled, fmt.Errorf("commit: %w", context.Canceled), retry.Fatal},
		{"message too large", live, fmt.Errorf("kafka: publish: %w", kgo.MessageSizeTooLarge), retry.Fatal},
		{"not authorized", live, kgo.TopicAuthorizationFailed, retry.Fatal},
		{"invalid replication factor", live, kgo.InvalidReplicationFactor, retry.Fatal},
		{"policy violation", live, kgo.PolicyViolation, retry.Fatal},
		{"login refused (with the dial's error beside it)", live, fmt.Errorf("%w: %w", kgo.SASLAuthenticationFailed, refused), retry.Fatal},
		{"certificate of an unknown CA", live, fmt.Errorf("kafka: publish: %w", &net.OpError{Op: "remote error", Err: x509.UnknownAuthorityError{}}), retry.Fatal},
	}
	for _, c := range cases {
		if got := retry.Classify(markOutage(c.ctx, c.err)); got != c.want {
			t.Errorf("%s: %v is %s, want %s", c.name, c.err, got, c.want)
		}
	}
}
