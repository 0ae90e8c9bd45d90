package reconcile

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	rules "github.com/nodeshare/nodeshare/pipeline/payout"
	"github.com/nodeshare/nodeshare/schemas"
)

const (
	source = "1111111111111111111111111111111111111111111111111111111111111111"
	bob    = "bob-icrc1-text"
)

// alice is known by her account identifier (paid with the legacy
// transfer), bob by ICRC-1 text whose account identifier is bobID.
var alice, bobID = accountID("2vxsx-fae"), accountID("aaaaa-aa")

func accountID(owner string) string {
	a, err := schemas.AccountOf(owner, [32]byte{})
	if err != nil {
		panic(err)
	}
	return a.ID
}

func recipientID(r string) (string, error) {
	switch r {
	case bob:
		return bobID, nil
	case alice:
		return alice, nil
	}
	return "", fmt.Errorf("unknown recipient %q", r)
}

// world is a paid manifest of two intents: alice by the legacy transfer,
// bob by icrc1_transfer, each in its own block.
func world() Input {
	a := schemas.PayoutIntent{IntentID: strings.Repeat("0a", 32), DAO: "d", Period: "p", PoolID: "pool", Recipient: alice, Role: "sponsor",
		AmountE8s: 1_000_000, FeeE8s: 10_000, MemoHex: strings.Repeat("0a", 32)}
	b := schemas.PayoutIntent{IntentID: strings.Repeat("0b", 32), DAO: "d", Period: "p", PoolID: "pool", Recipient: bob, Role: "hoster",
		AmountE8s: 2_000_000, FeeE8s: 10_000, MemoHex: strings.Repeat("0b", 32)}
	memoA, _ := hexBytes(a.MemoHex)
	memoB := b.MemoHex
	blocks := []schemas.LedgerBlock{
		{Index: 7, Op: "mint", To: source, AmountE8s: 10_000_000},
		{Index: 8, Op: "transfer", From: source, To: alice, AmountE8s: 1_000_000, FeeE8s: 10_000, LegacyMemo: rules.LegacyMemo(memoA)},
		{Index: 9, Op: "transfer", From: source, To: bobID, AmountE8s: 2_000_000, FeeE8s: 10_000, MemoHex: &memoB},
	}
	return Input{DAO: "d", Period: "p", Source: source, Intents: []schemas.PayoutIntent{a, b},
		Results: map[string]schemas.PayoutResult{a.IntentID: {IntentID: a.IntentID, Status: schemas.PayoutPaid, BlockIndex: 8},
			b.IntentID: {IntentID: b.IntentID, Status: schemas.PayoutPaid, BlockIndex: 9}},
		Owed:   map[string]Owed{a.IntentID: {alice, 1_000_000, 10_000}, b.IntentID: {bob, 2_000_000, 10_000}},
		Blocks: blocks, Known: map[string]bool{IntentMemoKey(a): true, IntentMemoKey(b): true},
		Balance: &Balance{LedgerE8s: 10_000_000 - 3_020_000, BlocksE8s: 10_000_000 - 3_020_000}}
}

func hexBytes(s string) ([]byte, error) { return hex.DecodeString(s) }

func kinds(r Result) string {
	var ks []string
	for _, d := range r.Differences {
		ks = append(ks, string(d.Kind))
	}
	return strings.Join(ks, ",")
}

func TestReconcileEachDifference(t *testing.T) {
	if r := Reconcile(world(), recipientID); r.State != Reconciled || r.Matched != 2 || len(r.Differences) != 0 {
		t.Fatalf("the clean world: %+v", r)
	}
	cases := []struct {
		name  string
		edit  func(*Input)
		kinds string
		state State
	}{
		{"a transfer sent outside nodeshare", func(in *Input) {
			in.Blocks = append(in.Blocks, schemas.LedgerBlock{Index: 10, Op: "transfer", From: source, To: bobID, AmountE8s: 5, FeeE8s: 10_000})
		}, "outside_transfer", Unreconciled},
		{"recorded as paid, no block", func(in *Input) { in.Blocks = in.Blocks[:2] }, "missing_transfer", Unreconciled},
		{"not sent yet", func(in *Input) {
			in.Blocks = in.Blocks[:2]
			delete(in.Results, strings.Repeat("0b", 32))
		}, "", PartiallyReconciled},
		{"paid, its block not read back yet", func(in *Input) {
			in.Blocks = in.Blocks[:2]
			in.ReadTo = 9
		}, "", PartiallyReconciled},
		{"owed but never planned", func(in *Input) {
			in.Owed["cc"] = Owed{bob, 7, 10_000}
		}, "missing_transfer", Unreconciled},
		{"the block pays another amount", func(in *Input) { in.Blocks[2].AmountE8s++ }, "amount_differs", Unreconciled},
		{"the intent pays other than owed", func(in *Input) { in.Intents[0].AmountE8s--; in.Blocks[1].AmountE8s-- }, "amount_differs", Unreconciled},
		{"an unexpected fee", func(in *Input) { in.Blocks[1].FeeE8s = 20_000 }, "fee_differs", Unreconciled},
		{"paid twice", func(in *Input) {
			dup := in.Blocks[2]
			dup.Index = 11
			in.Blocks = append(in.Blocks, dup)
		}, "paid_twice", Unreconciled},
		{"the balance does not add up", func(in *Input) { in.Balance.LedgerE8s++ }, "balance_drift", Unreconciled},
		{"the result names another block", func(in *Input) {
			r := in.Results[strings.Repeat("0a", 32)]
			r.BlockIndex = 9
			in.Results[strings.Repeat("0a", 32)] = r
		}, "missing_transfer", Unreconciled},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := world()
			c.edit(&in)
			r := Reconcile(in, recipientID)
			if kinds(r) != c.kinds || r.State != c.state {
				t.Fatalf("kinds %q state %s, want %q %s: %+v", kinds(r), r.State, c.kinds, c.state, r.Differences)
			}
		})
	}
}

func TestAccountBalance(t *testing.T) {
	in := world()
	got, err := AccountBalance(source, in.Blocks)
	if err != nil || got != 10_000_000-3_020_000 {
		t.Fatalf("%d %v", got, err)
	}
	if _, err := AccountBalance(source, in.Blocks[1:]); err == nil || !strings.Contains(err.Error(), "blocks are missing") {
		t.Fatalf("want an error for an account that spends more than it got: %v", err)
	}
}
