package schemas

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Header is one Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// Dead letters on dao.dlq.v1 (DLQ v1) carry the rejected record's value
// exactly as it arrived and say why in headers, as Kafka Connect's
// dead-letter queues do: nothing is re-encoded (a bad record may not even
// be text), a dead letter costs the broker little more than its original,
// and replaying one is producing its value to the source topic again. The
// record key is the source coordinates "<topic>/<partition>/<offset>"
// (Kafka topic names have no '/'), so a redelivered batch writes the same
// key again. Two headers, because each costs the producer and the broker
// per record: the reason, and the original key.
const (
	HeaderDLQReason    = "nodeshare.dlq.reason"
	HeaderDLQSourceKey = "nodeshare.dlq.source_key" // the original key bytes
)

// DeadLetterKey is the dead letter's record key: the source coordinates.
func DeadLetterKey(topic string, partition int, offset int64) string {
	return topic + "/" + strconv.Itoa(partition) + "/" + strconv.FormatInt(offset, 10)
}

// DeadLetterRecord is the dead letter of the record at (topic, partition,
// offset) with key and value raw, rejected for reason: its key, value and
// headers on dao.dlq.v1.
func DeadLetterRecord(topic string, partition int, offset int64, key, raw []byte, reason string) (k, v []byte, h []Header) {
	reason = SafeReason(reason)
	// One buffer holds the record key and the header values: the
	// processor writes one dead letter per bad input.
	buf := make([]byte, 0, len(topic)+2*20+2+len(reason)+len(key))
	buf = append(buf, topic...)
	buf = append(buf, '/')
	buf = strconv.AppendInt(buf, int64(partition), 10)
	buf = append(buf, '/')
	buf = strconv.AppendInt(buf, offset, 10)
	k = buf[:len(buf):len(buf)]
	n := len(buf)
	buf = append(buf, reason...)
	rsn := buf[n:len(buf):len(buf)]
	n = len(buf)
	buf = append(buf, key...)
	src := buf[n:len(buf):len(buf)]
	return k, raw, []Header{{HeaderDLQReason, rsn}, {HeaderDLQSourceKey, src}}
}

// IsDeadLetterRecord reports whether headers mark a DLQ v1 record.
func IsDeadLetterRecord(headers []Header) bool {
	for _, h := range headers {
		if h.Key == HeaderDLQReason {
			return true
		}
	}
	return false
}

// ReadDeadLetter reads a DLQ v1 record back (RawBase64 is the value in
// base64, as the dead_letters table keeps it). Both headers are required.
func ReadDeadLetter(key, value []byte, headers []Header) (DeadLetter, error) {
	got := map[string][]byte{}
	for _, h := range headers {
		got[h.Key] = h.Value
	}
	for _, k := range []string{HeaderDLQReason, HeaderDLQSourceKey} {
		if _, ok := got[k]; !ok {
			return DeadLetter{}, fmt.Errorf("dead letter %q: header %s is missing", key, k)
		}
	}
	parts := strings.Split(string(key), "/")
	if len(parts) != 3 || parts[0] == "" {
		return DeadLetter{}, fmt.Errorf("dead letter: key must be <topic>/<partition>/<offset>, got %q", key)
	}
	p, err := strconv.Atoi(parts[1])
	if err != nil || p < 0 {
		return DeadLetter{}, fmt.Errorf("dead letter: key %q: partition must be a number, got %q", key, parts[1])
	}
	o, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || o < 0 {
		return DeadLetter{}, fmt.Errorf("dead letter: key %q: offset must be a number, got %q", key, parts[2])
	}
	return DeadLetter{SourceTopic: parts[0], Partition: p, Offset: o, Key: string(got[HeaderDLQSourceKey]),
		Reason: string(got[HeaderDLQReason]), RawBase64: base64.StdEncoding.EncodeToString(value)}, nil
}

// AuditJSON is what the audit trail's raw row keeps of a DLQ v1 record
// besides its value (in the provenance column): who rejected it, where it
// came from and why, as JSON with the dead letter's field names.
func (d DeadLetter) AuditJSON() string {
	b := []byte(`{"source":"nodeshare","method":"dlq","source_topic":`)
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

// maxReasonBytes bounds a dead letter's reason (the raw record is kept
// beside it whole).
const maxReasonBytes = 4096

// SafeReason is reason fit for a header and a log line: invalid UTF-8
// bytes are written \xNN and control characters (newlines included)
// \n, \t or \u00NN, so bytes of a rejected input quoted in an error can
// neither forge a log line nor break a reader; at most 4 KiB are kept.
func SafeReason(reason string) string {
	var b strings.Builder
	for i := 0; i < len(reason) && b.Len() < maxReasonBytes; {
		r, size := utf8.DecodeRuneInString(reason[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, "\\x%02x", reason[i])
		case r == '\n':
			b.WriteString("\\n")
		case r == '\r':
			b.WriteString("\\r")
		case r == '\t':
			b.WriteString("\\t")
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			fmt.Fprintf(&b, "\\u%04x", r)
		default:
			b.WriteString(reason[i : i+size])
		}
		i += size
	}
	if b.Len() >= maxReasonBytes {
		return b.String()[:maxReasonBytes] + "..."
	}
	return b.String()
}
