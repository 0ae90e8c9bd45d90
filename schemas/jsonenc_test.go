package schemas

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
)

// randomText mixes the characters encoding/json treats specially: control
// bytes, quotes, backslashes, HTML characters, U+2028/2029, multi-byte
// runes and invalid UTF-8.
func randomText(r *rand.Rand) string {
	pieces := []string{"a", "Z", "0", " ", "\"", "\\", "<", ">", "&", "\x00", "\x01", "\x1f", "\x7f", "\b", "\f", "\n", "\r", "\t",
		"é", "𝄞", "\u2028", "\u2029", "\xff", "\xc3", "\xe2\x80", "\xed\xa0\x80", "€", "/"}
	var b []byte
	for range r.IntN(40) {
		b = append(b, pieces[r.IntN(len(pieces))]...)
	}
	return string(b)
}

// The hand-written encoders write exactly what json.Marshal writes.
func TestHandWrittenJSONMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 20_000 {
		s := randomText(r)
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("string %q:\ngot  %s\nwant %s", s, got, want)
		}
		p := Provenance{Source: randomText(r), ContentSHA256: randomText(r)}
		if i%2 == 0 {
			p.Canister, p.Method, p.FetchTime, p.CertTimeNanos = randomText(r), randomText(r), randomText(r), r.Uint64()
		}
		want, _ = json.Marshal(p)
		if got := p.appendJSON(nil); !bytes.Equal(got, want) {
			t.Fatalf("provenance %+v:\ngot  %s\nwant %s", p, got, want)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "<&>", "\u2028", "\xff\xfe", "\"\\\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("%q:\ngot  %s\nwant %s", s, got, want)
		}
	})
}
