package icsim

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/aviate-labs/agent-go/candid/idl"
	"github.com/aviate-labs/agent-go/principal"
	"github.com/aviate-labs/agent-go/principal/icrc"
)

// Each test here follows a named piece of dfinity/ic; the comment above a
// case names the file and function it reproduces.

const fidelityNow = uint64(2_000_000_000) * uint64(time.Second)

type outcome struct {
	kind string // "ok", "trap" or the error arm
	data uint64 // the arm's number (expected_fee, min_burn_amount, balance, duplicate_of)
}

func icrcOutcome(b *Block, terr *candidTransferError, err error) outcome {
	switch {
	case err != nil:
		return outcome{kind: "trap"}
	case terr == nil && b != nil:
		return outcome{kind: "ok"}
	case terr == nil:
		return outcome{kind: "none"}
	}
	u := func(n idl.Nat) uint64 { v, _ := natU64(n); return v }
	switch {
	case terr.BadFee != nil:
		return outcome{"BadFee", u(terr.BadFee.ExpectedFee)}
	case terr.BadBurn != nil:
		return outcome{"BadBurn", u(terr.BadBurn.MinBurnAmount)}
	case terr.InsufficientFunds != nil:
		return outcome{"InsufficientFunds", u(terr.InsufficientFunds.Balance)}
	case terr.Duplicate != nil:
		return outcome{"Duplicate", u(terr.Duplicate.DuplicateOf)}
	case terr.CreatedInFuture != nil:
		return outcome{"CreatedInFuture", terr.CreatedInFuture.LedgerTime}
	}
	return outcome{kind: armName(terr)}
}

// TestICRC1AmountBeyond64Bits: rs/ledger_suite/icp/ledger/src/main.rs
// icrc1_send_not_async converts the nat amount with to_u64() and answers
// None with Err(InsufficientFunds{balance}) ("No one can have so many
// tokens"), after the memo check and before any fee or minting-account
// check. It is not a trap.
func TestICRC1AmountBeyond64Bits(t *testing.T) {
	huge := idl.NewBigNat(new(big.Int).Lsh(big.NewInt(1), 64))
	badFee := nat(1)
	long := bytes.Repeat([]byte{1}, 33)
	l := ledgerAt(t, testCaller, 50_000, fidelityNow)
	for _, tc := range []struct {
		name string
		arg  candidTransferArg
		want outcome
	}{
		{"2^64 e8s", candidTransferArg{To: candidAccount{Owner: cmcID}, Amount: huge}, outcome{"InsufficientFunds", 50_000}},
		// The amount is converted before the fee is compared.
		{"2^64 e8s with a bad fee", candidTransferArg{To: candidAccount{Owner: cmcID}, Amount: huge, Fee: &badFee}, outcome{"InsufficientFunds", 50_000}},
		// ... and before the minting-account branches.
		{"2^64 e8s burnt", candidTransferArg{To: candidAccount{Owner: governanceID}, Amount: huge}, outcome{"InsufficientFunds", 50_000}},
		// The memo is checked first: a long memo traps whatever the amount.
		{"2^64 e8s with a 33-byte memo", candidTransferArg{To: candidAccount{Owner: cmcID}, Amount: huge, Memo: &long}, outcome{kind: "trap"}},
		{"u64::MAX e8s", candidTransferArg{To: candidAccount{Owner: cmcID}, Amount: nat(^uint64(0))}, outcome{"InsufficientFunds", 50_000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := icrcOutcome(l.transfer(testCaller, tc.arg, fidelityNow, false)); got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestICRC1Burns: main.rs icrc1_send_not_async, branch to == minting_acc:
// a fee other than absent or 0 is BadFee{expected_fee: 0}; the minimum burn
// is min(transfer_fee, balance) (BadBurn{min_burn_amount} below it); a burn
// of 0 is BadBurn{min_burn_amount: transfer_fee}; the burn itself takes no
// fee, and debiting it is ledger_core/src/balances.rs burn
// (InsufficientFunds).
func TestICRC1Burns(t *testing.T) {
	zero, fee := nat(0), nat(LedgerFeeE8s)
	burn := func(amount uint64, f *idl.Nat) candidTransferArg {
		return candidTransferArg{To: candidAccount{Owner: governanceID}, Amount: nat(amount), Fee: f}
	}
	for _, tc := range []struct {
		name    string
		balance uint64
		arg     candidTransferArg
		want    outcome
	}{
		{"burn at the fee", 50_000, burn(10_000, nil), outcome{kind: "ok"}},
		{"burn with fee 0", 50_000, burn(10_000, &zero), outcome{kind: "ok"}},
		{"burn with the transfer fee", 50_000, burn(10_000, &fee), outcome{"BadFee", 0}},
		{"burn below the fee", 50_000, burn(9_999, nil), outcome{"BadBurn", 10_000}},
		// A balance below the fee may be burnt whole: min_burn_amount = balance.
		{"burn a small balance whole", 5_000, burn(5_000, nil), outcome{kind: "ok"}},
		{"burn below a small balance", 5_000, burn(4_999, nil), outcome{"BadBurn", 5_000}},
		// min(fee, balance) is checked before zero: 0 < 5000.
		{"burn zero", 5_000, burn(0, nil), outcome{"BadBurn", 5_000}},
		{"burn zero from an empty account", 0, burn(0, nil), outcome{"BadBurn", 10_000}},
		{"burn from an empty account", 0, burn(1, nil), outcome{"InsufficientFunds", 0}},
		{"burn more than the balance", 50_000, burn(50_001, nil), outcome{"InsufficientFunds", 50_000}},
		// The whole balance burns: no fee is added to the debit.
		{"burn the whole balance", 50_000, burn(50_000, nil), outcome{kind: "ok"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLedger(ArchiveOptions{})
			if tc.balance > 0 {
				if err := l.apply(l.mintBlock(icrc.Account{Owner: testCaller}, tc.balance, fidelityNow, nil)); err != nil {
					t.Fatal(err)
				}
			}
			b, terr, err := l.transfer(testCaller, tc.arg, fidelityNow, false)
			if got := icrcOutcome(b, terr, err); got != tc.want {
				t.Fatalf("got %+v (%v), want %+v", got, err, tc.want)
			}
			if b != nil {
				if b.Op != OpBurn || b.FeeE8s != 0 || b.To != "" {
					t.Fatalf("a burn is recorded as Burn without fee: %+v", b)
				}
				if err := l.apply(*b); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestICRC1MintingAccountOrder: main.rs icrc1_send_not_async tests
// to == minting_acc (burn) before from == minting_acc (mint), so a transfer
// from the minting account to itself is a burn from an account that holds
// nothing; a mint takes no fee (BadFee{0} for any other); and
// icrc1_transfer refuses the anonymous caller (can_send) with a trap.
func TestICRC1MintingAccountOrder(t *testing.T) {
	zero, fee := nat(0), nat(LedgerFeeE8s)
	l := ledgerAt(t, testCaller, 50_000, fidelityNow)
	gov := governanceID
	for _, tc := range []struct {
		name   string
		caller principal.Principal
		arg    candidTransferArg
		want   outcome
		op     string
	}{
		{"mint", gov, candidTransferArg{To: candidAccount{Owner: cmcID}, Amount: nat(5)}, outcome{kind: "ok"}, OpMint},
		{"mint with fee 0", gov, candidTransferArg{To: candidAccount{Owner: cmcID}, Amount: nat(5), Fee: &zero}, outcome{kind: "ok"}, OpMint},
		{"mint with the transfer fee", gov, candidTransferArg{To: candidAccount{Owner: cmcID}, Amount: nat(5), Fee: &fee}, outcome{"BadFee", 0}, ""},
		{"minting account to itself is a burn", gov, candidTransferArg{To: candidAccount{Owner: gov}, Amount: nat(5)}, outcome{"InsufficientFunds", 0}, ""},
		{"minting account to itself, zero", gov, candidTransferArg{To: candidAccount{Owner: gov}, Amount: nat(0)}, outcome{"BadBurn", LedgerFeeE8s}, ""},
		{"minting account to itself with a fee", gov, candidTransferArg{To: candidAccount{Owner: gov}, Amount: nat(5), Fee: &fee}, outcome{"BadFee", 0}, ""},
		{"anonymous caller traps", principal.AnonymousID, candidTransferArg{To: candidAccount{Owner: cmcID}, Amount: nat(5)}, outcome{kind: "trap"}, ""},
		{"transfer", testCaller, candidTransferArg{To: candidAccount{Owner: cmcID}, Amount: nat(5)}, outcome{kind: "ok"}, OpTransfer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, terr, err := l.transfer(tc.caller, tc.arg, fidelityNow, false)
			if got := icrcOutcome(b, terr, err); got != tc.want {
				t.Fatalf("got %+v (%v), want %+v", got, err, tc.want)
			}
			if b != nil && b.Op != tc.op {
				t.Fatalf("recorded as %s, want %s", b.Op, tc.op)
			}
		})
	}
}

// TestTransferWindowAndDedup:
// rs/ledger_suite/common/ledger_canister_core/src/ledger.rs apply_transaction:
// TooOld when created_at_time + window < now, CreatedInFuture{ledger_time:
// now} when created_at_time > now + PERMITTED_DRIFT (60 s), Duplicate when
// the Transaction's hash is known, all before the balance is debited; and
// rs/ledger_suite/icp/src/lib.rs Transaction::hash covers operation, memo,
// icrc1_memo and created_at_time, so the ICRC-1 and legacy endpoints
// de-duplicate against each other.
func TestTransferWindowAndDedup(t *testing.T) {
	l := ledgerAt(t, testCaller, 10_000_000, fidelityNow)
	window := uint64(dedupWindow)
	at := func(v uint64) *uint64 { return &v }
	to := candidAccount{Owner: cmcID}
	for _, tc := range []struct {
		name string
		arg  candidTransferArg
		want outcome
	}{
		{"exactly 24 h old", candidTransferArg{To: to, Amount: nat(1), CreatedAtTime: at(fidelityNow - window)}, outcome{kind: "ok"}},
		{"24 h + 1 ns old", candidTransferArg{To: to, Amount: nat(1), CreatedAtTime: at(fidelityNow - window - 1)}, outcome{kind: "TooOld"}},
		{"60 s ahead", candidTransferArg{To: to, Amount: nat(1), CreatedAtTime: at(fidelityNow + uint64(permittedDrift))}, outcome{kind: "ok"}},
		{"60 s + 1 ns ahead", candidTransferArg{To: to, Amount: nat(1), CreatedAtTime: at(fidelityNow + uint64(permittedDrift) + 1)}, outcome{"CreatedInFuture", fidelityNow}},
		{"too old before insufficient", candidTransferArg{To: to, Amount: nat(1 << 40), CreatedAtTime: at(1)}, outcome{kind: "TooOld"}},
		{"far future does not overflow", candidTransferArg{To: to, Amount: nat(1), CreatedAtTime: at(^uint64(0))}, outcome{"CreatedInFuture", fidelityNow}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := icrcOutcome(l.transfer(testCaller, tc.arg, fidelityNow, false)); got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}

	// The same tokens moved through both endpoints at the same
	// created_at_time: ICRC-1 without a memo records memo 0 and no
	// icrc1_memo, which is what the legacy endpoint records for memo 0.
	created := fidelityNow - uint64(time.Minute)
	b, terr, err := l.transfer(testCaller, candidTransferArg{To: to, Amount: nat(77), CreatedAtTime: &created}, fidelityNow, false)
	if err != nil || terr != nil {
		t.Fatal(err, terr)
	}
	if err := l.apply(*b); err != nil {
		t.Fatal(err)
	}
	dest := mustHex(accountID(icrc.Account{Owner: cmcID}))
	legacy := candidLegacyTransferArgs{To: dest, Amount: candidTokens{77}, Fee: candidTokens{LedgerFeeE8s}, CreatedAtTime: &candidTimeStamp{created}}
	if _, lerr, err := l.legacyTransfer(testCaller, legacy, fidelityNow, false); err != nil || lerr == nil || lerr.TxDuplicate == nil || lerr.TxDuplicate.DuplicateOf != b.Index {
		t.Fatalf("legacy memo 0 after ICRC-1 without memo: want TxDuplicate{%d}, got %+v %v", b.Index, lerr, err)
	}
	legacy.Memo = 1
	if nb, lerr, err := l.legacyTransfer(testCaller, legacy, fidelityNow, false); err != nil || lerr != nil || nb == nil {
		t.Fatalf("legacy memo 1 is another transaction: %+v %v", lerr, err)
	}
	empty := []byte{}
	if nb, terr, err := l.transfer(testCaller, candidTransferArg{To: to, Amount: nat(77), CreatedAtTime: &created, Memo: &empty}, fidelityNow, false); err != nil || terr != nil || nb == nil {
		t.Fatalf("an empty icrc1_memo is another transaction: %+v %v", terr, err)
	}
}

func legacyOutcome(b *Block, e *candidLegacyTransferError, err error) outcome {
	switch {
	case err != nil:
		return outcome{kind: "trap"}
	case e == nil:
		return outcome{kind: "ok"}
	case e.BadFee != nil:
		return outcome{"BadFee", e.BadFee.ExpectedFee.E8s}
	case e.InsufficientFunds != nil:
		return outcome{"InsufficientFunds", e.InsufficientFunds.Balance.E8s}
	case e.TxTooOld != nil:
		return outcome{"TxTooOld", e.TxTooOld.AllowedWindowNanos}
	case e.TxCreatedInFuture != nil:
		return outcome{kind: "TxCreatedInFuture"}
	case e.TxDuplicate != nil:
		return outcome{"TxDuplicate", e.TxDuplicate.DuplicateOf}
	}
	return outcome{kind: "?"}
}

// TestLegacyTransfer: rs/ledger_suite/icp/ledger/src/main.rs transfer
// (AccountIdentifier::from_address traps on a bad checksum) and send
// (can_send; from == minting_acc before to == minting_acc, both asserted
// with traps: no fee on a mint or a burn, no mint to the minting account,
// no burn below transfer_fee; BadFee for any other fee than the ledger's),
// then rs/ledger_suite/icp/ledger/src/lib.rs add_payment_with_timestamp
// (created_at_time.or(now); TxThrottled becomes a trap, the rest map to
// TxTooOld{allowed_window_nanos}, TxCreatedInFuture, TxDuplicate,
// InsufficientFunds).
func TestLegacyTransfer(t *testing.T) {
	dest := mustHex(accountID(icrc.Account{Owner: cmcID}))
	minting := mustHex(accountID(icrc.Account{Owner: governanceID}))
	badCRC := append([]byte{}, dest...)
	badCRC[0] ^= 0xff
	ts := func(v uint64) *candidTimeStamp { return &candidTimeStamp{v} }
	args := func(to []byte, amount, fee uint64) candidLegacyTransferArgs {
		return candidLegacyTransferArgs{To: to, Amount: candidTokens{amount}, Fee: candidTokens{fee}, Memo: 42}
	}
	with := func(a candidLegacyTransferArgs, f func(*candidLegacyTransferArgs)) candidLegacyTransferArgs {
		f(&a)
		return a
	}
	window := uint64(dedupWindow)
	for _, tc := range []struct {
		name      string
		caller    principal.Principal
		arg       candidLegacyTransferArgs
		throttled bool
		want      outcome
		trapText  string
	}{
		{"transfer", testCaller, args(dest, 1_000, LedgerFeeE8s), false, outcome{kind: "ok"}, ""},
		{"fee omitted is 0: BadFee", testCaller, args(dest, 1_000, 0), false, outcome{"BadFee", LedgerFeeE8s}, ""},
		{"bad fee", testCaller, args(dest, 1_000, 1), false, outcome{"BadFee", LedgerFeeE8s}, ""},
		{"insufficient", testCaller, args(dest, 50_000, LedgerFeeE8s), false, outcome{"InsufficientFunds", 50_000}, ""},
		{"too old", testCaller, with(args(dest, 1, LedgerFeeE8s), func(a *candidLegacyTransferArgs) { a.CreatedAtTime = ts(fidelityNow - window - 1) }), false, outcome{"TxTooOld", window}, ""},
		{"in the future", testCaller, with(args(dest, 1, LedgerFeeE8s), func(a *candidLegacyTransferArgs) { a.CreatedAtTime = ts(fidelityNow + uint64(2*time.Minute)) }), false, outcome{kind: "TxCreatedInFuture"}, ""},
		{"bad checksum traps", testCaller, args(badCRC, 1, LedgerFeeE8s), false, outcome{kind: "trap"}, "Invalid account identifier"},
		{"31-byte destination traps", testCaller, args(dest[:31], 1, LedgerFeeE8s), false, outcome{kind: "trap"}, ""},
		{"anonymous traps", principal.AnonymousID, args(dest, 1, LedgerFeeE8s), false, outcome{kind: "trap"}, "Sending from 2vxsx-fae is not allowed"},
		{"burn", testCaller, args(minting, 10_000, 0), false, outcome{kind: "ok"}, ""},
		{"burn below the fee traps", testCaller, args(minting, 9_999, 0), false, outcome{kind: "trap"}, "Burns lower than 0.00010000 are not allowed"},
		{"burn with a fee traps", testCaller, args(minting, 10_000, LedgerFeeE8s), false, outcome{kind: "trap"}, "Fee for burning should be zero"},
		{"mint", governanceID, args(dest, 5, 0), false, outcome{kind: "ok"}, ""},
		{"mint with a fee traps", governanceID, args(dest, 5, LedgerFeeE8s), false, outcome{kind: "trap"}, "Fee for minting should be zero"},
		// from == minting is tested first here (the ICRC-1 path tests the burn first).
		{"mint to the minting account traps", governanceID, args(minting, 5, 0), false, outcome{kind: "trap"}, "It is illegal to mint to a minting_account"},
		{"throttled traps", testCaller, args(dest, 1, LedgerFeeE8s), true, outcome{kind: "trap"}, "ledger is throttling"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := ledgerAt(t, testCaller, 50_000, fidelityNow)
			b, e, err := l.legacyTransfer(tc.caller, tc.arg, fidelityNow, tc.throttled)
			if got := legacyOutcome(b, e, err); got != tc.want {
				t.Fatalf("got %+v (%v), want %+v", got, err, tc.want)
			}
			if tc.trapText != "" && !strings.Contains(err.Error(), tc.trapText) {
				t.Fatalf("trap %q, want %q", err, tc.trapText)
			}
			if b != nil {
				if b.CreatedAtNanos == nil || *b.CreatedAtNanos != fidelityNow || b.LegacyMemo != 42 || b.MemoHex != nil {
					t.Fatalf("legacy block records created_at_time = now, the nat64 memo, no icrc1_memo: %+v", b)
				}
				if err := l.apply(*b); err != nil {
					t.Fatal(err)
				}
				// Without created_at_time the ledger uses its own time, so
				// the same call in the same nanosecond is a duplicate.
				if _, e, _ := l.legacyTransfer(tc.caller, tc.arg, fidelityNow, false); e == nil || e.TxDuplicate == nil || e.TxDuplicate.DuplicateOf != b.Index {
					t.Fatalf("resend in the same nanosecond: %+v", e)
				}
			}
		})
	}
}

// govAccountHex is the governance default account identifier (docs/ic-interfaces.md §4.3).
// anonAccountHex the anonymous principal's.
const (
	govAccountHex  = "082ecf2e3f647ac600f43f38a68342fba5b8e68b085f02592b77f39808a8d2b5"
	anonAccountHex = "1c7a48ba6a562aa9eaa2481a9049cdf0433b9738c992d698c31d8abf89cadc79"
)

// TestBlockEncodingVectors checks encodeBlock against bytes written out by
// hand from rs/ledger_suite/icp/src/gen/ic_ledger.pb.v1.rs and
// validate_endpoints.rs (ToProto for Block and Transaction) with prost's
// rules: fields in ascending tag order, a present sub-message written even
// when empty (Memo{0} is "22 00"), zero scalars left out.
func TestBlockEncodingVectors(t *testing.T) {
	mint := Block{Op: OpMint, To: govAccountHex, AmountE8s: 100_000_000, TimestampNanos: 1}
	wantMint := "1202" + "0801" + // timestamp: TimeStamp{1}
		"1a2f" + // transaction, 47 bytes
		"122b" + // Mint (oneof tag 2), 43 bytes
		"1222" + "0a20" + govAccountHex + // to: AccountIdentifier{hash: 32 bytes}
		"1a05" + "0880c2d72f" + // amount: Tokens{100_000_000}
		"2200" // memo: Memo{0}, present and empty
	if got := hex.EncodeToString(encodeBlock(nil, mint)); got != wantMint {
		t.Fatalf("mint block:\n got %s\nwant %s", got, wantMint)
	}
	parent := [32]byte(bytes.Repeat([]byte{0x11}, 32))
	memo := strings.Repeat("ab", 32)
	created := uint64(5)
	transfer := Block{Op: OpTransfer, From: govAccountHex, To: anonAccountHex, AmountE8s: 300, FeeE8s: 10_000,
		TimestampNanos: 7, LegacyMemo: 1, CreatedAtNanos: &created, MemoHex: &memo}
	wantTransfer := "0a22" + "0a20" + strings.Repeat("11", 32) + // parent_hash: Hash{32 bytes}
		"1202" + "0807" + // timestamp 7
		"1a8001" + // transaction, 128 bytes: a two-byte length
		"1a52" + // Send (oneof tag 3), 82 bytes
		"0a22" + "0a20" + govAccountHex + // from
		"1222" + "0a20" + anonAccountHex + // to
		"1a03" + "08ac02" + // amount 300
		"2203" + "08904e" + // max_fee 10000
		"2202" + "0801" + // memo 1
		"3202" + "0805" + // created_at_time 5
		"3a22" + "0a20" + memo // icrc1_memo, 32 bytes
	if got := hex.EncodeToString(encodeBlock(&parent, transfer)); got != wantTransfer {
		t.Fatalf("transfer block:\n got %s\nwant %s", got, wantTransfer)
	}
	burn := Block{Op: OpBurn, From: anonAccountHex, AmountE8s: 0, TimestampNanos: 0}
	wantBurn := "1200" + "1a2a" + "0a26" + "0a22" + "0a20" + anonAccountHex + "1a00" + "2200"
	if got := hex.EncodeToString(encodeBlock(nil, burn)); got != wantBurn {
		t.Fatalf("burn block:\n got %s\nwant %s", got, wantBurn)
	}
	want := sha256.Sum256(encodeBlock(nil, mint))
	if blockHash(nil, mint) != want {
		t.Fatal("blockHash is not SHA-256 of the encoding")
	}
}
