package lifecycle

import (
	"encoding/json"
	"errors"
	"github.com/nodeshare/nodeshare/schemas"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A small strict JSON reader for the replay contract. encoding/json alone
// would keep the last of two equal keys ({"amount_e8s":1,"amount_e8s":100}
// pays on a number the producer may not have meant), would turn numbers into
// float64 unless told otherwise, and would replace invalid UTF-8 silently.
// Here the document is checked as a whole first (UTF-8, syntax, nesting
// depth, one value), then read into a tree that keeps object keys in order,
// refuses a repeated key, and keeps every number as its text, so that no
// amount ever passes through a float.

type jkind uint8

const (
	jNull jkind = iota
	jBool
	jNumber
	jString
	jArray
	jObject
)

// jval is one JSON value. For a number, s is its text exactly as written;
// for a string, its value; for true/false, "true"/"false".
type jval struct {
	kind jkind
	s    string
	keys []string // object keys in document order
	vals []jval   // object values (parallel to keys) or array elements
}

// get returns the value of key, or nil when the object lacks it.
func (v *jval) get(key string) *jval {
	for i, k := range v.keys {
		if k == key {
			return &v.vals[i]
		}
	}
	return nil
}

// describe is a value as an error message shows it.
func (v *jval) describe() string {
	switch v.kind {
	case jNull:
		return "null"
	case jBool, jNumber:
		if len(v.s) > 40 {
			return v.s[:40] + "..."
		}
		return v.s
	case jString:
		return quote(v.s)
	case jArray:
		return "an array"
	}
	return "an object"
}

// parseJSON reads one JSON document strictly into a tree.
func parseJSON(data []byte) (jval, error) {
	if !utf8.Valid(data) {
		return jval{}, inputErr("input", "is not valid UTF-8")
	}
	if !json.Valid(data) {
		var raw json.RawMessage
		err := json.Unmarshal(data, &raw) // for the message and the offset
		var se *json.SyntaxError
		if errors.As(err, &se) {
			l, c := schemas.JSONPosition(data, se.Offset-1)
			return jval{}, inputErr("input", "is not valid JSON at line %d, column %d (byte %d): %v", l, c, se.Offset, se)
		}
		return jval{}, inputErr("input", "is not valid JSON: %v", err)
	}
	r := reader{data: data}
	return r.value(nil)
}

// pathSeg locates a value for an error message without building the
// string unless an error needs it.
type pathSeg struct {
	parent *pathSeg
	key    string
	index  int // an array element's index, or -1 for an object's key
}

func (p *pathSeg) String() string {
	if p == nil {
		return ""
	}
	parent := p.parent.String()
	if p.index >= 0 {
		return parent + "[" + strconv.Itoa(p.index) + "]"
	}
	if parent == "" {
		return keyName(p.key)
	}
	return parent + "." + keyName(p.key)
}

// reader walks a document that json.Valid has accepted (so its syntax,
// nesting depth and single top-level value are known good) and builds the
// tree. It still checks every index, so a bug here is an error, never a
// panic.
type reader struct {
	data []byte
	i    int
}

var errReader = inputErr("input", "could not be read (the strict JSON reader disagrees with json.Valid)")

func (r *reader) skipSpace() {
	for r.i < len(r.data) {
		switch r.data[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

func (r *reader) peek() byte {
	r.skipSpace()
	if r.i >= len(r.data) {
		return 0
	}
	return r.data[r.i]
}

func (r *reader) value(at *pathSeg) (jval, error) {
	switch c := r.peek(); c {
	case '{':
		return r.object(at)
	case '[':
		r.i++
		v := jval{kind: jArray}
		if r.peek() == ']' {
			r.i++
			return v, nil
		}
		for i := 0; ; i++ {
			child, err := r.value(&pathSeg{parent: at, index: i})
			if err != nil {
				return jval{}, err
			}
			v.vals = append(v.vals, child)
			switch r.peek() {
			case ',':
				r.i++
			case ']':
				r.i++
				return v, nil
			default:
				return jval{}, errReader
			}
		}
	case '"':
		s, err := r.str()
		return jval{kind: jString, s: s}, err
	case 't', 'f', 'n':
		start := r.i
		for r.i < len(r.data) && r.data[r.i] >= 'a' && r.data[r.i] <= 'z' {
			r.i++
		}
		switch lit := string(r.data[start:r.i]); lit {
		case "true", "false":
			return jval{kind: jBool, s: lit}, nil
		case "null":
			return jval{kind: jNull}, nil
		}
		return jval{}, errReader
	case 0:
		return jval{}, errReader
	}
	// A number: its text exactly as written (json.Valid checked the grammar).
	start := r.i
	for r.i < len(r.data) && strings.IndexByte("+-0123456789.eE", r.data[r.i]) >= 0 {
		r.i++
	}
	if r.i == start {
		return jval{}, errReader
	}
	return jval{kind: jNumber, s: string(r.data[start:r.i])}, nil
}

func (r *reader) object(at *pathSeg) (jval, error) {
	r.i++ // '{'
	v := jval{kind: jObject}
	if r.peek() == '}' {
		r.i++
		return v, nil
	}
	var seen map[string]struct{} // once the object is large
	for {
		if r.peek() != '"' {
			return jval{}, errReader
		}
		key, err := r.str()
		if err != nil {
			return jval{}, err
		}
		dup := false
		if seen != nil {
			_, dup = seen[key]
			seen[key] = struct{}{}
		} else {
			for _, k := range v.keys {
				dup = dup || k == key
			}
			if len(v.keys) >= 16 {
				seen = make(map[string]struct{}, 64)
				for _, k := range v.keys {
					seen[k] = struct{}{}
				}
				seen[key] = struct{}{}
			}
		}
		child := &pathSeg{parent: at, key: key, index: -1}
		if dup {
			return jval{}, inputErr(child.String(), "appears twice in one object (duplicate keys are rejected)")
		}
		if r.peek() != ':' {
			return jval{}, errReader
		}
		r.i++
		val, err := r.value(child)
		if err != nil {
			return jval{}, err
		}
		v.keys = append(v.keys, key)
		v.vals = append(v.vals, val)
		switch r.peek() {
		case ',':
			r.i++
		case '}':
			r.i++
			return v, nil
		default:
			return jval{}, errReader
		}
	}
}

// str reads a string token. Without a backslash its bytes are its value
// (json.Valid refused raw control characters, utf8.Valid bad bytes); with
// one, encoding/json decodes the escapes, surrogate pairs included.
func (r *reader) str() (string, error) {
	start := r.i + 1
	escaped := false
	for j := start; j < len(r.data); j++ {
		switch r.data[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			r.i = j + 1
			if !escaped {
				return string(r.data[start:j]), nil
			}
			if at := loneSurrogate(r.data[start:j]); at >= 0 {
				return "", inputErr("input", "has a string with an unpaired UTF-16 surrogate escape at byte %d (it names no character)", start+at)
			}
			var s string
			if err := json.Unmarshal(r.data[start-1:j+1], &s); err != nil {
				return "", errReader
			}
			return s, nil
		}
	}
	return "", errReader
}

// loneSurrogate returns the offset in raw (a string's bytes between its
// quotes) of a \uD800-\uDFFF escape that is not a high surrogate directly
// followed by a low one, or -1. encoding/json would silently turn it into
// U+FFFD, so two different inputs would give one output.
func loneSurrogate(raw []byte) int {
	u := func(i int) (rune, bool) { // the \uXXXX escape at i, if any
		if i+6 > len(raw) || raw[i] != '\\' || raw[i+1] != 'u' {
			return 0, false
		}
		v, err := strconv.ParseUint(string(raw[i+2:i+6]), 16, 16)
		return rune(v), err == nil
	}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '\\' {
			continue
		}
		c, ok := u(i)
		if !ok {
			i++ // a two-byte escape such as \" or \\
			continue
		}
		switch {
		case c >= 0xD800 && c <= 0xDBFF:
			if lo, ok := u(i + 6); ok && lo >= 0xDC00 && lo <= 0xDFFF {
				i += 11
				continue
			}
			return i
		case c >= 0xDC00 && c <= 0xDFFF:
			return i
		}
		i += 5
	}
	return -1
}
