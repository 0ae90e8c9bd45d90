package kafka

import (
	"errors"
	"time"

	kgo "github.com/segmentio/kafka-go"

	"github.com/nodeshare/nodeshare/pipeline/stage/retry"
)

// transport is shared by every client of this package. kafka-go routes
// requests with cached metadata; a short TTL means a topic created by
// another process (a replay, a test) is seen quickly.
var transport = &kgo.Transport{MetadataTTL: 500 * time.Millisecond}

func newClient(brokers []string) *kgo.Client {
	return &kgo.Client{Addr: kgo.TCP(brokers...), Timeout: 30 * time.Second, Transport: transport}
}

// notReadyPolicy waits for a topic that is not ready yet, for about 5
// seconds (waits of 250 ms growing to 1 s, 8 tries): the broker (or the
// cached metadata) does not know it, or its partitions have no leader yet
// (just after creation or a broker start). Any other error returns at once.
var notReadyPolicy = retry.Policy{Tries: 8, Initial: 250 * time.Millisecond, Max: time.Second, Classify: classifyNotReady}

// classifyNotReady is transient for kafka-go's not-ready errors and fatal
// for anything else. (retry.Classify is not used here: kafka-go's Error
// type is a net.Error, so it would call every broker error transient.)
func classifyNotReady(err error) retry.Class {
	if errors.Is(err, kgo.UnknownTopicOrPartition) || errors.Is(err, kgo.NotLeaderForPartition) || errors.Is(err, kgo.LeaderNotAvailable) {
		return retry.Transient
	}
	return retry.Fatal
}
