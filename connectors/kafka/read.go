package kafka

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	kgo "github.com/segmentio/kafka-go"

	"github.com/nodeshare/nodeshare/pipeline/stage/retry"
	"github.com/nodeshare/nodeshare/schemas"
)

// Message is one consumed record (schemas.Message).
type Message = schemas.Message

// ReadAll reads every partition of topic from its first offset up to the
// high-water mark observed when the call starts, and returns the records in
// (partition, offset) order. It is how state is rebuilt and replays start;
// records produced after the call began are not included.
func ReadAll(ctx context.Context, brokers Brokers, topic string) (out []Message, err error) {
	err = retry.Do(ctx, notReadyPolicy, func(ctx context.Context) error {
		out, err = readAll(ctx, brokers, topic)
		return err
	})
	return out, markOutage(ctx, err)
}

func readAll(ctx context.Context, brokers Brokers, topic string) ([]Message, error) {
	client := brokers.newClient()
	md, err := client.Metadata(ctx, &kgo.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return nil, fmt.Errorf("kafka: metadata for %s from %s: %w", topic, brokers, brokers.explain(ctx, err))
	}
	var parts []int
	for _, t := range md.Topics {
		if t.Name != topic {
			continue
		}
		if t.Error != nil {
			return nil, fmt.Errorf("kafka: topic %s: %w", topic, t.Error)
		}
		for _, p := range t.Partitions {
			parts = append(parts, p.ID)
		}
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("kafka: topic %s not found", topic)
	}
	sort.Ints(parts)
	reqs := map[string][]kgo.OffsetRequest{}
	for _, p := range parts {
		reqs[topic] = append(reqs[topic], kgo.FirstOffsetOf(p), kgo.LastOffsetOf(p))
	}
	offs, err := client.ListOffsets(ctx, &kgo.ListOffsetsRequest{Topics: reqs})
	if err != nil {
		return nil, fmt.Errorf("kafka: list offsets of %s: %w", topic, err)
	}
	var out []Message
	for _, po := range offs.Topics[topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("kafka: offsets of %s/%d: %w", topic, po.Partition, po.Error)
		}
		msgs, err := readPartition(ctx, client, topic, po.Partition, po.FirstOffset, po.LastOffset)
		if err != nil {
			return nil, err
		}
		out = append(out, msgs...)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Partition != out[j].Partition {
			return out[i].Partition < out[j].Partition
		}
		return out[i].Offset < out[j].Offset
	})
	return out, nil
}

func readPartition(ctx context.Context, client *kgo.Client, topic string, partition int, first, end int64) ([]Message, error) {
	var out []Message
	offset := first
	for offset < end {
		resp, err := client.Fetch(ctx, &kgo.FetchRequest{
			Topic: topic, Partition: partition, Offset: offset,
			MinBytes: 1, MaxBytes: MaxMessageBytes + 1<<20, MaxWait: 2 * time.Second,
		})
		if err != nil {
			return nil, fmt.Errorf("kafka: fetch %s/%d@%d: %w", topic, partition, offset, err)
		}
		if resp.Error != nil {
			return nil, fmt.Errorf("kafka: fetch %s/%d@%d: %w", topic, partition, offset, resp.Error)
		}
		progressed := false
		for {
			rec, err := resp.Records.ReadRecord()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("kafka: read %s/%d@%d: %w", topic, partition, offset, err)
			}
			if rec.Offset < offset {
				continue // a batch may start before the requested offset
			}
			if rec.Offset >= end {
				break
			}
			m := Message{Topic: topic, Partition: partition, Offset: rec.Offset, Time: rec.Time, Headers: fromKafkaHeaders(rec.Headers)}
			if m.Key, err = readBytes(rec.Key); err == nil {
				m.Value, err = readBytes(rec.Value)
			}
			if err != nil {
				return nil, fmt.Errorf("kafka: read %s/%d@%d: %w", topic, partition, rec.Offset, err)
			}
			out = append(out, m)
			offset = rec.Offset + 1
			progressed = true
		}
		if !progressed {
			if resp.HighWatermark <= offset {
				break
			}
			// Nothing at offset but more below the high-water mark: a gap
			// left by compaction or a control record; step over it.
			offset++
		}
	}
	return out, nil
}

func readBytes(b interface {
	io.Reader
	Len() int
}) ([]byte, error) {
	if b == nil {
		return nil, nil
	}
	buf := make([]byte, b.Len())
	_, err := io.ReadFull(b, buf)
	return buf, err
}
