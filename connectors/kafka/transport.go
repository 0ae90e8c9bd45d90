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

// retryUnknownTopic retries f while the broker (or the cached metadata)
// does not know a topic yet, for up to 5 seconds.
func retryUnknownTopic(ctx context.Context, f func() error) error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := f()
		if err == nil || !errors.Is(err, kgo.UnknownTopicOrPartition) || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(250 * time.Millisecond):
		}
	}
}
