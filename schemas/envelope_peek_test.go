package schemas

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// peekCases are envelopes nodeshare writes and variations of them: each
// must read the same through the fast path (when it takes them) and the
// general parser.
func peekCases(r *rand.Rand) [][]byte {
	var out [][]byte
	payloads := []any{
		Contribution{DAO: "d", PoolID: "p", ContributionID: "c1", Sponsor: "2vxsx-fae", AmountE8s: 5, At: "2026-01-01T00:00:00Z"},
		Pool{DAO: "d<&>", PoolID: "p", Nodes: []Node{{NodeID: "n", WeightXDRPermyriad: -1}}},
		DeadLetter{Reason: "bad \"thing\"\n", RawBase64: "AAEC/+8="},
		Entitlement{Explanation: "pays 5 e8s", Recipient: "é"},
		map[string]any{"a": []any{1.5, -0.0, 1e300, true, false, nil, "x", map[string]any{}}, "b": []any{}},
	}
	for _, pl := range payloads {
		env, err := NewEnvelope("t", "k/1", Provenance{Source: "s", Canister: "c", CertTimeNanos: 7}, pl)
		if err != nil {
			panic(err)
		}
		b, _ := env.Marshal()
		out = append(out, b)
		s := string(b)
		// Variations the fast path must hand over (or read identically).
		out = append(out,
			[]byte(strings.Replace(s, `,"type"`, ` ,"type"`, 1)),
			[]byte(strings.Replace(s, `"content_sha256"`, `"Content_sha256"`, 1)),
			[]byte(strings.Replace(s, `{"source"`, `{"content_sha256":"00","source"`, 1)),
			[]byte(strings.Replace(s, `"source":"s"`, `"source":"s\u00e9"`, 1)),
			[]byte(strings.Replace(s, `"source":"s"`, `"source":"s\\"`, 1)),
			[]byte(strings.Replace(s, `"schema_version":1`, `"schema_version":01`, 1)),
			[]byte(strings.Replace(s, `"schema_version":1`, `"schema_version":1.0`, 1)),
			[]byte(strings.Replace(s, `"schema_version":1`, `"schema_version":-1`, 1)),
			[]byte(strings.Replace(s, `"schema_version":1`, `"schema_version":9999999999`, 1)),
			[]byte(s+" "),
			[]byte(s+"}"),
			[]byte(s[:len(s)-1]),
		)
		// Random single-byte edits and cuts.
		for range 200 {
			m := []byte(s)
			switch r.IntN(3) {
			case 0:
				m[r.IntN(len(m))] = byte(r.IntN(256))
			case 1:
				m = m[:r.IntN(len(m))]
			default:
				i := r.IntN(len(m))
				const ins = "{}[],:\"\\ 0-eE.tfn"
				m = append(m[:i], append([]byte{ins[r.IntN(len(ins))]}, m[i:]...)...)
			}
			out = append(out, m)
		}
	}
	return out
}

// TestPeekFastPathAgreesWithGeneral: whatever the fast path accepts, the
// general parser reads to the same fields and the same verdict.
func TestPeekFastPathAgreesWithGeneral(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	fast := 0
	for _, b := range peekCases(r) {
		checkPeekAgrees(t, b)
		if e, _, ok := peekCanonical(b); ok {
			fast++
			checkPeekAgrees(t, e.Provenance) // provenance-shaped inputs too
		}
	}
	if fast < 5 {
		t.Fatalf("the fast path took only %d cases: it should take every envelope nodeshare writes", fast)
	}
}

func checkPeekAgrees(t *testing.T, b []byte) {
	t.Helper()
	// The provenance fast path agrees with the strict decoder.
	if p, ok := decodeCanonicalProvenance(b); ok {
		var want Provenance
		if err := strictUnmarshal(b, &want); err != nil || p != want {
			t.Fatalf("provenance %q: fast %+v, strict %+v %v", b, p, want, err)
		}
	}
	// DecodeEnvelope's fast path and its general parser agree too, errors
	// included.
	d, derr := DecodeEnvelope(b)
	g2, g2err := decodeGeneral(b)
	if fmt.Sprint(derr) != fmt.Sprint(g2err) || !reflect.DeepEqual(d, g2) {
		t.Fatalf("DecodeEnvelope %q:\nfast    %+v %v\ngeneral %+v %v", b, d, derr, g2, g2err)
	}
	e, sum, ok := peekCanonical(b)
	if !ok {
		return
	}
	g, gerr := peekGeneral(b)
	ferr := checkContentHash(e, string(sum))
	if (gerr == nil) != (ferr == nil) || !reflect.DeepEqual(e, g) {
		t.Fatalf("%q:\nfast    %+v %v\ngeneral %+v %v", b, e, ferr, g, gerr)
	}
	if !bytes.Equal(e.Payload, g.Payload) || !bytes.Equal(e.Provenance, g.Provenance) {
		t.Fatalf("%q: raw fields differ", b)
	}
}

func FuzzPeekEnvelope(f *testing.F) {
	for _, b := range peekCases(rand.New(rand.NewPCG(1, 1)))[:40] {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkPeekAgrees(t, b)
		_, _ = PeekEnvelope(b) // never panics
	})
}
