package payout

import (
	"encoding/binary"
	"fmt"

	"github.com/nodeshare/nodeshare/schemas"
)

// The ledger as a payout sees it: the vocabulary of the payout stage's
// Ledger port (pipeline/stage/payout). connectors/ic implements it over
// the ICP ledger; the deterministic simulation implements it in memory.
// Pure data and errors: no I/O here.

// MaxMemoBytes is the ICP ledger's ICRC-1 memo limit.
const MaxMemoBytes = 32

// TransferRequest is one transfer from the treasury.
type TransferRequest struct {
	// To is the recipient: ICRC-1 account text, or a 64-hex legacy account
	// identifier (a sponsor known only by the account its deposit came
	// from), which is paid with the ledger's legacy transfer method and
	// LegacyMemo (IsAccountIdentifier).
	To        string
	AmountE8s uint64
	// FeeE8s is the planned fee; the ledger refuses any other (BadFee).
	FeeE8s uint64
	// Memo is the intent's memo (at most MaxMemoBytes).
	Memo []byte
	// CreatedAtNanos is the attempt's created_at_time: with the memo it
	// is what the ledger de-duplicates on inside its 24 h window.
	CreatedAtNanos uint64
}

// RefusalKind names the ledger's certified refusal of a transfer.
type RefusalKind string

// The refusals a payout acts on; any other certified refusal is Other.
const (
	BadFee                 RefusalKind = "BadFee"
	InsufficientFunds      RefusalKind = "InsufficientFunds"
	TooOld                 RefusalKind = "TooOld"
	CreatedInFuture        RefusalKind = "CreatedInFuture"
	TemporarilyUnavailable RefusalKind = "TemporarilyUnavailable"
	Duplicate              RefusalKind = "Duplicate"
	Other                  RefusalKind = "Other"
)

// Refusal is the ledger's certified answer that it did not execute a
// transfer (or, for Duplicate, that it executed it before, in block
// DuplicateOf).
type Refusal struct {
	Kind        RefusalKind
	DuplicateOf uint64
	// Err is the ledger's refusal as the connector reported it.
	Err error
}

func (r *Refusal) Error() string {
	if r.Err != nil {
		return r.Err.Error()
	}
	if r.Kind == Duplicate {
		return fmt.Sprintf("ledger: Duplicate of block %d", r.DuplicateOf)
	}
	return "ledger: " + string(r.Kind)
}

func (r *Refusal) Unwrap() error { return r.Err }

// IsTransient: only TemporarilyUnavailable is worth the same request again.
func (r *Refusal) IsTransient() bool { return r.Kind == TemporarilyUnavailable }

// CallError is a failure of a ledger call other than a refusal: transport,
// replica rejection, verification, signing.
type CallError struct {
	Err error
	// Transient: the same call, repeated, may succeed.
	Transient bool
	// OutcomeUnknown: the transfer may have executed although no verified
	// answer arrived (resend the same request or read the blocks).
	OutcomeUnknown bool
	// NotSent: the request never left (its signature failed): nothing
	// moved.
	NotSent bool
}

func (e *CallError) Error() string { return e.Err.Error() }
func (e *CallError) Unwrap() error { return e.Err }

// IsTransient reports e.Transient (the retry classifier reads it).
func (e *CallError) IsTransient() bool { return e.Transient }

// BlocksPage is one query_blocks answer: the chain length, the first index
// the ledger still holds (older blocks are archived) and the blocks read.
type BlocksPage struct {
	ChainLength     uint64
	FirstBlockIndex uint64
	Blocks          []Block
}

// IsAccountIdentifier reports whether to names a legacy account identifier
// (schemas.ValidateAccountIdentifier) rather than an ICRC-1 account.
func IsAccountIdentifier(to string) bool { return schemas.ValidateAccountIdentifier(to) == nil }

// LegacyMemo is the nat64 memo a transfer to a legacy account identifier
// carries: the legacy transfer method has no 32-byte memo, so the intent's
// memo is folded into its first 8 bytes, big endian. With the same
// created_at_time the ledger de-duplicates it like any transfer, and the
// block is matched by it (Match).
func LegacyMemo(memo []byte) uint64 {
	var b [8]byte
	copy(b[:], memo)
	return binary.BigEndian.Uint64(b[:])
}
