package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	kgo "github.com/segmentio/kafka-go"
)

// GroupLag is how many records of each topic the consumer group has not
// committed yet: the sum over the topic's partitions of the high-water mark
// minus the group's committed offset (or minus the first offset kept, when
// the group has committed nothing there: the loop starts at the first
// offset). Topics are given and returned with the prefix of cfg taken off.
// It asks the brokers, so it holds while the group's loop is stuck too.
func GroupLag(ctx context.Context, cfg ConsumerConfig) (map[string]int64, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	client := cfg.Brokers.newClient()
	md, err := client.Metadata(ctx, &kgo.MetadataRequest{Topics: cfg.Topics})
	if err != nil {
		return nil, fmt.Errorf("kafka lag %s: metadata: %w", cfg.GroupID, err)
	}
	reqs := map[string][]kgo.OffsetRequest{}
	parts := map[string][]int{}
	for _, t := range md.Topics {
		if t.Error != nil {
			return nil, fmt.Errorf("kafka lag %s: topic %s: %w", cfg.GroupID, t.Name, t.Error)
		}
		for _, p := range t.Partitions {
			reqs[t.Name] = append(reqs[t.Name], kgo.FirstOffsetOf(p.ID), kgo.LastOffsetOf(p.ID))
			parts[t.Name] = append(parts[t.Name], p.ID)
		}
	}
	offs, err := client.ListOffsets(ctx, &kgo.ListOffsetsRequest{Topics: reqs})
	if err != nil {
		return nil, fmt.Errorf("kafka lag %s: list offsets: %w", cfg.GroupID, err)
	}
	committed, err := client.OffsetFetch(ctx, &kgo.OffsetFetchRequest{GroupID: cfg.GroupID, Topics: parts})
	if err != nil {
		return nil, fmt.Errorf("kafka lag %s: committed offsets: %w", cfg.GroupID, err)
	}
	done := map[tp]int64{}
	for topic, ps := range committed.Topics {
		for _, p := range ps {
			if p.Error == nil {
				done[tp{topic, p.Partition}] = p.CommittedOffset
			}
		}
	}
	lag := map[string]int64{}
	for topic, ps := range offs.Topics {
		name := strings.TrimPrefix(topic, cfg.TopicPrefix)
		lag[name] += 0 // a topic with nothing to consume reads 0, not absent
		for _, p := range ps {
			if p.Error != nil {
				return nil, fmt.Errorf("kafka lag %s: offsets %s/%d: %w", cfg.GroupID, topic, p.Partition, p.Error)
			}
			from := p.FirstOffset
			if c, ok := done[tp{topic, p.Partition}]; ok && c > from {
				from = c
			}
			if p.LastOffset > from {
				lag[name] += p.LastOffset - from
			}
		}
	}
	return lag, nil
}

// WatchLag reads the group's lag (GroupLag) every interval until ctx ends
// and hands each topic's to report. A failed read is logged and tried
// again at the next tick: the last values stand meanwhile.
func WatchLag(ctx context.Context, cfg ConsumerConfig, every time.Duration, report func(topic string, records int64)) {
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, every)
		lag, err := GroupLag(rctx, cfg)
		cancel()
		switch {
		case err != nil && ctx.Err() == nil:
			log.Warn("consumer lag not read", "group", cfg.GroupID, "error", err.Error())
		case err == nil:
			for topic, n := range lag {
				report(topic, n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Ping dials the brokers, one after the other, and asks the first that
// answers for the cluster's brokers (no cached metadata): nil when one
// answered.
func Ping(ctx context.Context, brokers Brokers) error {
	var errs []error
	d := brokers.dialer()
	d.Timeout = 5 * time.Second
	for _, b := range brokers.Addrs {
		conn, err := d.DialContext(ctx, "tcp", b)
		if err == nil {
			if d, ok := ctx.Deadline(); ok {
				_ = conn.SetDeadline(d)
			}
			_, err = conn.Brokers()
			_ = conn.Close()
		}
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", b, err))
	}
	return fmt.Errorf("kafka: no broker answered: %w", errors.Join(errs...))
}
