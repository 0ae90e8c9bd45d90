package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
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
	parts, err := groupOffsets(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("kafka lag %s: %w", cfg.GroupID, err)
	}
	lag := map[string]int64{}
	for _, t := range cfg.Topics {
		lag[strings.TrimPrefix(t, cfg.TopicPrefix)] += 0 // a topic with nothing to consume reads 0, not absent
	}
	for k, p := range parts {
		if n := p.last - p.next(); n > 0 {
			lag[strings.TrimPrefix(k.topic, cfg.TopicPrefix)] += n
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
