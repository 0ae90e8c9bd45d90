package schemas

import (
	"strconv"
	"unicode/utf8"
)

// Envelopes (their provenance) and the JSON of dead letters' audit rows are
// written by hand instead of through encoding/json's reflection, which was
// most of the processor's CPU per record. The output is byte-identical to
// json.Marshal's (a property test compares them), because record bytes are
// hashed and must never depend on which path wrote them.

const hexDigits = "0123456789abcdef"

// jsonSafe[b] is true for the ASCII bytes written as they are.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\' && b != '<' && b != '>' && b != '&'
	}
	return t
}()

// appendJSONString appends s as encoding/json writes a string: HTML-safe
// escapes for <, > and &, \u00XX for other control characters (\b \f \n
// \r \t short), invalid UTF-8 as \ufffd, U+2028 and U+2029 escaped.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if jsonSafe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendJSON writes p as json.Marshal does (field order and omitempty of
// the struct tags).
func (p Provenance) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"source":`...)
	dst = appendJSONString(dst, p.Source)
	if p.Canister != "" {
		dst = append(dst, `,"canister":`...)
		dst = appendJSONString(dst, p.Canister)
	}
	if p.Method != "" {
		dst = append(dst, `,"method":`...)
		dst = appendJSONString(dst, p.Method)
	}
	if p.CertTimeNanos != 0 {
		dst = append(dst, `,"cert_time_nanos":`...)
		dst = strconv.AppendUint(dst, p.CertTimeNanos, 10)
	}
	if p.FetchTime != "" {
		dst = append(dst, `,"fetch_time":`...)
		dst = appendJSONString(dst, p.FetchTime)
	}
	dst = append(dst, `,"content_sha256":`...)
	dst = appendJSONString(dst, p.ContentSHA256)
	return append(dst, '}')
}
