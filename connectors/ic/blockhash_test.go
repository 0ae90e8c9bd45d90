package ic

import (
	"bytes"
	"encoding/hex"
	"strings"
	"testing"
)

func mustHexBytes(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const (
	govAccountHex  = "082ecf2e3f647ac600f43f38a68342fba5b8e68b085f02592b77f39808a8d2b5"
	anonAccountHex = "1c7a48ba6a562aa9eaa2481a9049cdf0433b9738c992d698c31d8abf89cadc79"
)

// TestBlockEncodingVectors checks the encoder against bytes written out by
// hand from dfinity/ic rs/ledger_suite/icp/src/gen/ic_ledger.pb.v1.rs and
// validate_endpoints.rs (ToProto for Block and Transaction) with prost's
// rules (ascending field numbers, present empty sub-messages written, zero
// scalars left out). ops/icsim checks its own encoder against the same
// bytes.
func TestBlockEncodingVectors(t *testing.T) {
	var mint candidBlock
	mint.Timestamp.TimestampNanos = 1
	mint.Transaction.CreatedAtTime.TimestampNanos = 1 // shown as the block time: no created_at_time
	mint.Transaction.Operation = &candidOperation{Mint: &struct {
		To     []byte       `ic:"to"`
		Amount candidTokens `ic:"amount"`
	}{To: mustHexBytes(t, govAccountHex), Amount: candidTokens{100_000_000}}}
	wantMint := "1202" + "0801" + "1a2f" + "122b" + "1222" + "0a20" + govAccountHex + "1a05" + "0880c2d72f" + "2200"
	got, err := encodeCandidBlock(mint, false)
	if err != nil || hex.EncodeToString(got) != wantMint {
		t.Fatalf("mint:\n got %x %v\nwant %s", got, err, wantMint)
	}
	hashes, err := candidBlockHashes(mint)
	if err != nil || len(hashes) != 2 {
		t.Fatalf("a block whose created_at_time shows the block time has two candidate hashes: %d %v", len(hashes), err)
	}

	var tr candidBlock
	parent := bytes.Repeat([]byte{0x11}, 32)
	memo := bytes.Repeat([]byte{0xab}, 32)
	tr.ParentHash = &parent
	tr.Timestamp.TimestampNanos = 7
	tr.Transaction.Memo = 1
	tr.Transaction.CreatedAtTime.TimestampNanos = 5
	tr.Transaction.ICRC1Memo = &memo
	tr.Transaction.Operation = &candidOperation{Transfer: &struct {
		To      []byte       `ic:"to"`
		Fee     candidTokens `ic:"fee"`
		From    []byte       `ic:"from"`
		Amount  candidTokens `ic:"amount"`
		Spender *[]byte      `ic:"spender"`
	}{To: mustHexBytes(t, anonAccountHex), From: mustHexBytes(t, govAccountHex), Amount: candidTokens{300}, Fee: candidTokens{10_000}}}
	wantTransfer := "0a22" + "0a20" + strings.Repeat("11", 32) +
		"1202" + "0807" +
		"1a8001" + // 128 bytes: a two-byte length
		"1a52" + "0a22" + "0a20" + govAccountHex + "1222" + "0a20" + anonAccountHex + "1a03" + "08ac02" + "2203" + "08904e" +
		"2202" + "0801" + "3202" + "0805" + "3a22" + "0a20" + strings.Repeat("ab", 32)
	got, err = encodeCandidBlock(tr, true)
	if err != nil || hex.EncodeToString(got) != wantTransfer {
		t.Fatalf("transfer:\n got %x %v\nwant %s", got, err, wantTransfer)
	}
	if hashes, _ := candidBlockHashes(tr); len(hashes) != 1 {
		t.Fatal("created_at_time differs from the block time: one candidate")
	}
}
