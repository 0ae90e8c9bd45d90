package icsim

import (
	"strings"
	"testing"
	"time"

	"github.com/aviate-labs/agent-go/identity"
	"github.com/aviate-labs/agent-go/principal/icrc"
)

// TestLegacyTransferThroughAgent sends the ledger's own transfer
// (rs/ledger_suite/icp/ledger.did transfer : (TransferArgs) ->
// (TransferResult)) from a secp256k1 identity and reads account_balance.
func TestLegacyTransferThroughAgent(t *testing.T) {
	s, hs := startSim(t, Options{})
	id, err := identity.NewRandomSecp256k1Identity()
	if err != nil {
		t.Fatal(err)
	}
	a := newAgent(t, hs, id)
	if _, err := s.Mint(icrc.Account{Owner: id.Sender()}.Encode(), 1_000_000); err != nil {
		t.Fatal(err)
	}
	to := mustHex(accountID(icrc.Account{Owner: cmcID}))
	created := uint64(time.Now().UnixNano())
	arg := candidLegacyTransferArgs{Memo: 99, Amount: candidTokens{5_000}, Fee: candidTokens{LedgerFeeE8s}, To: to, CreatedAtTime: &candidTimeStamp{created}}
	var res candidLegacyTransferResult
	if err := a.Call(LedgerID(), "transfer", []any{arg}, []any{&res}); err != nil || res.Ok == nil || *res.Ok != 1 {
		t.Fatalf("transfer: %v %+v", err, res)
	}
	res = candidLegacyTransferResult{}
	if err := a.Call(LedgerID(), "transfer", []any{arg}, []any{&res}); err != nil || res.Err == nil || res.Err.TxDuplicate == nil || res.Err.TxDuplicate.DuplicateOf != 1 {
		t.Fatalf("resend: %v %+v", err, res)
	}
	var bal candidTokens
	if err := a.Query(LedgerID(), "account_balance", []any{candidAccountBalanceArgs{Account: to}}, []any{&bal}); err != nil || bal.E8s != 5_000 {
		t.Fatalf("account_balance %+v %v", bal, err)
	}
	if err := a.Query(LedgerID(), "account_balance", []any{candidAccountBalanceArgs{Account: to[:31]}}, []any{&bal}); err != nil || bal.E8s != 0 {
		t.Fatalf("account_balance of 31 bytes is zero tokens: %+v %v", bal, err)
	}
	bad := append([]byte{}, to...)
	bad[0] ^= 1
	if err := a.Query(LedgerID(), "account_balance", []any{candidAccountBalanceArgs{Account: bad}}, []any{&bal}); err == nil || !strings.Contains(err.Error(), "Invalid account identifier") {
		t.Fatalf("account_balance with a bad checksum: %v", err)
	}
	var fee candidTransferFee
	if err := a.Query(LedgerID(), "transfer_fee", []any{struct{}{}}, []any{&fee}); err != nil || fee.TransferFee.E8s != LedgerFeeE8s {
		t.Fatalf("transfer_fee %+v %v", fee, err)
	}
	b := s.Ledger().Blocks[1]
	if b.LegacyMemo != 99 || b.MemoHex != nil || b.ToAccount != "" || *b.CreatedAtNanos != created {
		t.Fatalf("legacy block %+v", b)
	}
}
