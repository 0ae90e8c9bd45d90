package ic_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/ops/icsim"
)

func TestQueryBlocksMatchesTransfer(t *testing.T) {
	ctx := context.Background()
	s, hs := startSim(t, icsim.CallModeSync)
	c := funded(t, s, hs, 10_000_000)
	to := dest(t)
	created := uint64(time.Now().UnixNano())
	memo := []byte("intent-42")
	idx, err := c.Transfer(ctx, ic.TransferRequest{To: to, AmountE8s: 777, Memo: memo, CreatedAtNanos: created})
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := c.Blocks(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 2 {
		t.Fatalf("%d blocks", len(blocks))
	}
	b := blocks[idx]
	if b.Op != ic.OpTransfer || b.To != ic.LegacyAccountID(to) || b.From != ic.LegacyAccountID(ic.Account{Owner: c.Sender()}) ||
		b.AmountE8s != 777 || b.FeeE8s != 10_000 || !bytes.Equal(b.Memo, memo) || b.CreatedAtNanos != created {
		t.Fatalf("block does not match the transfer: %+v", b)
	}
	if blocks[0].Op != ic.OpMint || blocks[0].To != ic.LegacyAccountID(ic.Account{Owner: c.Sender()}) {
		t.Fatalf("block 0: %+v", blocks[0])
	}
	page, err := c.QueryBlocks(ctx, 5, 10)
	if err != nil || len(page.Blocks) != 0 || page.ChainLength != 2 {
		t.Fatalf("past the end: %+v %v", page, err)
	}
}

func TestAccountHelpers(t *testing.T) {
	a, err := ic.AccountFromText("rrkah-fqaaa-aaaaa-aaaaq-cai-j2dm4ya.1")
	if err != nil || a.SubAccount == nil || a.SubAccount[31] != 1 || ic.AccountText(a) != "rrkah-fqaaa-aaaaa-aaaaq-cai-j2dm4ya.1" {
		t.Fatalf("%v %v", a, err)
	}
	gov, _ := ic.AccountFromText("rrkah-fqaaa-aaaaa-aaaaq-cai")
	if got := ic.LegacyAccountID(gov).String(); got != "082ecf2e3f647ac600f43f38a68342fba5b8e68b085f02592b77f39808a8d2b5" {
		t.Fatalf("governance account id %s", got)
	}
	anon, _ := ic.AccountFromText("2vxsx-fae")
	if got := ic.LegacyAccountID(anon).String(); got != "1c7a48ba6a562aa9eaa2481a9049cdf0433b9738c992d698c31d8abf89cadc79" {
		t.Fatalf("anonymous account id %s", got)
	}
	id, err := ic.ParseAccountIdentifier("1c7a48ba6a562aa9eaa2481a9049cdf0433b9738c992d698c31d8abf89cadc79")
	if err != nil || id != ic.LegacyAccountID(anon) {
		t.Fatal(err)
	}
	if n, err := ic.NormalizeAccountIdentifier(id[4:]); err != nil || n != id {
		t.Fatalf("28-byte form: %v", err)
	}
	for _, bad := range []string{"", "nope", "rrkah-fqaaa-aaaaa-aaaaq-cai-aaaaaaa.1", "rrkah-fqaaa-aaaaa-aaaaq-cai-j2dm4ya.01", ".", "-.", "a.b"} {
		if _, err := ic.AccountFromText(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	if _, err := ic.ParseAccountIdentifier("0c7a48ba6a562aa9eaa2481a9049cdf0433b9738c992d698c31d8abf89cadc79"); err == nil {
		t.Error("bad CRC accepted")
	}
}
