package schemas

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// A dead letter keeps the rejected value byte for byte (even when it is not
// text) and reads back with its reason and coordinates.
func TestDeadLetterRecordRoundTrip(t *testing.T) {
	raw := []byte("\xff\x00not json \"at\" all\n")
	k, v, h := DeadLetterRecord("dao.pools.v1", 2, 41, []byte("dao/pool\xfe"), raw, "envelope: invalid character")
	if string(k) != "dao.pools.v1/2/41" || !bytes.Equal(v, raw) || !IsDeadLetterRecord(h) {
		t.Fatalf("record: key %q, value %q, headers %v", k, v, h)
	}
	d, err := ReadDeadLetter(k, v, h)
	if err != nil {
		t.Fatal(err)
	}
	want := DeadLetter{SourceTopic: "dao.pools.v1", Partition: 2, Offset: 41, Key: "dao/pool\xfe", Reason: "envelope: invalid character",
		RawBase64: base64.StdEncoding.EncodeToString(raw)}
	if d != want {
		t.Fatalf("read back %+v, want %+v", d, want)
	}
	// The audit row's JSON names the same fields as the dead letter.
	var a map[string]any
	if err := json.Unmarshal([]byte(d.AuditJSON()), &a); err != nil {
		t.Fatal(err)
	}
	if a["source_topic"] != "dao.pools.v1" || a["partition"] != 2.0 || a["offset"] != 41.0 || a["reason"] != d.Reason || a["method"] != "dlq" {
		t.Fatalf("audit JSON %s", d.AuditJSON())
	}
	if IsDeadLetterRecord(nil) || IsDeadLetterRecord([]Header{{Key: "other"}}) {
		t.Fatal("a record without the version header is not a dead letter")
	}
}

// A malformed dead letter names the header or key at fault.
func TestReadDeadLetterErrors(t *testing.T) {
	k, v, good := DeadLetterRecord("t", 0, 1, nil, []byte("x"), "r")
	without := func(name string) []Header {
		var out []Header
		for _, h := range good {
			if h.Key != name {
				out = append(out, h)
			}
		}
		return out
	}
	for name, hs := range map[string][]Header{HeaderDLQReason: without(HeaderDLQReason), HeaderDLQSourceKey: without(HeaderDLQSourceKey)} {
		if _, err := ReadDeadLetter(k, v, hs); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s missing: error %v does not name it", name, err)
		}
	}
	for _, key := range []string{"t/0", "t/x/1", "t/0/-1", "/0/1", "a/b/0/1"} {
		if _, err := ReadDeadLetter([]byte(key), v, good); err == nil || !strings.Contains(err.Error(), "key") {
			t.Errorf("key %q: error %v", key, err)
		}
	}
}

func TestSafeReasonEscapesWhatCouldForgeALine(t *testing.T) {
	in := "json: invalid character '\xff' at line 1\n{\"level\":\"ERROR\",\"msg\":\"forged\"}\r\x1b[31m\u2028end"
	got := SafeReason(in)
	for _, bad := range []string{"\n", "\r", "\x1b", "\xff", "\u2028"} {
		if strings.Contains(got, bad) {
			t.Fatalf("%q kept %q", got, bad)
		}
	}
	if want := `json: invalid character '\xff' at line 1\n{"level":"ERROR","msg":"forged"}\r\u001b[31m\u2028end`; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if SafeReason("plain reason: é ok") != "plain reason: é ok" {
		t.Fatal("a printable reason changed")
	}
	if long := SafeReason(strings.Repeat("x", 10_000)); len(long) != maxReasonBytes+3 {
		t.Fatalf("long reason kept %d bytes", len(long))
	}
	_, _, h := DeadLetterRecord("t", 0, 1, nil, []byte("raw"), "bad \xfe\nline")
	if string(h[0].Value) != `bad \xfe\nline` {
		t.Fatalf("dead letter reason %q", h[0].Value)
	}
}
