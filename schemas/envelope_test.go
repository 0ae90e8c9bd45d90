package schemas

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// Envelope.Marshal writes the same bytes encoding/json would, so records
// written before and after it was hand-rolled compare equal.
func TestEnvelopeMarshalMatchesEncodingJSON(t *testing.T) {
	env, err := NewEnvelope(TypeContribution, "d/p/<c&1>", Provenance{Source: "a<b>", Method: "m&n"},
		Contribution{DAO: "d<&>", PoolID: "p", ContributionID: "c", Sponsor: "s\u2028", AmountE8s: 5, At: "2026-01-01T00:00:00Z"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := env.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(env)
	if !bytes.Equal(got, want) {
		t.Fatalf("Marshal differs from encoding/json:\n%s\n%s", got, want)
	}
	back, err := DecodeEnvelope(got)
	if err != nil || back.EventID != env.EventID || !bytes.Equal(back.Payload, env.Payload) {
		t.Fatalf("round trip: %v", err)
	}
}

func TestDecodeEnvelopeIsStrict(t *testing.T) {
	env, _ := NewEnvelope(TypeRate, "k", Provenance{Source: "x"}, Rate{Kind: "spot", TimestampSeconds: 1, XDRPermyriadPerICP: 2})
	good, _ := env.Marshal()
	cases := map[string][]byte{
		"unknown field":  bytes.Replace(good, []byte(`{"schema_version"`), []byte(`{"extra":1,"schema_version"`), 1),
		"trailing data":  append(append([]byte{}, good...), []byte(` {}`)...),
		"case":           bytes.Replace(good, []byte(`"type"`), []byte(`"Type"`), 1),
		"schema_version": bytes.Replace(good, []byte(`"schema_version":1`), []byte(`"schema_version":2`), 1),
		"content_sha256": bytes.Replace(good, []byte(`"xdr_permyriad_per_icp":2`), []byte(`"xdr_permyriad_per_icp":3`), 1),
	}
	for name, b := range cases {
		if _, err := DecodeEnvelope(b); err == nil {
			t.Errorf("%s: accepted", name)
		} else if name != "case" && !strings.Contains(err.Error(), strings.Split(name, " ")[0]) {
			t.Errorf("%s: error %q does not say so", name, err)
		}
	}
	var r Rate
	bad := Envelope{Type: TypeRate, EventID: "k", Payload: []byte(`{"kind":"spot","surprise":1}`)}
	if err := bad.DecodePayload(TypeRate, &r); err == nil || !strings.Contains(err.Error(), "unknown field") {
		t.Errorf("payload unknown field: %v", err)
	}
}

// NewEnvelope encodes payloads with segmentio/encoding/json; its bytes must
// be exactly encoding/json's, or replays of old periods would differ.
func TestPayloadEncodingMatchesEncodingJSON(t *testing.T) {
	tricky := "a<b>&c\u2028\u2029\"\\\x01é𝄞"
	payloads := []any{
		Pool{DAO: tricky, PoolID: "p", Nodes: []Node{{NodeID: tricky, WeightXDRPermyriad: -1}}, Hoster: HosterTerms{Account: tricky}},
		Contribution{DAO: tricky, AmountE8s: 1 << 62, At: tricky},
		NodeReward{NodeProvider: tricky, TimestampSeconds: 1<<64 - 1, AmountE8s: -5},
		Rate{Kind: tricky},
		PoolPeriod{AllocationJSON: "{\n  \"x\": 1\n}\n" + tricky, InputJSON: tricky, Whale: tricky},
		Entitlement{Explanation: tricky, Recipient: tricky},
		PayoutIntent{MemoHex: tricky}, PayoutResult{Error: tricky, Duplicate: true},
		DeadLetter{Reason: tricky, RawBase64: "AAEC/+8="},
		Provenance{Source: tricky, CertTimeNanos: 7},
	}
	for i, p := range payloads {
		want, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		env, err := NewEnvelope("t", "k", Provenance{Source: tricky}, p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(env.Payload, want) {
			t.Errorf("payload %d (%T):\nsegmentio: %s\nstd:       %s", i, p, env.Payload, want)
		}
		got, _ := env.Marshal()
		std, _ := json.Marshal(env)
		if !bytes.Equal(got, std) {
			t.Errorf("envelope %d (%T):\n%s\n%s", i, p, got, std)
		}
	}
}
