package lifecycle

import "bytes"

// Skipping a block cheaply. Most blocks on ic.ledger-blocks.v1 may be to
// accounts of no pool; the stage needs only their `to` to know. peekBlock
// reads the envelope's type and the payload's `to` from a record in the
// canonical layout nodeshare writes (schemas.Envelope.Marshal: the
// envelope's keys in order, the payload compact as encoding/json writes
// it), without decoding the JSON or hashing the payload. A block whose
// `to` is a pool's account is then decoded strictly, content hash
// included, before it becomes a fact; a block to no pool is never checked
// further: it is not the lifecycle's to judge. Anything the scan does not
// recognise (another layout, an escape in a string) returns ok=false and
// the record is decoded in full.

var (
	canonicalHead = []byte(`{"schema_version":1,"type":"`)
	payloadKey    = []byte(`"},"payload":{`)
	toKey         = []byte(`,"to":"`)
)

// peekBlock returns the record's envelope type and, when it is a block,
// the payload's `to` (aliasing value).
func peekBlock(value []byte) (typ, to []byte, ok bool) {
	if !bytes.HasPrefix(value, canonicalHead) {
		return nil, nil, false
	}
	typ, ok = plainString(value[len(canonicalHead):])
	if !ok {
		return nil, nil, false
	}
	if string(typ) != "ledger_block" {
		return typ, nil, true
	}
	// The payload follows the provenance, whose last member is a string
	// (content_sha256): "},"payload":{ can only be that boundary, a quote
	// inside a string being escaped. No string of a block holds a quote
	// (ids, hex, RFC 3339 times), so the first ,"to":" after it is the
	// payload's `to`.
	p := bytes.Index(value, payloadKey)
	if p < 0 {
		return nil, nil, false
	}
	rest := value[p+len(payloadKey):]
	i := bytes.Index(rest, toKey)
	if i < 0 {
		return nil, nil, false
	}
	to, ok = plainString(rest[i+len(toKey):])
	return typ, to, ok
}

// plainString returns the bytes of b up to the first quote, refusing an
// escape (the scan does not unescape).
func plainString(b []byte) ([]byte, bool) {
	end := bytes.IndexByte(b, '"')
	if end < 0 || bytes.IndexByte(b[:end], '\\') >= 0 {
		return nil, false
	}
	return b[:end], true
}
