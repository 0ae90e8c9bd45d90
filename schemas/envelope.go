package schemas

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	fastjson "github.com/segmentio/encoding/json"
	"strconv"
)

// SchemaVersion is the version of every payload defined in this package.
const SchemaVersion = 1

// Event types, append-only.
const (
	TypeNodeReward      = "node_reward"
	TypeRate            = "icp_xdr_rate"
	TypeChainTips       = "chain_tips"
	TypePool            = "pool"
	TypeContribution    = "contribution"
	TypeEntitlement     = "entitlement"
	TypePoolPeriod      = "pool_period"
	TypePayoutIntent    = "payout_intent"
	TypePayoutResult    = "payout_result"
	TypeDeadLetter      = "dead_letter"
	TypeLedgerBlock     = "ledger_block"
	TypePayoutApproval  = "payout_approval"
	TypeSourceMismatch  = "source_mismatch"
	TypeNodeDailyReward = "node_daily_reward"
)

// Provenance says where a fact came from, so an auditor can fetch it again.
type Provenance struct {
	Source        string `json:"source"`                    // "ic", "dashboard", "dao-admin", "nodeshare"
	Canister      string `json:"canister,omitempty"`        // canister id for IC facts
	Method        string `json:"method,omitempty"`          // Candid method or REST path
	CertTimeNanos uint64 `json:"cert_time_nanos,omitempty"` // certificate /time of a certified read
	FetchTime     string `json:"fetch_time,omitempty"`      // RFC 3339, when nodeshare read it
	ContentSHA256 string `json:"content_sha256"`            // hex sha256 of Payload bytes
}

// Envelope wraps every record on every topic.
type Envelope struct {
	SchemaVersion int             `json:"schema_version"`
	Type          string          `json:"type"`
	EventID       string          `json:"event_id"`
	Provenance    Provenance      `json:"provenance"`
	Payload       json.RawMessage `json:"payload"`
}

// NewEnvelope marshals payload and fills the content hash. The event id is
// the caller's deterministic id (usually the record key).
func NewEnvelope(typ, eventID string, prov Provenance, payload any) (Envelope, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return Envelope{}, fmt.Errorf("event %s %s: encode payload: %w", typ, eventID, err)
	}
	sum := sha256.Sum256(b)
	prov.ContentSHA256 = hex.EncodeToString(sum[:])
	return Envelope{SchemaVersion: SchemaVersion, Type: typ, EventID: eventID, Provenance: prov, Payload: b}, nil
}

// DecodeEnvelope parses a record value strictly: unknown fields, a wrong
// schema version or a payload whose hash does not match are errors.
func DecodeEnvelope(b []byte) (Envelope, error) {
	// The canonical layout (see peekCanonical) has exactly the five known
	// fields: only the provenance needs the strict decoder.
	if raw, _, ok := peekCanonical(b); ok {
		prov, ok := decodeCanonicalProvenance(raw.Provenance)
		if ok || strictUnmarshal(raw.Provenance, &prov) == nil {
			e := Envelope{SchemaVersion: raw.SchemaVersion, Type: raw.Type, EventID: raw.EventID, Provenance: prov,
				Payload: append(json.RawMessage(nil), raw.Payload...)}
			return checkEnvelope(e)
		}
	}
	return decodeGeneral(b)
}

// decodeGeneral is DecodeEnvelope for any JSON.
func decodeGeneral(b []byte) (Envelope, error) {
	var e Envelope
	if err := strictUnmarshal(b, &e); err != nil {
		return Envelope{}, fmt.Errorf("envelope: %w", err)
	}
	return checkEnvelope(e)
}

// checkEnvelope applies DecodeEnvelope's checks to a decoded envelope.
func checkEnvelope(e Envelope) (Envelope, error) {
	if e.SchemaVersion != SchemaVersion {
		return Envelope{}, fmt.Errorf("envelope: schema_version must be %d, got %d", SchemaVersion, e.SchemaVersion)
	}
	if e.Type == "" {
		return Envelope{}, fmt.Errorf("envelope: type is empty")
	}
	if e.EventID == "" {
		return Envelope{}, fmt.Errorf("envelope: event_id is empty")
	}
	sum := sha256.Sum256(e.Payload)
	var got [64]byte
	hex.Encode(got[:], sum[:])
	if string(got[:]) != e.Provenance.ContentSHA256 {
		return Envelope{}, fmt.Errorf("envelope %s: provenance.content_sha256 is %q, payload hashes to %q", e.EventID, e.Provenance.ContentSHA256, got[:])
	}
	return e, nil
}

// DecodePayload decodes the payload strictly into v, checking the type.
func (e Envelope) DecodePayload(typ string, v any) error {
	if e.Type != typ {
		return fmt.Errorf("event %s: type must be %q, got %q", e.EventID, typ, e.Type)
	}
	if err := strictUnmarshal(e.Payload, v); err != nil {
		return fmt.Errorf("event %s (%s): payload: %w", e.EventID, typ, err)
	}
	return nil
}

// strictUnmarshal decodes exactly one JSON value into v: unknown fields,
// fields that match only case-insensitively and trailing data are errors.
// It uses segmentio/encoding/json (one pass, few allocations), whose errors
// read like encoding/json's.
func strictUnmarshal(b []byte, v any) error {
	rest, err := fastjson.Parse(b, v, fastjson.DisallowUnknownFields|fastjson.DontMatchCaseInsensitiveStructFields)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return fmt.Errorf("json: %d bytes of trailing data after the value", len(rest))
	}
	return nil
}

// Marshal encodes the envelope as the record value. The payload is already
// JSON (NewEnvelope made it) and is written as it is, not re-compacted.
func (e Envelope) Marshal() ([]byte, error) {
	payload := e.Payload
	if len(payload) == 0 {
		payload = []byte("null")
	}
	out := make([]byte, 0, len(e.Type)+len(e.EventID)+len(payload)+300)
	out = append(out, `{"schema_version":`...)
	out = strconv.AppendInt(out, int64(e.SchemaVersion), 10)
	out = append(out, `,"type":`...)
	out = appendJSONString(out, e.Type)
	out = append(out, `,"event_id":`...)
	out = appendJSONString(out, e.EventID)
	out = append(out, `,"provenance":`...)
	out = e.Provenance.appendJSON(out)
	out = append(out, `,"payload":`...)
	out = append(out, payload...)
	out = append(out, '}')
	return out, nil
}

// RawEnvelope is an envelope whose provenance and payload are kept as the
// bytes that arrived: what the audit sink stores.
type RawEnvelope struct {
	SchemaVersion int             `json:"schema_version"`
	Type          string          `json:"type"`
	EventID       string          `json:"event_id"`
	Provenance    json.RawMessage `json:"provenance"`
	Payload       json.RawMessage `json:"payload"`
}

// PeekEnvelope reads the envelope fields and checks the payload against its
// content hash (Provenance and Payload alias b: copy them to keep them), without the strict field checks of DecodeEnvelope (the
// processors apply those and dead-letter what fails; the sink stores every
// record as it came).
func PeekEnvelope(b []byte) (RawEnvelope, error) {
	if e, sum, ok := peekCanonical(b); ok {
		return e, checkContentHash(e, string(sum))
	}
	return peekGeneral(b)
}

// peekGeneral is PeekEnvelope for any JSON.
func peekGeneral(b []byte) (RawEnvelope, error) {
	var e RawEnvelope
	// segmentio/encoding/json: a drop-in, allocation-light decoder (from
	// kafka-go's authors) that decodes in one pass; the sink's throughput
	// is bounded by this call.
	if _, err := fastjson.Parse(b, &e, fastjson.DontCopyRawMessage); err != nil {
		return e, fmt.Errorf("envelope: %w", err)
	}
	var p struct {
		ContentSHA256 string `json:"content_sha256"`
	}
	if err := fastjson.Unmarshal(e.Provenance, &p); err != nil {
		return e, fmt.Errorf("envelope %s: provenance: %w", e.EventID, err)
	}
	return e, checkContentHash(e, p.ContentSHA256)
}

// checkContentHash compares the payload's SHA-256 with the provenance's.
func checkContentHash(e RawEnvelope, want string) error {
	sum := sha256.Sum256(e.Payload)
	var got [64]byte
	hex.Encode(got[:], sum[:])
	if string(got[:]) != want {
		return fmt.Errorf("envelope %s: provenance.content_sha256 is %q, payload hashes to %q", e.EventID, want, got[:])
	}
	return nil
}
