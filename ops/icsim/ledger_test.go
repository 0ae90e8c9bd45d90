package icsim

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aviate-labs/agent-go/candid/idl"
	"github.com/aviate-labs/agent-go/identity"
	"github.com/aviate-labs/agent-go/principal"
	"github.com/aviate-labs/agent-go/principal/icrc"
)

// ledgerAt builds a ledger funded with one mint to caller's default account.
func ledgerAt(t *testing.T, caller principal.Principal, amount, now uint64) *ledger {
	t.Helper()
	l := newLedger(ArchiveOptions{})
	if err := l.apply(l.mintBlock(icrc.Account{Owner: caller}, amount, now, nil)); err != nil {
		t.Fatal(err)
	}
	return l
}

// testCaller holds tokens; the ledger refuses the anonymous principal.
var testCaller = nnsCanisterID(77)

func TestTransferChecks(t *testing.T) {
	caller := testCaller
	to := candidAccount{Owner: cmcID}
	now := uint64(2_000_000_000) * uint64(time.Second)
	window := uint64(dedupWindow)
	fee := nat(LedgerFeeE8s)
	zero := nat(0)
	bad := nat(9_999)
	at := func(v uint64) *uint64 { return &v }
	memo := func(n int) *[]byte { b := bytes.Repeat([]byte{1}, n); return &b }
	cases := []struct {
		name string
		arg  candidTransferArg
		want string // "ok", "trap", or the TransferError arm
	}{
		{"ok no created_at", candidTransferArg{To: to, Amount: nat(1)}, "ok"},
		{"ok explicit fee", candidTransferArg{To: to, Amount: nat(1), Fee: &fee}, "ok"},
		{"memo 32 ok", candidTransferArg{To: to, Amount: nat(1), Memo: memo(32)}, "ok"},
		{"memo 33 traps", candidTransferArg{To: to, Amount: nat(1), Memo: memo(33)}, "trap"},
		{"memo checked before fee", candidTransferArg{To: to, Amount: nat(1), Memo: memo(33), Fee: &bad}, "trap"},
		{"bad fee", candidTransferArg{To: to, Amount: nat(1), Fee: &bad}, "BadFee"},
		{"zero fee is bad", candidTransferArg{To: to, Amount: nat(1), Fee: &zero}, "BadFee"},
		{"bad fee before too old", candidTransferArg{To: to, Amount: nat(1), Fee: &bad, CreatedAtTime: at(0)}, "BadFee"},
		{"exactly 24h old accepted", candidTransferArg{To: to, Amount: nat(1), CreatedAtTime: at(now - window)}, "ok"},
		{"24h + 1ns too old", candidTransferArg{To: to, Amount: nat(1), CreatedAtTime: at(now - window - 1)}, "TooOld"},
		{"60s drift accepted", candidTransferArg{To: to, Amount: nat(1), CreatedAtTime: at(now + uint64(permittedDrift))}, "ok"},
		{"60s + 1ns in future", candidTransferArg{To: to, Amount: nat(1), CreatedAtTime: at(now + uint64(permittedDrift) + 1)}, "CreatedInFuture"},
		{"insufficient", candidTransferArg{To: to, Amount: nat(100_000)}, "InsufficientFunds"},
		{"too old before insufficient", candidTransferArg{To: to, Amount: nat(100_000), CreatedAtTime: at(1)}, "TooOld"},
		{"burn to minting account", candidTransferArg{To: candidAccount{Owner: governanceID}, Amount: nat(20_000)}, "ok"},
		{"burn with fee is bad", candidTransferArg{To: candidAccount{Owner: governanceID}, Amount: nat(20_000), Fee: &fee}, "BadFee"},
		{"burn below fee", candidTransferArg{To: candidAccount{Owner: governanceID}, Amount: nat(1)}, "BadBurn"},
		{"bad subaccount traps", candidTransferArg{To: candidAccount{Owner: cmcID, Subaccount: memo(31)}, Amount: nat(1)}, "trap"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := ledgerAt(t, caller, 50_000, now)
			b, terr, err := l.transfer(caller, tc.arg, now, false)
			got := "ok"
			switch {
			case err != nil:
				got = "trap"
			case terr != nil:
				got = armName(terr)
			case b == nil:
				t.Fatal("no block and no error")
			}
			if got != tc.want {
				t.Fatalf("got %s (%v), want %s", got, err, tc.want)
			}
		})
	}
}

func armName(e *candidTransferError) string {
	switch {
	case e.BadFee != nil:
		return "BadFee"
	case e.BadBurn != nil:
		return "BadBurn"
	case e.InsufficientFunds != nil:
		return "InsufficientFunds"
	case e.TooOld != nil:
		return "TooOld"
	case e.CreatedInFuture != nil:
		return "CreatedInFuture"
	case e.TemporarilyUnavailable != nil:
		return "TemporarilyUnavailable"
	case e.Duplicate != nil:
		return "Duplicate"
	case e.GenericError != nil:
		return "GenericError"
	}
	return "?"
}

func TestDuplicateDefinition(t *testing.T) {
	caller := testCaller
	now := uint64(2_000_000_000) * uint64(time.Second)
	ts := now - uint64(time.Hour)
	fee := nat(LedgerFeeE8s)
	zeroSub := make([]byte, 32)
	empty := []byte{}
	base := candidTransferArg{To: candidAccount{Owner: cmcID}, Amount: nat(10), CreatedAtTime: &ts}
	l := ledgerAt(t, caller, 1_000_000, now)
	b, terr, err := l.transfer(caller, base, now, false)
	if err != nil || terr != nil {
		t.Fatal(err, terr)
	}
	if err := l.apply(*b); err != nil {
		t.Fatal(err)
	}
	dup := func(a candidTransferArg) bool {
		_, terr, err := l.transfer(caller, a, now, false)
		if err != nil {
			t.Fatal(err)
		}
		return terr != nil && terr.Duplicate != nil && terr.Duplicate.DuplicateOf.BigInt().Uint64() == b.Index
	}
	withFee := base
	withFee.Fee = &fee
	zeroTo := base
	zeroTo.To.Subaccount = &zeroSub
	zeroFrom := base
	zeroFrom.FromSubaccount = &zeroSub
	emptyMemo := base
	emptyMemo.Memo = &empty
	otherAmount := base
	otherAmount.Amount = nat(11)
	if !dup(base) || !dup(withFee) || !dup(zeroTo) || !dup(zeroFrom) {
		t.Fatal("same recorded transaction must be a duplicate (fee omitted == fee 10000, None == zero subaccount)")
	}
	if dup(emptyMemo) || dup(otherAmount) {
		t.Fatal("an empty memo or another amount is a different transaction")
	}
	// Other caller, same args: not a duplicate.
	other := ledgerID
	if err := l.apply(l.mintBlock(icrc.Account{Owner: other}, 1_000_000, now, nil)); err != nil {
		t.Fatal(err)
	}
	if _, terr, _ := l.transfer(other, base, now, false); terr != nil && terr.Duplicate != nil {
		t.Fatal("another caller's transaction is not a duplicate")
	}
}

func TestMemoTooLargeTrapsThroughAgent(t *testing.T) {
	s, hs := startSim(t, Options{})
	id, _ := identity.NewRandomEd25519Identity()
	a := newAgent(t, hs, id)
	if _, err := s.Mint(icrc.Account{Owner: id.Sender()}.Encode(), 1_000_000); err != nil {
		t.Fatal(err)
	}
	m := bytes.Repeat([]byte{1}, 33)
	var res candidTransferResult
	err := a.Call(LedgerID(), "icrc1_transfer", []any{candidTransferArg{To: candidAccount{Owner: cmcID}, Amount: nat(1), Memo: &m}}, []any{&res})
	if err == nil || !strings.Contains(err.Error(), "memo field is too large") {
		t.Fatalf("want trap, got %v", err)
	}
	if d := s.Ledger(); d.ChainLen != 1 {
		t.Fatalf("a trapped call recorded a block: %d blocks", d.ChainLen)
	}
}

func TestStateSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	s1, hs1 := startSim(t, Options{StatePath: path})
	id, _ := identity.NewRandomEd25519Identity()
	if _, err := s1.Mint(icrc.Account{Owner: id.Sender()}.Encode(), 1_000_000); err != nil {
		t.Fatal(err)
	}
	now := uint64(time.Now().UnixNano())
	arg := candidTransferArg{To: candidAccount{Owner: cmcID}, Amount: nat(1000), CreatedAtTime: &now}
	var res candidTransferResult
	if err := newAgent(t, hs1, id).Call(LedgerID(), "icrc1_transfer", []any{arg}, []any{&res}); err != nil || res.Ok == nil {
		t.Fatalf("%v %+v", err, res)
	}
	root := s1.RootKeyDER()
	before := s1.Ledger()
	hs1.Close()

	s2, hs2 := startSim(t, Options{StatePath: path})
	if !bytes.Equal(root, s2.RootKeyDER()) {
		t.Fatal("root key changed across restart")
	}
	after := s2.Ledger()
	if after.ChainLen != before.ChainLen || after.TotalE8s != before.TotalE8s {
		t.Fatalf("ledger changed: %+v vs %+v", before, after)
	}
	a2 := newAgent(t, hs2, id)
	if !bytes.Equal(a2.GetRootKey(), root) {
		t.Fatal("agent fetched another root key")
	}
	res = candidTransferResult{}
	if err := a2.Call(LedgerID(), "icrc1_transfer", []any{arg}, []any{&res}); err != nil {
		t.Fatal(err)
	}
	if res.Err == nil || res.Err.Duplicate == nil {
		t.Fatalf("de-duplication lost across restart: %+v", res)
	}
	var bal idl.Nat
	if err := a2.Query(LedgerID(), "icrc1_balance_of", []any{candidAccount{Owner: id.Sender()}}, []any{&bal}); err != nil {
		t.Fatal(err)
	}
	if bal.BigInt().Uint64() != 1_000_000-1000-LedgerFeeE8s {
		t.Fatalf("balance %s", bal.BigInt())
	}
}

func TestSendersAndEnvelopeChecks(t *testing.T) {
	_, hs := startSim(t, Options{})
	ed, _ := identity.NewRandomEd25519Identity()
	k1, err := identity.NewRandomSecp256k1Identity()
	if err != nil {
		t.Fatal(err)
	}
	p256, err := identity.NewRandomPrime256v1Identity()
	if err != nil {
		t.Fatal(err)
	}
	for name, id := range map[string]identity.Identity{"anonymous": new(identity.AnonymousIdentity), "ed25519": ed, "secp256k1": k1, "p256": p256} {
		t.Run(name, func(t *testing.T) {
			a := newAgent(t, hs, id)
			var fee idl.Nat
			if err := a.Query(LedgerID(), "icrc1_fee", []any{}, []any{&fee}); err != nil {
				t.Fatal(err)
			}
			// An update exercises the same checks on the call path.
			var res candidTransferResult
			err := a.Call(LedgerID(), "icrc1_transfer", []any{candidTransferArg{To: candidAccount{Owner: cmcID}, Amount: nat(1)}}, []any{&res})
			if name == "anonymous" {
				// rs/ledger_suite/icp/ledger/src/main.rs icrc1_transfer: can_send.
				if err == nil || !strings.Contains(err.Error(), "Anonymous principal cannot hold tokens") {
					t.Fatalf("anonymous transfer: %v %+v", err, res)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Err == nil || res.Err.InsufficientFunds == nil {
				t.Fatalf("%+v", res)
			}
		})
	}
	t.Run("bad signature", func(t *testing.T) {
		a := newAgent(t, hs, badSigner{ed})
		var fee idl.Nat
		err := a.Query(LedgerID(), "icrc1_fee", []any{}, []any{&fee})
		if err == nil || !strings.Contains(err.Error(), "invalid sender signature") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("expired", func(t *testing.T) {
		// The replica clock runs 10 min ahead: the agent's expiry is in its past.
		_, hs := startSim(t, Options{Now: func() time.Time { return time.Now().Add(10 * time.Minute) }})
		a := newAgent(t, hs, ed)
		var fee idl.Nat
		err := a.Query(LedgerID(), "icrc1_fee", []any{}, []any{&fee})
		if err == nil || !strings.Contains(err.Error(), "in the past") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("update method as query", func(t *testing.T) {
		a := newAgent(t, hs, ed)
		var res candidTransferResult
		err := a.Query(LedgerID(), "icrc1_transfer", []any{candidTransferArg{To: candidAccount{Owner: cmcID}, Amount: nat(1)}}, []any{&res})
		if err == nil || !strings.Contains(err.Error(), "no query method") {
			t.Fatalf("got %v", err)
		}
	})
}

type badSigner struct{ identity.Identity }

func (b badSigner) Sign(msg []byte) ([]byte, error) {
	sig, err := b.Identity.Sign(msg)
	if err == nil {
		sig[0] ^= 0xff
	}
	return sig, err
}
