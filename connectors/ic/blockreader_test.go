package ic_test

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/ops/icsim"
)

func startSimWith(t *testing.T, opts icsim.Options) (*icsim.Server, *httptest.Server) {
	t.Helper()
	s, err := icsim.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(hs.Close)
	return s, hs
}

// archivedLedger is a simulator whose ledger keeps at most 9 blocks and
// whose archive canisters hold 10 blocks each, with 40 blocks: a mint, then
// 39 transfers with memos.
func archivedLedger(t *testing.T) (*icsim.Server, *httptest.Server, *ic.Client) {
	t.Helper()
	s, hs := startSimWith(t, icsim.Options{CallMode: icsim.CallModeSync,
		Archive: icsim.ArchiveOptions{TriggerThreshold: 10, NumBlocksToArchive: 4, NodeMaxBlocks: 10}})
	c := funded(t, s, hs, 1_000_000_000)
	ctx := context.Background()
	now := uint64(time.Now().UnixNano())
	for i := range 39 {
		if _, err := c.Transfer(ctx, ic.TransferRequest{To: dest(t), AmountE8s: uint64(1000 + i), Memo: []byte{byte(i)}, CreatedAtNanos: now + uint64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	return s, hs, c
}

func TestReadBlocksFollowsArchivesAndVerifies(t *testing.T) {
	ctx := context.Background()
	s, _, c := archivedLedger(t)
	d := s.Ledger()
	if d.ChainLen != 40 || d.ArchivedBlocks < 30 || len(d.Archives) < 3 {
		t.Fatalf("setup: chain %d, archived %d in %d archives", d.ChainLen, d.ArchivedBlocks, len(d.Archives))
	}
	// QueryBlocks alone stops at the archive.
	if _, err := c.QueryBlocks(ctx, 0, 10); !errors.Is(err, ic.ErrArchived) {
		t.Fatalf("QueryBlocks(0, 10): %v", err)
	}
	vb, err := c.ReadBlocks(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(vb.Blocks) != 40 || !vb.IndicesCertified || vb.Tip.ChainLength != 40 || vb.Tip.CertTimeNanos == 0 {
		t.Fatalf("read %d blocks, indices certified %v, tip %+v", len(vb.Blocks), vb.IndicesCertified, vb.Tip)
	}
	if vb.Tip.Hash == ([32]byte{}) {
		t.Fatalf("tip hash %x", vb.Tip.Hash)
	}
	for i, b := range vb.Blocks {
		if b.Index != uint64(i) {
			t.Fatalf("block %d has index %d", i, b.Index)
		}
		if i == 0 {
			if b.Op != ic.OpMint || b.ParentHash != nil {
				t.Fatalf("block 0: %+v", b)
			}
			continue
		}
		if b.Op != ic.OpTransfer || b.AmountE8s != uint64(1000+i-1) || !bytes.Equal(b.Memo, []byte{byte(i - 1)}) || b.To != ic.LegacyAccountID(dest(t)) {
			t.Fatalf("block %d: %+v", i, b)
		}
	}
	// A window in the middle, reaching from an archive into the ledger:
	// indices come from the replica (no block 0), content is proven.
	vb, err = c.ReadBlocks(ctx, 25, 35)
	if err != nil {
		t.Fatal(err)
	}
	if len(vb.Blocks) != 10 || vb.Blocks[0].Index != 25 || vb.IndicesCertified || vb.Blocks[0].AmountE8s != 1000+24 {
		t.Fatalf("window: %d blocks from %d, indices certified %v", len(vb.Blocks), vb.Blocks[0].Index, vb.IndicesCertified)
	}
	// At and past the tip: nothing to read, the tip still certified.
	vb, err = c.ReadBlocks(ctx, 40, 50)
	if err != nil || len(vb.Blocks) != 0 || vb.Tip.ChainLength != 40 {
		t.Fatalf("at the tip: %+v %v", vb, err)
	}
}

// TestReadBlocksRejectsLies: a replica's forged block, forged certificate
// or hole is refused, whichever page or archive carries it. The faults sit
// in the simulator before the node signs its answer, as on a malicious
// node: agent-go's query signature check passes, so only the chain does
// not.
func TestReadBlocksRejectsLies(t *testing.T) {
	ctx := context.Background()
	s, _, c := archivedLedger(t)
	for _, tc := range []struct {
		name   string
		faults icsim.Faults
		start  uint64
		want   error
	}{
		{"forged block in an archive", icsim.Faults{ForgeArchivedBlockNext: 1}, 0, ic.ErrBrokenChain},
		{"forged block in the ledger", icsim.Faults{ForgeBlockNext: 1}, 36, ic.ErrBrokenChain},
		{"forged certificate", icsim.Faults{ForgeCertificateNext: 1}, 0, ic.ErrUnverified},
		{"forged certificate, ledger only", icsim.Faults{ForgeCertificateNext: 1}, 38, ic.ErrUnverified},
		{"gap", icsim.Faults{BlockGapNext: 1}, 36, ic.ErrBlockGap},
		{"gap after archives", icsim.Faults{BlockGapNext: 1}, 0, ic.ErrBlockGap},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.SetFaults(tc.faults)
			_, err := c.ReadBlocks(ctx, tc.start, 100)
			if !errors.Is(err, tc.want) || ic.IsTransient(err) {
				t.Fatalf("want %v, got %v", tc.want, err)
			}
			t.Logf("refused: %v", err)
			s.SetFaults(icsim.Faults{})
			if _, err := c.ReadBlocks(ctx, tc.start, 100); err != nil {
				t.Fatalf("the honest answer afterwards: %v", err)
			}
		})
	}
}

// TestReadBlocksEmptyChain: an empty ledger certifies 32 zero bytes.
func TestReadBlocksEmptyChain(t *testing.T) {
	_, hs := startSim(t, icsim.CallModeSync)
	c := newClient(t, hs.URL, nil)
	vb, err := c.ReadBlocks(context.Background(), 0, 10)
	if err != nil || len(vb.Blocks) != 0 || vb.Tip.ChainLength != 0 || vb.Tip.Hash != ([32]byte{}) {
		t.Fatalf("%+v %v", vb, err)
	}
}
