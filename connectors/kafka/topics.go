package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	kgo "github.com/segmentio/kafka-go"

	"github.com/nodeshare/nodeshare/pipeline/stage/retry"
	"github.com/nodeshare/nodeshare/schemas"
)

// MaxMessageBytes is every topic's max.message.bytes (32 MiB): a record
// batch of the producer (at most BatchBytes: this less 64 KiB of batch
// overhead) or one large record (a pool period carries its whole
// allocation input and output) must fit. The producer's limit follows it,
// so a record the topic takes is never refused by the producer.
const MaxMessageBytes = 32 << 20

// EnsureTopics creates every missing topic of specs and waits until the
// broker's metadata lists all of them. Existing topics are left unchanged.
func EnsureTopics(ctx context.Context, brokers Brokers, specs []schemas.TopicSpec, replication int) error {
	if len(brokers.Addrs) == 0 {
		return errors.New("kafka: no brokers configured (set NODESHARE_KAFKA_BROKERS)")
	}
	if replication <= 0 {
		replication = 1
	}
	client := brokers.newClient()
	req := &kgo.CreateTopicsRequest{}
	for _, s := range specs {
		cfg := []kgo.ConfigEntry{{ConfigName: "max.message.bytes", ConfigValue: strconv.Itoa(MaxMessageBytes)}}
		if s.Compacted {
			cfg = append(cfg, kgo.ConfigEntry{ConfigName: "cleanup.policy", ConfigValue: "compact"})
		} else {
			ms := int64(-1)
			if s.Retention > 0 {
				ms = s.Retention.Milliseconds()
			}
			cfg = append(cfg, kgo.ConfigEntry{ConfigName: "retention.ms", ConfigValue: strconv.FormatInt(ms, 10)})
		}
		req.Topics = append(req.Topics, kgo.TopicConfig{
			Topic: s.Name, NumPartitions: s.Partitions, ReplicationFactor: replication, ConfigEntries: cfg,
		})
	}
	resp, err := client.CreateTopics(ctx, req)
	if err != nil {
		return fmt.Errorf("kafka: create topics on %s: %w", brokers, brokers.explain(ctx, err))
	}
	var existing []kgo.IncrementalAlterConfigsRequestResource
	for name, terr := range resp.Errors {
		if terr != nil && !errors.Is(terr, kgo.TopicAlreadyExists) {
			return fmt.Errorf("kafka: create topic %s: %w", name, terr)
		}
		if terr != nil {
			existing = append(existing, kgo.IncrementalAlterConfigsRequestResource{ResourceType: kgo.ResourceTypeTopic, ResourceName: name,
				Configs: []kgo.IncrementalAlterConfigsRequestConfig{{Name: "max.message.bytes", Value: strconv.Itoa(MaxMessageBytes), ConfigOperation: kgo.ConfigOperationSet}}})
		}
	}
	// Topics made by an older version get the message size limit too.
	if len(existing) > 0 {
		ar, err := client.IncrementalAlterConfigs(ctx, &kgo.IncrementalAlterConfigsRequest{Resources: existing})
		if err != nil {
			return fmt.Errorf("kafka: set max.message.bytes: %w", err)
		}
		for _, r := range ar.Resources {
			if r.Error != nil {
				return fmt.Errorf("kafka: set max.message.bytes on %s: %w", r.ResourceName, r.Error)
			}
		}
	}
	// Creation is asynchronous: wait until metadata shows every topic with
	// leaders on all partitions (docs/pitfalls.md K7), for about 30 s, through
	// the one retry policy (every failure here is "not yet").
	err = retry.Do(ctx, retry.Policy{Tries: 40, Initial: 200 * time.Millisecond, Max: time.Second, Classify: retry.Always}, func(ctx context.Context) error {
		md, err := client.Metadata(ctx, &kgo.MetadataRequest{})
		if err != nil {
			return err
		}
		ready := map[string]bool{}
		for _, t := range md.Topics {
			ok := t.Error == nil && len(t.Partitions) > 0
			for _, p := range t.Partitions {
				if p.Error != nil || p.Leader.ID < 0 {
					ok = false
				}
			}
			ready[t.Name] = ok
		}
		for _, s := range specs {
			if !ready[s.Name] {
				return fmt.Errorf("topic %s has no leader yet", s.Name)
			}
		}
		return nil
	})
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("kafka: topics not ready: %w", err)
	}
	return err
}
