package schemas

import (
	"encoding/base64"
	"fmt"
	"strconv"
)

// Header is one Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// Dead letters on dao.dlq.v1 (DLQ v1) carry the rejected record's value
// exactly as it arrived, and say why in headers, as Kafka Connect's
// dead-letter queues do: nothing is re-encoded (a bad record may not even
// be text), a dead letter costs the broker no more than its original, and
// replaying one is producing its value to the source topic again. The
// record key is "<source topic>/<partition>/<offset>", so a redelivered
// batch writes the same key again.
const (
	HeaderDLQVersion         = "nodeshare.dlq.version" // "1"
	HeaderDLQReason          = "nodeshare.dlq.reason"
	HeaderDLQSourceTopic     = "nodeshare.dlq.source_topic"
	HeaderDLQSourcePartition = "nodeshare.dlq.source_partition" // decimal
	HeaderDLQSourceOffset    = "nodeshare.dlq.source_offset"    // decimal
	HeaderDLQSourceKey       = "nodeshare.dlq.source_key"       // the original key bytes
	dlqVersion               = "1"
)

// DeadLetterKey is the dead letter's record key.
func DeadLetterKey(topic string, partition int, offset int64) string {
	return topic + "/" + strconv.Itoa(partition) + "/" + strconv.FormatInt(offset, 10)
}

// DeadLetterRecord is the dead letter of the record at (topic, partition,
// offset) with key and value raw, rejected for reason: its key, value and
// headers on dao.dlq.v1.
func DeadLetterRecord(topic string, partition int, offset int64, key, raw []byte, reason string) (k, v []byte, h []Header) {
	h = []Header{
		{HeaderDLQVersion, []byte(dlqVersion)},
		{HeaderDLQReason, []byte(reason)},
		{HeaderDLQSourceTopic, []byte(topic)},
		{HeaderDLQSourcePartition, strconv.AppendInt(nil, int64(partition), 10)},
		{HeaderDLQSourceOffset, strconv.AppendInt(nil, offset, 10)},
		{HeaderDLQSourceKey, key},
	}
	return []byte(DeadLetterKey(topic, partition, offset)), raw, h
}

// IsDeadLetterRecord reports whether headers mark a DLQ v1 record.
func IsDeadLetterRecord(headers []Header) bool {
	for _, h := range headers {
		if h.Key == HeaderDLQVersion {
			return true
		}
	}
	return false
}

// ReadDeadLetter reads a DLQ v1 record back (RawBase64 is the value in
// base64, as the dead_letters table keeps it). Every header is required.
func ReadDeadLetter(value []byte, headers []Header) (DeadLetter, error) {
	got := map[string][]byte{}
	for _, h := range headers {
		got[h.Key] = h.Value
	}
	if v := string(got[HeaderDLQVersion]); v != dlqVersion {
		return DeadLetter{}, fmt.Errorf("dead letter: header %s must be %q, got %q", HeaderDLQVersion, dlqVersion, v)
	}
	for _, k := range []string{HeaderDLQReason, HeaderDLQSourceTopic, HeaderDLQSourcePartition, HeaderDLQSourceOffset, HeaderDLQSourceKey} {
		if _, ok := got[k]; !ok {
			return DeadLetter{}, fmt.Errorf("dead letter: header %s is missing", k)
		}
	}
	p, err := strconv.Atoi(string(got[HeaderDLQSourcePartition]))
	if err != nil || p < 0 {
		return DeadLetter{}, fmt.Errorf("dead letter: header %s must be a partition number, got %q", HeaderDLQSourcePartition, got[HeaderDLQSourcePartition])
	}
	o, err := strconv.ParseInt(string(got[HeaderDLQSourceOffset]), 10, 64)
	if err != nil || o < 0 {
		return DeadLetter{}, fmt.Errorf("dead letter: header %s must be an offset, got %q", HeaderDLQSourceOffset, got[HeaderDLQSourceOffset])
	}
	return DeadLetter{SourceTopic: string(got[HeaderDLQSourceTopic]), Partition: p, Offset: o, Key: string(got[HeaderDLQSourceKey]),
		Reason: string(got[HeaderDLQReason]), RawBase64: base64.StdEncoding.EncodeToString(value)}, nil
}

// AuditJSON is what the audit trail's raw row keeps of a DLQ v1 record
// besides its value (in the provenance column): who rejected it, where it
// came from and why, as JSON with the dead letter's field names.
func (d DeadLetter) AuditJSON() string {
	b := append([]byte(`{"source":"nodeshare","method":"dlq","source_topic":`), nil...)
	b = appendJSONString(b, d.SourceTopic)
	b = append(b, `,"partition":`...)
	b = strconv.AppendInt(b, int64(d.Partition), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, d.Offset, 10)
	b = append(b, `,"key":`...)
	b = appendJSONString(b, d.Key)
	b = append(b, `,"reason":`...)
	b = appendJSONString(b, d.Reason)
	return string(append(b, '}'))
}
