package kafka

import (
	"context"
	"errors"
	"time"

	kgo "github.com/segmentio/kafka-go"
)

// transport is shared by every client of this package. kafka-go routes
// requests with cached metadata; a short TTL means a topic created by
// another process (a replay, a test) is seen quickly.
var transport = &kgo.Transport{MetadataTTL: 500 * time.Millisecond}

func newClient(brokers []string) *kgo.Client {
	return &kgo.Client{Addr: kgo.TCP(brokers...), Timeout: 30 * time.Second, Transport: transport}
}

// retryUntilReady retries f while a topic is not ready yet, for up to 5
// seconds: the broker (or the cached metadata) does not know it, or its
// partitions have no leader yet (just after creation or a broker start).
func retryUntilReady(ctx context.Context, f func() error) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := f()
		notReady := errors.Is(err, kgo.UnknownTopicOrPartition) || errors.Is(err, kgo.NotLeaderForPartition) || errors.Is(err, kgo.LeaderNotAvailable)
		if err == nil || !notReady || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(250 * time.Millisecond):
		}
	}
}
