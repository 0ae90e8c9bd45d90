package icsim

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/aviate-labs/agent-go/candid"
	"github.com/aviate-labs/agent-go/candid/idl"
	"github.com/aviate-labs/agent-go/identity"
	"github.com/aviate-labs/agent-go/principal/icrc"
)

func TestQueryBlocks(t *testing.T) {
	s, hs := startSim(t, Options{})
	id, _ := identity.NewRandomEd25519Identity()
	a := newAgent(t, hs, id)
	if _, err := s.Mint(icrc.Account{Owner: id.Sender()}.Encode(), 1_000_000); err != nil {
		t.Fatal(err)
	}
	now := uint64(time.Now().UnixNano())
	memo := []byte("payout-7")
	var res candidTransferResult
	if err := a.Call(LedgerID(), "icrc1_transfer", []any{candidTransferArg{To: candidAccount{Owner: cmcID}, Amount: nat(1234), Memo: &memo, CreatedAtTime: &now}}, []any{&res}); err != nil || res.Ok == nil {
		t.Fatalf("%v %+v", err, res)
	}
	raw, err := a.QueryRaw(LedgerID(), "query_blocks", mustCandid(t, candidGetBlocksArgs{Start: 0, Length: 10}))
	if err != nil {
		t.Fatal(err)
	}
	types, _, err := candid.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	if txt := types[0].String(); !strings.Contains(txt, idl.Hash("archived_blocks").String()+":vec record") || !strings.Contains(txt, ") -> (") {
		t.Fatalf("no archived_blocks callback in %s", txt)
	}
	var resp candidQueryBlocksResponse
	if err := candid.Unmarshal(raw, []any{&resp}); err != nil {
		t.Fatal(err)
	}
	if resp.ChainLength != 2 || len(resp.Blocks) != 2 || resp.FirstBlockIndex != 0 {
		t.Fatalf("%+v", resp)
	}
	b := resp.Blocks[1]
	op := b.Transaction.Operation
	if op == nil || op.Transfer == nil || op.Transfer.Amount.E8s != 1234 || op.Transfer.Fee.E8s != LedgerFeeE8s {
		t.Fatalf("%+v", b)
	}
	if b.Transaction.ICRC1Memo == nil || !bytes.Equal(*b.Transaction.ICRC1Memo, memo) || b.Transaction.CreatedAtTime.TimestampNanos != now {
		t.Fatalf("%+v", b.Transaction)
	}
	if b.ParentHash == nil || resp.Blocks[0].ParentHash != nil {
		t.Fatal("parent hash chain")
	}
	if resp.Blocks[0].Transaction.Operation.Mint == nil {
		t.Fatal("block 0 is the mint")
	}
}

func mustCandid(t *testing.T, v ...any) []byte {
	t.Helper()
	b, err := candid.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
