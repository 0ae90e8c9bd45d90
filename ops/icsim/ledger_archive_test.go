package icsim

import (
	"bytes"
	"crypto/sha256"
	"path/filepath"
	"testing"
	"time"

	"github.com/aviate-labs/agent-go"
	"github.com/aviate-labs/agent-go/candid/idl"
	"github.com/aviate-labs/agent-go/certification"
	"github.com/aviate-labs/agent-go/certification/hashtree"
	"github.com/aviate-labs/agent-go/identity"
	"github.com/aviate-labs/agent-go/principal"
	"github.com/aviate-labs/agent-go/principal/icrc"
	"github.com/fxamacker/cbor/v2"
)

// queryBlocksReply is query_blocks' reply with archived_blocks, decoded
// through agent-go (its callback into idl.Function).
type queryBlocksReply struct {
	ChainLength     uint64        `ic:"chain_length"`
	Certificate     *[]byte       `ic:"certificate"`
	Blocks          []candidBlock `ic:"blocks"`
	FirstBlockIndex uint64        `ic:"first_block_index"`
	ArchivedBlocks  []struct {
		Start    uint64       `ic:"start"`
		Length   uint64       `ic:"length"`
		Callback idl.Function `ic:"callback"`
	} `ic:"archived_blocks"`
}

func queryBlocks(t *testing.T, a *agent.Agent, start, length uint64) queryBlocksReply {
	t.Helper()
	var r queryBlocksReply
	if err := a.Query(LedgerID(), "query_blocks", []any{candidGetBlocksArgs{Start: start, Length: length}}, []any{&r}); err != nil {
		t.Fatal(err)
	}
	return r
}

// mintN commits n mints of 1..n e8s to a.
func mintN(t *testing.T, s *Server, a icrc.Account, n int) {
	t.Helper()
	for i := range n {
		if _, err := s.Mint(a.Encode(), uint64(i+1)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestArchiving follows rs/ledger_suite/common/ledger_canister_core:
// blockchain.rs get_blocks_for_archiving (at trigger_threshold local
// blocks, the num_blocks_to_archive oldest leave) and ledger.rs
// block_locations (query_blocks answers the local part of the range,
// first_block_index = the first local block when none is asked for, plus
// one archived_blocks range per archive canister), and the archive's
// get_blocks (rs/ledger_suite/icp/archive/src/main.rs read_encoded_blocks:
// BadFirstBlockIndex below its first block, the intersection otherwise).
func TestArchiving(t *testing.T) {
	opts := ArchiveOptions{TriggerThreshold: 10, NumBlocksToArchive: 5, NodeMaxBlocks: 7}
	s, hs := startSim(t, Options{Archive: opts})
	id, _ := identity.NewRandomEd25519Identity()
	a := newAgent(t, hs, id)
	mintN(t, s, icrc.Account{Owner: id.Sender()}, 23)
	// 10 local -> 5 archived; ... 23 blocks: archived 15, local 8.
	d := s.Ledger()
	if d.ChainLen != 23 || d.ArchivedBlocks != 15 || len(d.Archives) != 3 {
		t.Fatalf("chain %d, archived %d, archives %+v", d.ChainLen, d.ArchivedBlocks, d.Archives)
	}
	if d.Archives[0].CanisterID != "qjdve-lqaaa-aaaaa-aaaeq-cai" || d.Archives[1].CanisterID != "qsgjb-riaaa-aaaaa-aaaga-cai" {
		t.Fatalf("archive ids %+v (mainnet archives first)", d.Archives)
	}
	if d.Archives[0].To != 7 || d.Archives[1].From != 7 || d.Archives[1].To != 14 || d.Archives[2].From != 14 || d.Archives[2].To != 15 {
		t.Fatalf("archive nodes hold 7 blocks each: %+v", d.Archives)
	}

	r := queryBlocks(t, a, 0, 100)
	if r.ChainLength != 23 || r.FirstBlockIndex != 15 || len(r.Blocks) != 8 || len(r.ArchivedBlocks) != 3 {
		t.Fatalf("query_blocks(0, 100): %+v", r)
	}
	for i, want := range [][2]uint64{{0, 7}, {7, 7}, {14, 1}} {
		ab := r.ArchivedBlocks[i]
		if ab.Start != want[0] || ab.Length != want[1] || ab.Callback.Method.Method != "get_blocks" || ab.Callback.Method.Principal.String() != d.Archives[i].CanisterID {
			t.Fatalf("archived range %d: %+v", i, ab)
		}
	}
	if r := queryBlocks(t, a, 3, 6); len(r.Blocks) != 0 || r.FirstBlockIndex != 15 || len(r.ArchivedBlocks) != 2 ||
		r.ArchivedBlocks[0].Start != 3 || r.ArchivedBlocks[0].Length != 4 || r.ArchivedBlocks[1].Start != 7 || r.ArchivedBlocks[1].Length != 2 {
		t.Fatalf("query_blocks(3, 6): %+v", r)
	}
	// Past the end: no intersection, so first_block_index is the first
	// local block; at the end: the empty range there.
	if r := queryBlocks(t, a, 30, 5); len(r.Blocks) != 0 || r.FirstBlockIndex != 15 || len(r.ArchivedBlocks) != 0 {
		t.Fatalf("query_blocks(30, 5): %+v", r)
	}
	if r := queryBlocks(t, a, 23, 5); len(r.Blocks) != 0 || r.FirstBlockIndex != 23 {
		t.Fatalf("query_blocks(23, 5): %+v", r)
	}

	archive := principal.MustDecode(d.Archives[1].CanisterID)
	get := func(start, length uint64) candidQueryArchiveResult {
		var res candidQueryArchiveResult
		if err := a.Query(archive, "get_blocks", []any{candidGetBlocksArgs{Start: start, Length: length}}, []any{&res}); err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := get(5, 3); res.Err == nil || res.Err.BadFirstBlockIndex == nil || res.Err.BadFirstBlockIndex.FirstValidIndex != 7 {
		t.Fatalf("get_blocks below the node: %+v", res)
	}
	res := get(9, 100)
	if res.Ok == nil || len(res.Ok.Blocks) != 5 {
		t.Fatalf("get_blocks(9, 100) on [7, 14): %+v", res)
	}
	// The archived block is the block: amount 10 (the tenth mint), and its
	// parent hash chains to block 8.
	if m := res.Ok.Blocks[0].Transaction.Operation.Mint; m == nil || m.Amount.E8s != 10 {
		t.Fatalf("block 9: %+v", res.Ok.Blocks[0])
	}
	if p := res.Ok.Blocks[0].ParentHash; p == nil || !bytes.Equal(*p, s.ledger.hashes[8][:]) {
		t.Fatal("archived block 9 does not name block 8's hash")
	}
	if res := get(20, 5); res.Ok == nil || len(res.Ok.Blocks) != 0 {
		t.Fatalf("get_blocks past the node: %+v", res)
	}
	var arch candidArchives
	if err := a.Query(LedgerID(), "archives", []any{}, []any{&arch}); err != nil || len(arch.Archives) != 3 {
		t.Fatalf("archives: %+v %v", arch, err)
	}
}

// TestArchiveSurvivesRestart: the archive boundary is part of the state.
func TestArchiveSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	opts := ArchiveOptions{TriggerThreshold: 4, NumBlocksToArchive: 3}
	s1, hs1 := startSim(t, Options{StatePath: path, Archive: opts})
	mintN(t, s1, icrc.Account{Owner: cmcID}, 5)
	before := s1.Ledger()
	hs1.Close()
	// Restarted without archiving: what was archived stays archived.
	s2, _ := startSim(t, Options{StatePath: path})
	after := s2.Ledger()
	if after.ArchivedBlocks != before.ArchivedBlocks || before.ArchivedBlocks != 3 || after.TipHashHex != before.TipHashHex {
		t.Fatalf("before %d %s, after %d %s", before.ArchivedBlocks, before.TipHashHex, after.ArchivedBlocks, after.TipHashHex)
	}
	if _, err := New(Options{Archive: ArchiveOptions{TriggerThreshold: 3}}); err == nil {
		t.Fatal("a trigger threshold without num_blocks_to_archive was accepted")
	}
}

// TestQueryBlocksCertificate: the ICP ledger's certified data is the raw
// 32-byte hash of its newest block, [0; 32] for an empty chain
// (rs/ledger_suite/icp/ledger/src/main.rs: set_certified_data(&hash) after
// each block, init/post_upgrade: last_hash.unwrap_or([0u8; 32])), and
// query_blocks returns data_certificate() in a non-replicated query. The
// certificate verifies under the root key, and its certified_data is
// SHA-256 of the tip block's protobuf encoding.
func TestQueryBlocksCertificate(t *testing.T) {
	s, hs := startSim(t, Options{})
	id, _ := identity.NewRandomEd25519Identity()
	a := newAgent(t, hs, id)
	certified := func(r queryBlocksReply) []byte {
		t.Helper()
		if r.Certificate == nil {
			t.Fatal("no certificate")
		}
		var c certification.Certificate
		if err := cbor.Unmarshal(*r.Certificate, &c); err != nil {
			t.Fatal(err)
		}
		if err := certification.VerifyCertificate(c, LedgerID(), s.RootKeyDER()); err != nil {
			t.Fatal(err)
		}
		if err := c.VerifyTime(time.Minute); err != nil {
			t.Fatal(err)
		}
		data, err := hashtree.Lookup(c.Tree.Root, hashtree.Label("canister"), LedgerID().Raw, hashtree.Label("certified_data"))
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	if got := certified(queryBlocks(t, a, 0, 1)); !bytes.Equal(got, make([]byte, 32)) {
		t.Fatalf("empty chain certifies %x, want 32 zero bytes", got)
	}
	mintN(t, s, icrc.Account{Owner: id.Sender()}, 2)
	if _, err := s.Mint(icrc.Account{Owner: id.Sender()}.Encode(), 1_000_000); err != nil {
		t.Fatal(err)
	}
	now := uint64(time.Now().UnixNano())
	var res candidTransferResult
	if err := a.Call(LedgerID(), "icrc1_transfer", []any{candidTransferArg{To: candidAccount{Owner: cmcID}, Amount: nat(2), CreatedAtTime: &now}}, []any{&res}); err != nil || res.Ok == nil {
		t.Fatalf("%v %+v", err, res)
	}
	r := queryBlocks(t, a, 0, 10)
	tip := sha256.Sum256(encodeBlock(&s.ledger.hashes[2], s.ledger.blocks[3]))
	if got := certified(r); !bytes.Equal(got, tip[:]) || r.ChainLength != 4 {
		t.Fatalf("certified %x, want the tip's hash %x", got, tip)
	}
	// The parent hashes the reply carries are the hashes of the blocks.
	for i := 1; i < len(r.Blocks); i++ {
		want := sha256.Sum256(encodeBlock(s.ledger.parentOf(uint64(i-1)), s.ledger.blocks[i-1]))
		if r.Blocks[i].ParentHash == nil || !bytes.Equal(*r.Blocks[i].ParentHash, want[:]) {
			t.Fatalf("block %d: parent hash", i)
		}
	}
	// read_state reads the same certified data.
	paths := [][]hashtree.Label{{hashtree.Label("canister"), LedgerID().Raw, hashtree.Label("certified_data")}}
	cert, err := a.ReadStateCertificate(LedgerID(), paths)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := hashtree.Lookup(cert, paths[0]...); err != nil || !bytes.Equal(got, tip[:]) {
		t.Fatalf("read_state certified_data %x %v", got, err)
	}
	// A call is replicated: no certificate (data_certificate() is None).
	var viaCall queryBlocksReply
	if err := a.Call(LedgerID(), "query_blocks", []any{candidGetBlocksArgs{Start: 0, Length: 1}}, []any{&viaCall}); err != nil || viaCall.Certificate != nil {
		t.Fatalf("replicated query_blocks: %v, certificate %v", err, viaCall.Certificate)
	}
}

// TestBlockTimestampsNeverDecrease: the ledger refuses a block older than
// its tip (ledger_canister_core/src/blockchain.rs add_block); the IC's
// clock never goes back, the simulator's admin clock can, so blocks take
// the tip's time instead.
func TestBlockTimestampsNeverDecrease(t *testing.T) {
	s, _ := startSim(t, Options{})
	mintN(t, s, icrc.Account{Owner: cmcID}, 1)
	s.AdvanceClock(-time.Hour)
	mintN(t, s, icrc.Account{Owner: cmcID}, 1)
	d := s.Ledger()
	if d.Blocks[1].TimestampNanos < d.Blocks[0].TimestampNanos {
		t.Fatalf("block 1 at %d before block 0 at %d", d.Blocks[1].TimestampNanos, d.Blocks[0].TimestampNanos)
	}
}
