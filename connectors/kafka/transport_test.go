package kafka

import (
	"context"
	"errors"
	"fmt"
	"testing"

	kgo "github.com/segmentio/kafka-go"

	"github.com/nodeshare/nodeshare/pipeline/stage/retry"
)

// A topic that is not ready (unknown, or no leader yet just after creation)
// is waited for; any other error returns at once, even one kafka-go marks
// temporary.
func TestNotReadyIsRetried(t *testing.T) {
	for _, notReady := range []error{kgo.UnknownTopicOrPartition, kgo.NotLeaderForPartition, kgo.LeaderNotAvailable} {
		calls := 0
		err := retry.Do(context.Background(), notReadyPolicy, func(context.Context) error {
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
	for _, other := range []error{errors.New("boom"), fmt.Errorf("kafka: fetch: %w", kgo.RequestTimedOut)} {
		calls := 0
		if err := retry.Do(context.Background(), notReadyPolicy, func(context.Context) error { calls++; return other }); !errors.Is(err, other) || calls != 1 {
			t.Fatalf("other error %v: %v after %d calls", other, err, calls)
		}
	}
}
