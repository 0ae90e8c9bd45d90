package lifecycle

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
)

// FuzzReplay: any bytes either replay or give ErrInvalidInput; nothing
// panics and nothing is ever ErrInvariant (no input may break
// conservation). A replayed document is read, written back (inputDoc) and
// re-read to the same output; the output verifies (its hash is the hash of
// the canonical encoding) and is valid JSON. Seeds: the golden inputs, a few
// edge documents, and testdata/fuzz/FuzzReplay.
func FuzzReplay(f *testing.F) {
	inputs, _ := filepath.Glob(filepath.Join("testdata", "golden", "*.input.json"))
	for _, in := range inputs {
		data, err := os.ReadFile(in)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"terms":{},"facts":[]}`))
	f.Add([]byte(`{"terms":{"pool_id":"p","pool_id":"q"},"facts":[]}`))
	f.Add(mustJSON(f, inputDoc(baseTerms(), with(adoptedWithBond(), nodeUp(day(9), "n1"), opened(day(9), "v", VoteApproveManifest, day(10), 1),
		ballot(day(10), "v", s1, ChoiceYes), nodeDown(day(11), "n1")))))
	f.Fuzz(func(t *testing.T, data []byte) {
		out, err := Replay(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidInput) || errors.Is(err, ErrInvariant) {
				t.Fatalf("error is not (only) ErrInvalidInput: %v", err)
			}
			var ie *InputError
			if !errors.As(err, &ie) || ie.Place == "" {
				t.Fatalf("error names no place: %v", err)
			}
			return
		}
		if got := LifecycleSHA256(out); got != out.LifecycleSHA256 {
			t.Fatalf("hash %s, encoding hashes to %s", out.LifecycleSHA256, got)
		}
		enc := EncodeOutput(out)
		if !json.Valid(enc) {
			t.Fatalf("output is not JSON: %s", enc)
		}
		printed, err := ReplayJSON(bytes.NewReader(data))
		if err != nil || !bytes.Equal(printed, append(enc, '\n')) {
			t.Fatalf("ReplayJSON disagrees with Replay: %v", err)
		}
		// Read, write, re-read.
		terms, facts := decodeForTest(t, data)
		again, err := Replay(mustJSON(t, inputDoc(terms, facts)))
		if err != nil || !reflect.DeepEqual(again, out) {
			t.Fatalf("the re-written input replays differently: %v", err)
		}
	})
}

// decodeForTest decodes a document that Replay accepted.
func decodeForTest(t *testing.T, data []byte) (Terms, []Fact) {
	t.Helper()
	doc, err := parseJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	terms, err := decodeTerms(doc.get("terms"))
	if err != nil {
		t.Fatal(err)
	}
	fs := doc.get("facts")
	facts := make([]Fact, len(fs.vals))
	for i := range fs.vals {
		if facts[i], err = decodeFact(&fs.vals[i]); err != nil {
			t.Fatalf("facts[%s]: %v", strconv.Itoa(i), err)
		}
	}
	return terms, facts
}
