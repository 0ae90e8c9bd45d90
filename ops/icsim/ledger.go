package icsim

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"time"

	"github.com/aviate-labs/agent-go/candid/idl"
	"github.com/aviate-labs/agent-go/principal"
	"github.com/aviate-labs/agent-go/principal/icrc"
)

// Ledger constants of the ICP ledger (IC_INTERFACES §4.1).
const (
	LedgerFeeE8s      uint64 = 10_000
	maxMemoBytes             = 32
	dedupWindow              = 24 * time.Hour
	permittedDrift           = 60 * time.Second
	ledgerCanisterTxt        = "ryjl3-tyaaa-aaaaa-aaaba-cai"
	governanceTxt            = "rrkah-fqaaa-aaaaa-aaaaq-cai"
	cmcTxt                   = "rkp4c-7iaaa-aaaaa-aaaca-cai"
)

var (
	ledgerID     = principal.MustDecode(ledgerCanisterTxt)
	governanceID = principal.MustDecode(governanceTxt)
	cmcID        = principal.MustDecode(cmcTxt)
)

// Block operations.
const (
	OpMint     = "mint"
	OpTransfer = "transfer"
	OpBurn     = "burn"
)

// Block is one committed ledger transaction. Account fields hold the 32-byte
// legacy account identifier in hex (what the ICP ledger records); the
// *Account fields hold the ICRC-1 text for people.
type Block struct {
	Index          uint64  `json:"index"`
	TimestampNanos uint64  `json:"timestamp_nanos"`
	Op             string  `json:"op"`
	From           string  `json:"from,omitempty"`
	To             string  `json:"to,omitempty"`
	FromAccount    string  `json:"from_account,omitempty"`
	ToAccount      string  `json:"to_account,omitempty"`
	AmountE8s      uint64  `json:"amount_e8s"`
	FeeE8s         uint64  `json:"fee_e8s"`
	MemoHex        *string `json:"memo_hex,omitempty"`
	CreatedAtNanos *uint64 `json:"created_at_nanos,omitempty"`
}

// ledger is the ICP ledger's state. Balances and the de-duplication index
// are derived from blocks (replay), so blocks are the only persisted truth.
type ledger struct {
	blocks   []Block
	balances map[string]uint64
	dedup    map[[32]byte]uint64
	minting  icrc.Account
}

func newLedger() *ledger {
	return &ledger{
		balances: map[string]uint64{},
		dedup:    map[[32]byte]uint64{},
		minting:  icrc.Account{Owner: governanceID},
	}
}

// accountID is the hex legacy account identifier (with CRC) of a.
func accountID(a icrc.Account) string {
	var sub [32]byte
	if a.SubAccount != nil {
		sub = *a.SubAccount
	}
	return hex.EncodeToString(principal.NewAccountID(a.Owner, sub).Bytes())
}

// replay rebuilds balances and the de-dup index from blocks; it fails on a
// block that would overdraw, which means a corrupt state file.
func (l *ledger) replay(blocks []Block) error {
	l.blocks = nil
	l.balances = map[string]uint64{}
	l.dedup = map[[32]byte]uint64{}
	for i, b := range blocks {
		if b.Index != uint64(i) {
			return fmt.Errorf("block %d has index %d", i, b.Index)
		}
		if err := l.apply(b); err != nil {
			return fmt.Errorf("block %d: %w", i, err)
		}
	}
	return nil
}

// apply appends b after checking that it conserves tokens.
func (l *ledger) apply(b Block) error {
	switch b.Op {
	case OpMint:
		if l.balances[b.To] > math.MaxUint64-b.AmountE8s {
			return fmt.Errorf("mint overflows balance of %s", b.To)
		}
		l.balances[b.To] += b.AmountE8s
	case OpTransfer, OpBurn:
		need := b.AmountE8s + b.FeeE8s
		if need < b.AmountE8s || l.balances[b.From] < need {
			return fmt.Errorf("%s overdraws %s", b.Op, b.From)
		}
		l.balances[b.From] -= need
		if b.Op == OpTransfer {
			l.balances[b.To] += b.AmountE8s
		}
	default:
		return fmt.Errorf("unknown op %q", b.Op)
	}
	if b.CreatedAtNanos != nil {
		l.dedup[txKey(b)] = b.Index
	}
	l.blocks = append(l.blocks, b)
	return nil
}

// txKey identifies "the same transaction" for de-duplication: what the
// ledger records (from, to, amount, the ledger's own fee, the memo with
// absent != empty, created_at_time), not the raw arguments.
func txKey(b Block) [32]byte {
	h := sha256.New()
	var buf [8]byte
	w := func(s string) {
		binary.BigEndian.PutUint64(buf[:], uint64(len(s)))
		h.Write(buf[:])
		h.Write([]byte(s))
	}
	w(b.Op)
	w(b.From)
	w(b.To)
	binary.BigEndian.PutUint64(buf[:], b.AmountE8s)
	h.Write(buf[:])
	binary.BigEndian.PutUint64(buf[:], b.FeeE8s)
	h.Write(buf[:])
	if b.MemoHex == nil {
		h.Write([]byte{0})
	} else {
		h.Write([]byte{1})
		w(*b.MemoHex)
	}
	binary.BigEndian.PutUint64(buf[:], *b.CreatedAtNanos)
	h.Write(buf[:])
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// trapError is a canister trap: the call is rejected (code 5, IC0503) and
// nothing is recorded.
type trapError struct{ msg string }

func (e *trapError) Error() string { return e.msg }

func trap(format string, a ...any) error { return &trapError{msg: fmt.Sprintf(format, a...)} }

func toAccount(owner principal.Principal, sub *[]byte) (icrc.Account, error) {
	a := icrc.Account{Owner: owner}
	if sub != nil {
		if len(*sub) != 32 {
			return a, trap("invalid subaccount: must be 32 bytes, got %d", len(*sub))
		}
		var s [32]byte
		copy(s[:], *sub)
		a.SubAccount = &s
	}
	return a, nil
}

func natU64(n idl.Nat) (uint64, bool) {
	bi := n.BigInt()
	if bi == nil {
		// A zero idl.Nat (e.g. a field absent from a malformed argument).
		return 0, true
	}
	if bi.Sign() < 0 || !bi.IsUint64() {
		return 0, false
	}
	return bi.Uint64(), true
}

func nat(v uint64) idl.Nat { return idl.NewBigNat(new(big.Int).SetUint64(v)) }

// transfer runs icrc1_transfer for caller at canister time nowNanos, in the
// ICP ledger's order of checks (IC_INTERFACES §4.1). unavailable injects
// TemporarilyUnavailable at the throttling step. On success the block is
// returned (not yet applied) so that the caller can persist and commit it.
func (l *ledger) transfer(caller principal.Principal, arg candidTransferArg, nowNanos uint64, unavailable bool) (*Block, *candidTransferError, error) {
	if arg.Memo != nil && len(*arg.Memo) > maxMemoBytes {
		return nil, nil, trap("the memo field is too large: %d bytes, max %d", len(*arg.Memo), maxMemoBytes)
	}
	if arg.Amount.BigInt() == nil {
		return nil, nil, trap("failed to decode call arguments: field amount is missing")
	}
	amount, ok := natU64(arg.Amount)
	if !ok {
		return nil, nil, trap("amount %s is too large", arg.Amount.BigInt())
	}
	from, err := toAccount(caller, arg.FromSubaccount)
	if err != nil {
		return nil, nil, err
	}
	to, err := toAccount(arg.To.Owner, arg.To.Subaccount)
	if err != nil {
		return nil, nil, err
	}
	b := Block{
		Index:          uint64(len(l.blocks)),
		TimestampNanos: nowNanos,
		From:           accountID(from),
		To:             accountID(to),
		FromAccount:    from.Encode(),
		ToAccount:      to.Encode(),
		AmountE8s:      amount,
		CreatedAtNanos: arg.CreatedAtTime,
	}
	if arg.Memo != nil {
		m := hex.EncodeToString(*arg.Memo)
		b.MemoHex = &m
	}
	mintingID := accountID(l.minting)
	var fee *uint64
	if arg.Fee != nil {
		f, ok := natU64(*arg.Fee)
		if !ok {
			f = math.MaxUint64 // any out-of-range fee is simply a bad fee
		}
		fee = &f
	}
	switch {
	case b.From == mintingID:
		b.Op = OpMint
		b.From, b.FromAccount = "", ""
		if fee != nil && *fee != 0 {
			return nil, &candidTransferError{BadFee: &candidBadFee{ExpectedFee: nat(0)}}, nil
		}
	case b.To == mintingID:
		b.Op = OpBurn
		b.To, b.ToAccount = "", ""
		if fee != nil && *fee != 0 {
			return nil, &candidTransferError{BadFee: &candidBadFee{ExpectedFee: nat(0)}}, nil
		}
		if amount < min(LedgerFeeE8s, l.balances[b.From]) {
			return nil, &candidTransferError{BadBurn: &candidBadBurn{MinBurnAmount: nat(LedgerFeeE8s)}}, nil
		}
	default:
		b.Op = OpTransfer
		if fee != nil && *fee != LedgerFeeE8s {
			return nil, &candidTransferError{BadFee: &candidBadFee{ExpectedFee: nat(LedgerFeeE8s)}}, nil
		}
		b.FeeE8s = LedgerFeeE8s
	}
	if unavailable {
		return nil, &candidTransferError{TemporarilyUnavailable: &idl.Null{}}, nil
	}
	if arg.CreatedAtTime != nil {
		created := *arg.CreatedAtTime
		window := uint64(dedupWindow)
		if nowNanos >= window && created < nowNanos-window {
			return nil, &candidTransferError{TooOld: &idl.Null{}}, nil
		}
		if created > nowNanos+uint64(permittedDrift) {
			return nil, &candidTransferError{CreatedInFuture: &candidCreatedInFuture{LedgerTime: nowNanos}}, nil
		}
		if idx, dup := l.dedup[txKey(b)]; dup {
			return nil, &candidTransferError{Duplicate: &candidDuplicate{DuplicateOf: nat(idx)}}, nil
		}
	}
	if b.Op != OpMint {
		bal := l.balances[b.From]
		if need := amount + b.FeeE8s; need < amount || bal < need {
			return nil, &candidTransferError{InsufficientFunds: &candidInsufficientFunds{Balance: nat(bal)}}, nil
		}
	}
	return &b, nil, nil
}

// mintBlock builds a Mint block from the minting account to a.
func (l *ledger) mintBlock(a icrc.Account, amount, nowNanos uint64, memo *[]byte) Block {
	b := Block{
		Index:          uint64(len(l.blocks)),
		TimestampNanos: nowNanos,
		Op:             OpMint,
		To:             accountID(a),
		ToAccount:      a.Encode(),
		AmountE8s:      amount,
	}
	if memo != nil {
		m := hex.EncodeToString(*memo)
		b.MemoHex = &m
	}
	return b
}

func (l *ledger) balanceOf(a icrc.Account) uint64 { return l.balances[accountID(a)] }
