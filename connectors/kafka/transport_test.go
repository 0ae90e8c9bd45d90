package kafka

import (
	"context"
	"errors"
	"fmt"
	"testing"

	kgo "github.com/segmentio/kafka-go"
)

// A topic that is not ready (unknown, or no leader yet just after creation)
// is waited for; any other error returns at once.
func TestRetryUntilReady(t *testing.T) {
	for _, notReady := range []error{kgo.UnknownTopicOrPartition, kgo.NotLeaderForPartition, kgo.LeaderNotAvailable} {
		calls := 0
		err := retryUntilReady(context.Background(), func() error {
			calls++
			if calls < 3 {
				return fmt.Errorf("kafka: offsets of t/0: %w", notReady)
			}
			return nil
		})
		if err != nil || calls != 3 {
			t.Fatalf("%v: err %v after %d calls, want success on the third", notReady, err, calls)
		}
	}
	calls := 0
	other := errors.New("boom")
	if err := retryUntilReady(context.Background(), func() error { calls++; return other }); !errors.Is(err, other) || calls != 1 {
		t.Fatalf("other error: %v after %d calls", err, calls)
	}
}
