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

// Ledger constants of the ICP ledger (docs/ic-interfaces.md §4.1).
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
// *Account fields hold the ICRC-1 text for people (empty when the call named
// only an account identifier, as the legacy transfer does).
type Block struct {
	Index          uint64 `json:"index"`
	TimestampNanos uint64 `json:"timestamp_nanos"`
	Op             string `json:"op"`
	From           string `json:"from,omitempty"`
	To             string `json:"to,omitempty"`
	FromAccount    string `json:"from_account,omitempty"`
	ToAccount      string `json:"to_account,omitempty"`
	AmountE8s      uint64 `json:"amount_e8s"`
	FeeE8s         uint64 `json:"fee_e8s"`
	// MemoHex is the ICRC-1 memo (icrc1_memo); nil when absent, "" when empty.
	MemoHex *string `json:"memo_hex,omitempty"`
	// LegacyMemo is the nat64 memo of the legacy transfer API; ICRC-1
	// transactions record 0 (rs/ledger_suite/icp/ledger/src/main.rs
	// icrc1_send_not_async: memo: Memo(0)).
	LegacyMemo     uint64  `json:"legacy_memo,omitempty"`
	CreatedAtNanos *uint64 `json:"created_at_nanos,omitempty"`
}

// ledger is the ICP ledger's state. Balances, the de-duplication index and
// the block hashes are derived from blocks (replay), so blocks are the only
// persisted truth of the chain; the archive boundary is persisted beside them.
type ledger struct {
	blocks   []Block
	hashes   [][32]byte // hashes[i] is the hash of blocks[i] (ledger_hash.go)
	balances map[string]uint64
	supply   uint64 // sum of balances: tokens minted and not burnt or paid as fees
	dedup    map[[32]byte]uint64
	minting  icrc.Account
	archive  archiveState
	opts     ArchiveOptions
}

func newLedger(opts ArchiveOptions) *ledger {
	return &ledger{
		balances: map[string]uint64{},
		dedup:    map[[32]byte]uint64{},
		minting:  icrc.Account{Owner: governanceID},
		opts:     opts,
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

// replay rebuilds balances, hashes and the de-dup index from blocks; it
// fails on a block that would overdraw, which means a corrupt state file.
func (l *ledger) replay(blocks []Block) error {
	l.blocks, l.hashes = nil, nil
	l.balances = map[string]uint64{}
	l.supply = 0
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
		// The ledger's token pool holds u64::MAX e8s; a mint beyond it traps
		// ("total token supply exceeded", ledger_core/src/balances.rs mint).
		if l.supply > math.MaxUint64-b.AmountE8s {
			return fmt.Errorf("total token supply exceeded minting %d e8s to %s", b.AmountE8s, b.To)
		}
		l.balances[b.To] += b.AmountE8s
		l.supply += b.AmountE8s
	case OpTransfer, OpBurn:
		need := b.AmountE8s + b.FeeE8s
		if need < b.AmountE8s || l.balances[b.From] < need {
			return fmt.Errorf("%s overdraws %s", b.Op, b.From)
		}
		l.balances[b.From] -= need
		if l.balances[b.From] == 0 {
			delete(l.balances, b.From)
		}
		l.supply -= need
		if b.Op == OpTransfer {
			l.balances[b.To] += b.AmountE8s
			l.supply += b.AmountE8s
		}
	default:
		return fmt.Errorf("unknown op %q", b.Op)
	}
	if b.CreatedAtNanos != nil {
		l.dedup[txKey(b)] = b.Index
	}
	var parent *[32]byte
	if n := len(l.hashes); n > 0 {
		parent = &l.hashes[n-1]
	}
	l.hashes = append(l.hashes, blockHash(parent, b))
	l.blocks = append(l.blocks, b)
	return nil
}

// tipHash is the ledger's certified data: the hash of the newest block, 32
// zero bytes for an empty chain (rs/ledger_suite/icp/ledger/src/main.rs
// init and post_upgrade: last_hash.unwrap_or([0u8; 32])).
func (l *ledger) tipHash() [32]byte {
	if n := len(l.hashes); n > 0 {
		return l.hashes[n-1]
	}
	return [32]byte{}
}

// parentOf is the parent hash of block i (nil for block 0).
func (l *ledger) parentOf(i uint64) *[32]byte {
	if i == 0 {
		return nil
	}
	return &l.hashes[i-1]
}

// stamp is the timestamp of the next block: canister time, but never older
// than the previous block. The IC's time never goes back; the simulator's
// admin clock can, and the ledger refuses a block older than its tip
// (ledger_canister_core/src/blockchain.rs add_block).
func (l *ledger) stamp(now uint64) uint64 {
	if n := len(l.blocks); n > 0 && l.blocks[n-1].TimestampNanos > now {
		return l.blocks[n-1].TimestampNanos
	}
	return now
}

// txKey identifies "the same transaction" for de-duplication: the
// Transaction the ledger records and hashes (rs/ledger_suite/icp/src/lib.rs
// LedgerTransaction::hash over operation, memo, icrc1_memo, created_at_time),
// not the raw arguments. So an ICRC-1 transfer without a memo and a legacy
// transfer with memo 0 of the same tokens at the same created_at_time are
// the same transaction.
func txKey(b Block) [32]byte {
	h := sha256.New()
	var buf [8]byte
	w := func(s string) {
		binary.BigEndian.PutUint64(buf[:], uint64(len(s)))
		h.Write(buf[:])
		h.Write([]byte(s))
	}
	u := func(v uint64) {
		binary.BigEndian.PutUint64(buf[:], v)
		h.Write(buf[:])
	}
	w(b.Op)
	w(b.From)
	w(b.To)
	u(b.AmountE8s)
	u(b.FeeE8s)
	u(b.LegacyMemo)
	if b.MemoHex == nil {
		h.Write([]byte{0})
	} else {
		h.Write([]byte{1})
		w(*b.MemoHex)
	}
	u(*b.CreatedAtNanos)
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// trapError is a canister trap: the call is rejected (code 5, IC0503) and
// nothing is recorded.
type trapError struct{ msg string }

func (e *trapError) Error() string { return e.msg }

func trap(format string, a ...any) error { return &trapError{msg: fmt.Sprintf(format, a...)} }

// toAccount builds an ICRC-1 account; a subaccount that is not 32 bytes
// does not decode into the ledger's [u8; 32], so the call traps.
func toAccount(owner principal.Principal, sub *[]byte) (icrc.Account, error) {
	a := icrc.Account{Owner: owner}
	if sub != nil {
		if len(*sub) != 32 {
			return a, trap("failed to decode call arguments: invalid subaccount: must be 32 bytes, got %d", len(*sub))
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

// refusal is a refusal of the ledger core's apply_transaction
// (rs/ledger_suite/common/ledger_canister_core/src/ledger.rs), before each
// endpoint maps it to its own error type.
type refusal int

const (
	refusedThrottled refusal = iota + 1
	refusedTooOld
	refusedCreatedInFuture
	refusedDuplicate
	refusedInsufficientFunds
)

// refused carries a refusal and its data.
type refused struct {
	kind        refusal
	duplicateOf uint64
	balance     uint64
}

// admit runs apply_transaction's checks on the block b would become, in
// its order: throttling (here: the injected fault), TooOld
// (created_at_time + window < now; exactly 24 h old is accepted),
// CreatedInFuture (created_at_time > now + 60 s), Duplicate (only with
// created_at_time), then the balance check of applying it (InsufficientFunds;
// a mint beyond the token pool traps). nil means b may be committed.
func (l *ledger) admit(b Block, nowNanos uint64, throttled bool) (*refused, error) {
	if throttled {
		return &refused{kind: refusedThrottled}, nil
	}
	if b.CreatedAtNanos != nil {
		created := *b.CreatedAtNanos
		if window := uint64(dedupWindow); created <= math.MaxUint64-window && created+window < nowNanos {
			return &refused{kind: refusedTooOld}, nil
		}
		if created > nowNanos+uint64(permittedDrift) {
			return &refused{kind: refusedCreatedInFuture}, nil
		}
		if idx, dup := l.dedup[txKey(b)]; dup {
			return &refused{kind: refusedDuplicate, duplicateOf: idx}, nil
		}
	}
	switch b.Op {
	case OpMint:
		if l.supply > math.MaxUint64-b.AmountE8s {
			return nil, trap("total token supply exceeded")
		}
	default:
		// ledger_core/src/balances.rs transfer: amount + fee overflowing is
		// InsufficientFunds too ("no account can hold more than max").
		bal := l.balances[b.From]
		if need := b.AmountE8s + b.FeeE8s; need < b.AmountE8s || bal < need {
			return &refused{kind: refusedInsufficientFunds, balance: bal}, nil
		}
	}
	return nil, nil
}

// transfer runs icrc1_transfer for caller at canister time nowNanos,
// following rs/ledger_suite/icp/ledger/src/main.rs icrc1_transfer and
// icrc1_send_not_async: anonymous callers trap; a memo over 32 bytes traps;
// an amount beyond 64 bits is InsufficientFunds (nobody holds that much);
// then the minting-account checks in the ledger's order, burn (to the
// minting account) before mint (from it): a burn takes no fee (absent or 0,
// else BadFee{0}) and must be at least min(fee, balance) and not zero
// (BadBurn); a mint takes no fee either; any other transfer's fee, when
// given, must be the ledger fee (BadFee). throttled injects
// TemporarilyUnavailable at the throttling step. On success the block is
// returned (not yet applied) so that the caller can persist and commit it.
func (l *ledger) transfer(caller principal.Principal, arg candidTransferArg, nowNanos uint64, throttled bool) (*Block, *candidTransferError, error) {
	from, err := toAccount(caller, arg.FromSubaccount)
	if err != nil {
		return nil, nil, err
	}
	to, err := toAccount(arg.To.Owner, arg.To.Subaccount)
	if err != nil {
		return nil, nil, err
	}
	if caller.Equal(principal.AnonymousID) {
		return nil, nil, trap("Anonymous principal cannot hold tokens on the ledger.")
	}
	if arg.Memo != nil && len(*arg.Memo) > maxMemoBytes {
		return nil, nil, trap("the memo field is too large")
	}
	if arg.Amount.BigInt() == nil {
		return nil, nil, trap("failed to decode call arguments: field amount is missing")
	}
	fromID, toID := accountID(from), accountID(to)
	amount, ok := natU64(arg.Amount)
	if !ok {
		return nil, &candidTransferError{InsufficientFunds: &candidInsufficientFunds{Balance: nat(l.balances[fromID])}}, nil
	}
	b := Block{
		Index:          uint64(len(l.blocks)),
		TimestampNanos: l.stamp(nowNanos),
		From:           fromID,
		To:             toID,
		FromAccount:    from.Encode(),
		ToAccount:      to.Encode(),
		AmountE8s:      amount,
		CreatedAtNanos: arg.CreatedAtTime,
	}
	if arg.Memo != nil {
		m := hex.EncodeToString(*arg.Memo)
		b.MemoHex = &m
	}
	// A fee is compared as a nat: one beyond 64 bits is simply not the fee.
	feeIs := func(want uint64) bool {
		f, ok := natU64(*arg.Fee)
		return ok && f == want
	}
	mintingID := accountID(l.minting)
	switch {
	case toID == mintingID:
		b.Op = OpBurn
		b.To, b.ToAccount = "", ""
		if arg.Fee != nil && !feeIs(0) {
			return nil, &candidTransferError{BadFee: &candidBadFee{ExpectedFee: nat(0)}}, nil
		}
		if minBurn := min(LedgerFeeE8s, l.balances[fromID]); amount < minBurn {
			return nil, &candidTransferError{BadBurn: &candidBadBurn{MinBurnAmount: nat(minBurn)}}, nil
		}
		if amount == 0 {
			return nil, &candidTransferError{BadBurn: &candidBadBurn{MinBurnAmount: nat(LedgerFeeE8s)}}, nil
		}
	case fromID == mintingID:
		b.Op = OpMint
		b.From, b.FromAccount = "", ""
		if arg.Fee != nil && !feeIs(0) {
			return nil, &candidTransferError{BadFee: &candidBadFee{ExpectedFee: nat(0)}}, nil
		}
	default:
		b.Op = OpTransfer
		if arg.Fee != nil && !feeIs(LedgerFeeE8s) {
			return nil, &candidTransferError{BadFee: &candidBadFee{ExpectedFee: nat(LedgerFeeE8s)}}, nil
		}
		b.FeeE8s = LedgerFeeE8s
	}
	r, err := l.admit(b, nowNanos, throttled)
	if err != nil {
		return nil, nil, err
	}
	if r == nil {
		return &b, nil, nil
	}
	// ic_icrc1::endpoints::convert_transfer_error.
	switch r.kind {
	case refusedThrottled:
		return nil, &candidTransferError{TemporarilyUnavailable: &idl.Null{}}, nil
	case refusedTooOld:
		return nil, &candidTransferError{TooOld: &idl.Null{}}, nil
	case refusedCreatedInFuture:
		return nil, &candidTransferError{CreatedInFuture: &candidCreatedInFuture{LedgerTime: nowNanos}}, nil
	case refusedDuplicate:
		return nil, &candidTransferError{Duplicate: &candidDuplicate{DuplicateOf: nat(r.duplicateOf)}}, nil
	default:
		return nil, &candidTransferError{InsufficientFunds: &candidInsufficientFunds{Balance: nat(r.balance)}}, nil
	}
}

// mintBlock builds a Mint block from the minting account to a, as an
// ICRC-1 mint without created_at_time records it.
func (l *ledger) mintBlock(a icrc.Account, amount, nowNanos uint64, memo *[]byte) Block {
	b := Block{
		Index:          uint64(len(l.blocks)),
		TimestampNanos: l.stamp(nowNanos),
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
