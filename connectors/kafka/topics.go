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

// TopicOptions are the durability settings of the topics nodeshare
// creates. On a cluster of three brokers: replication factor 3 and
// min.insync.replicas 2, so that a record the producer (acks=all) saw
// acknowledged is on two brokers at least, and one broker can be lost with
// nothing lost and writes still accepted. The zero value takes the
// brokers' own defaults (default.replication.factor, min.insync.replicas),
// which ops/stack sets for the stack it runs.
type TopicOptions struct {
	// ReplicationFactor is the number of copies of every partition of a
	// topic created; 0: the brokers' default.replication.factor.
	ReplicationFactor int
	// MinInsyncReplicas is the topics' min.insync.replicas: how many copies
	// must have a record before the broker acknowledges it to an acks=all
	// producer. 0: 2 for a topic created with ReplicationFactor 3 or more,
	// else the brokers' min.insync.replicas. When set, existing topics get
	// it too.
	MinInsyncReplicas int
}

// Validate names the setting that is wrong.
func (o TopicOptions) Validate() error {
	if o.ReplicationFactor < 0 {
		return fmt.Errorf("kafka: replication factor must be >= 1 (or 0: the brokers' default), got %d", o.ReplicationFactor)
	}
	if o.MinInsyncReplicas < 0 {
		return fmt.Errorf("kafka: min.insync.replicas must be >= 1 (or 0: the default), got %d", o.MinInsyncReplicas)
	}
	if o.ReplicationFactor > 0 && o.MinInsyncReplicas > o.ReplicationFactor {
		return fmt.Errorf("kafka: min.insync.replicas %d is more than the replication factor %d: no write could be acknowledged", o.MinInsyncReplicas, o.ReplicationFactor)
	}
	return nil
}

// minInsync is the min.insync.replicas of a topic created ("" leaves the
// brokers' default).
func (o TopicOptions) minInsync() string {
	switch {
	case o.MinInsyncReplicas > 0:
		return strconv.Itoa(o.MinInsyncReplicas)
	case o.ReplicationFactor >= 3:
		return "2"
	}
	return ""
}

// EnsureTopics is EnsureTopicsWith with replication copies (0: the
// brokers' default) and the default min.insync.replicas.
func EnsureTopics(ctx context.Context, brokers Brokers, specs []schemas.TopicSpec, replication int) error {
	return EnsureTopicsWith(ctx, brokers, specs, TopicOptions{ReplicationFactor: replication})
}

// EnsureTopicsWith creates every missing topic of specs with opts and
// waits until the broker's metadata lists all of them with a leader.
// Existing topics keep their partitions and replicas (more copies of an
// existing topic is a partition reassignment, docs/operations.md); they
// get this package's max.message.bytes, and opts.MinInsyncReplicas when
// it is set.
func EnsureTopicsWith(ctx context.Context, brokers Brokers, specs []schemas.TopicSpec, opts TopicOptions) error {
	if len(brokers.Addrs) == 0 {
		return errors.New("kafka: no brokers configured (set NODESHARE_KAFKA_BROKERS)")
	}
	if err := opts.Validate(); err != nil {
		return err
	}
	return markOutage(ctx, ensureTopics(ctx, brokers, specs, opts))
}

func ensureTopics(ctx context.Context, brokers Brokers, specs []schemas.TopicSpec, opts TopicOptions) error {
	replication := opts.ReplicationFactor
	if replication <= 0 {
		replication = -1 // the brokers' default.replication.factor (CreateTopics v4+)
	}
	client := brokers.newClient()
	req := &kgo.CreateTopicsRequest{}
	for _, s := range specs {
		cfg := []kgo.ConfigEntry{{ConfigName: "max.message.bytes", ConfigValue: strconv.Itoa(MaxMessageBytes)}}
		if m := opts.minInsync(); m != "" {
			cfg = append(cfg, kgo.ConfigEntry{ConfigName: "min.insync.replicas", ConfigValue: m})
		}
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
			configs := []kgo.IncrementalAlterConfigsRequestConfig{{Name: "max.message.bytes", Value: strconv.Itoa(MaxMessageBytes), ConfigOperation: kgo.ConfigOperationSet}}
			if opts.MinInsyncReplicas > 0 {
				configs = append(configs, kgo.IncrementalAlterConfigsRequestConfig{Name: "min.insync.replicas", Value: strconv.Itoa(opts.MinInsyncReplicas), ConfigOperation: kgo.ConfigOperationSet})
			}
			existing = append(existing, kgo.IncrementalAlterConfigsRequestResource{ResourceType: kgo.ResourceTypeTopic, ResourceName: name, Configs: configs})
		}
	}
	// Topics made by an older version get the message size limit too (and
	// the in-sync minimum when one is set).
	if len(existing) > 0 {
		ar, err := client.IncrementalAlterConfigs(ctx, &kgo.IncrementalAlterConfigsRequest{Resources: existing})
		if err != nil {
			return fmt.Errorf("kafka: set topic configs: %w", err)
		}
		for _, r := range ar.Resources {
			if r.Error != nil {
				return fmt.Errorf("kafka: set topic configs on %s: %w", r.ResourceName, r.Error)
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
