package schemas

import (
	"strconv"
	"strings"
)

// peekCanonical is PeekEnvelope's fast path for the envelopes nodeshare
// itself writes (Envelope.Marshal): compact, the five fields in their
// order, printable-ASCII strings without escapes. It accepts only a strict
// subset of JSON, so whatever it accepts the general parser reads the same
// way; anything else (whitespace, escapes, other bytes, other field
// orders, duplicate content_sha256 keys) returns ok=false and goes to the
// general path, which also words every error. The sink reads every record
// through here, and the general parser was most of its CPU.
func peekCanonical(b []byte) (e RawEnvelope, contentSHA256 []byte, ok bool) {
	p := canonScanner{b: b}
	if !p.lit(`{"schema_version":`) {
		return e, nil, false
	}
	v, ok := p.smallUint()
	if !ok {
		return e, nil, false
	}
	e.SchemaVersion = v
	var typ, id []byte
	if !p.lit(`,"type":`) {
		return e, nil, false
	}
	if typ, ok = p.plainString(); !ok {
		return e, nil, false
	}
	if !p.lit(`,"event_id":`) {
		return e, nil, false
	}
	if id, ok = p.plainString(); !ok {
		return e, nil, false
	}
	if !p.lit(`,"provenance":`) {
		return e, nil, false
	}
	provStart := p.i
	if contentSHA256, ok = p.provenance(); !ok {
		return e, nil, false
	}
	e.Provenance = b[provStart:p.i:p.i]
	if !p.lit(`,"payload":`) {
		return e, nil, false
	}
	payStart := p.i
	if !p.value(0) {
		return e, nil, false
	}
	e.Payload = b[payStart:p.i:p.i]
	if !p.lit(`}`) || p.i != len(b) {
		return e, nil, false
	}
	e.Type, e.EventID = string(typ), string(id)
	return e, contentSHA256, true
}

// canonScanner walks compact JSON made of printable-ASCII strings without
// escapes, numbers, literals, objects and arrays.
type canonScanner struct {
	b []byte
	i int
}

func (p *canonScanner) lit(s string) bool {
	if len(p.b)-p.i < len(s) || string(p.b[p.i:p.i+len(s)]) != s {
		return false
	}
	p.i += len(s)
	return true
}

// smallUint reads 0 or a number of up to 9 digits without a leading zero.
func (p *canonScanner) smallUint() (int, bool) {
	start := p.i
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' && p.i-start < 10 {
		p.i++
	}
	d := p.b[start:p.i]
	if len(d) == 0 || len(d) > 9 || (len(d) > 1 && d[0] == '0') {
		return 0, false
	}
	v, err := strconv.Atoi(string(d))
	return v, err == nil
}

// plainString reads a string of printable ASCII without escapes and
// returns its contents.
func (p *canonScanner) plainString() ([]byte, bool) {
	if p.i >= len(p.b) || p.b[p.i] != '"' {
		return nil, false
	}
	start := p.i + 1
	for j := start; j < len(p.b); j++ {
		if c := p.b[j]; !plainByte[c] {
			if c != '"' {
				return nil, false
			}
			p.i = j + 1
			return p.b[start:j], true
		}
	}
	return nil, false
}

// plainByte[c] is true for printable ASCII other than '"' and '\\'.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c <= 0x7e; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// provenance reads the provenance object and returns its content_sha256,
// which must be present once, as a string.
func (p *canonScanner) provenance() (sum []byte, ok bool) {
	if !p.lit(`{`) {
		return nil, false
	}
	if p.lit(`}`) {
		return nil, false // no content_sha256
	}
	for {
		key, ok := p.plainString()
		if !ok || !p.lit(`:`) {
			return nil, false
		}
		if strings.EqualFold(string(key), "content_sha256") {
			// The general parser matches keys case-insensitively and keeps
			// the last: any variant or repeat goes there.
			if sum != nil || string(key) != "content_sha256" {
				return nil, false // a duplicate: let the general parser decide
			}
			if sum, ok = p.plainString(); !ok {
				return nil, false
			}
		} else if !p.value(1) {
			return nil, false
		}
		if p.lit(`}`) {
			return sum, sum != nil
		}
		if !p.lit(`,`) {
			return nil, false
		}
	}
}

// maxDepth bounds nesting so a hostile record cannot exhaust the stack; a
// deeper one goes to the general parser.
const maxDepth = 64

// value skips one value.
func (p *canonScanner) value(depth int) bool {
	if p.i >= len(p.b) || depth > maxDepth {
		return false
	}
	switch c := p.b[p.i]; {
	case c == '"':
		_, ok := p.plainString()
		return ok
	case c == '{':
		p.i++
		if p.lit(`}`) {
			return true
		}
		for {
			if _, ok := p.plainString(); !ok || !p.lit(`:`) || !p.value(depth+1) {
				return false
			}
			if p.lit(`}`) {
				return true
			}
			if !p.lit(`,`) {
				return false
			}
		}
	case c == '[':
		p.i++
		if p.lit(`]`) {
			return true
		}
		for {
			if !p.value(depth + 1) {
				return false
			}
			if p.lit(`]`) {
				return true
			}
			if !p.lit(`,`) {
				return false
			}
		}
	case c == 't':
		return p.lit("true")
	case c == 'f':
		return p.lit("false")
	case c == 'n':
		return p.lit("null")
	default:
		return p.number()
	}
}

// number skips a JSON number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (p *canonScanner) number() bool {
	b, i := p.b, p.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	digits := func() int {
		s := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i - s
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if digits() == 0 {
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	p.i = i
	return true
}

// provenanceFields are the provenance keys in the order Provenance.appendJSON
// writes them.
var provenanceFields = [...]string{"source", "canister", "method", "cert_time_nanos", "fetch_time", "content_sha256"}

// decodeCanonicalProvenance is the strict provenance decoder's fast path:
// known keys only, each at most once and in their written order, plain
// strings and a plain unsigned cert_time_nanos. Anything else returns
// false and goes to the strict decoder.
func decodeCanonicalProvenance(b []byte) (p Provenance, ok bool) {
	s := canonScanner{b: b}
	if !s.lit(`{`) {
		return p, false
	}
	if s.lit(`}`) {
		return p, s.i == len(b)
	}
	next := 0
	for {
		key, ok := s.plainString()
		if !ok || !s.lit(`:`) {
			return p, false
		}
		f := next
		for f < len(provenanceFields) && provenanceFields[f] != string(key) {
			f++
		}
		if f == len(provenanceFields) {
			return p, false // unknown, repeated or out of order
		}
		next = f + 1
		if f == 3 {
			start := s.i
			for s.i < len(b) && b[s.i] >= '0' && b[s.i] <= '9' {
				s.i++
			}
			d := b[start:s.i]
			if len(d) == 0 || (len(d) > 1 && d[0] == '0') {
				return p, false
			}
			v, err := strconv.ParseUint(string(d), 10, 64)
			if err != nil {
				return p, false
			}
			p.CertTimeNanos = v
		} else {
			v, ok := s.plainString()
			if !ok {
				return p, false
			}
			switch f {
			case 0:
				p.Source = string(v)
			case 1:
				p.Canister = string(v)
			case 2:
				p.Method = string(v)
			case 4:
				p.FetchTime = string(v)
			case 5:
				p.ContentSHA256 = string(v)
			}
		}
		if s.lit(`}`) {
			return p, s.i == len(b)
		}
		if !s.lit(`,`) {
			return p, false
		}
	}
}
