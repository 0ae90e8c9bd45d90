package schemas

import "testing"

// The chain encoding is frozen: these hashes must never change.
func TestChainHashGolden(t *testing.T) {
	r := ChainRow{Topic: "dao.pools.v1", Partition: 0, Offset: 7, Key: "d/p", EventID: "d/p", EventType: "pool", SchemaVersion: 1, Provenance: "{}", Payload: `{"a":1}`}
	h1 := ChainHash(ChainGenesis, r)
	const want = "e095424fe774691147bc8f36f475e89a67efabffc8c7699adcc554e1866b03c9"
	if h1 != want {
		t.Fatalf("chain hash changed: %s", h1)
	}
	if h1 == ChainHash(h1, r) {
		t.Fatal("prev hash not covered")
	}
	r2 := r
	r2.Payload = `{"a":2}`
	if ChainHash(ChainGenesis, r2) == h1 {
		t.Fatal("payload not covered")
	}
	// Field boundaries are unambiguous.
	a := ChainRow{Key: "ab", EventID: "c"}
	b := ChainRow{Key: "a", EventID: "bc"}
	if ChainHash(ChainGenesis, a) == ChainHash(ChainGenesis, b) {
		t.Fatal("field boundaries are ambiguous")
	}
}
