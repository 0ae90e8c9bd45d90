package ic

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"net"
	"regexp"
	"strconv"

	"github.com/aviate-labs/agent-go/candid/idl"
)

// TransferErrorKind names an arm of the ledger's TransferError variant.
type TransferErrorKind string

// Every arm of TransferError (docs/ic-interfaces.md §4.1).
const (
	BadFee                 TransferErrorKind = "BadFee"
	BadBurn                TransferErrorKind = "BadBurn"
	InsufficientFunds      TransferErrorKind = "InsufficientFunds"
	TooOld                 TransferErrorKind = "TooOld"
	CreatedInFuture        TransferErrorKind = "CreatedInFuture"
	TemporarilyUnavailable TransferErrorKind = "TemporarilyUnavailable"
	Duplicate              TransferErrorKind = "Duplicate"
	GenericError           TransferErrorKind = "GenericError"
)

// TransferError is the ledger's certified refusal of a transfer. Only the
// fields of Kind's arm are set.
type TransferError struct {
	Kind          TransferErrorKind
	ExpectedFee   uint64 // BadFee, e8s
	MinBurnAmount uint64 // BadBurn, e8s
	Balance       uint64 // InsufficientFunds, e8s
	LedgerTime    uint64 // CreatedInFuture, ns since the Unix epoch (0: not reported, legacy transfer)
	// AllowedWindowNanos is the de-duplication window a TooOld refers to
	// (the legacy transfer's TxTooOld reports it; 0 from ICRC-1).
	AllowedWindowNanos uint64
	DuplicateOf        uint64 // Duplicate: index of the block that already holds this transfer
	ErrorCode          uint64 // GenericError
	Message            string // GenericError
}

func (e *TransferError) Error() string {
	switch e.Kind {
	case BadFee:
		return fmt.Sprintf("ledger: BadFee: expected fee %d e8s (read icrc1_fee or omit fee)", e.ExpectedFee)
	case BadBurn:
		return fmt.Sprintf("ledger: BadBurn: min burn amount %d e8s", e.MinBurnAmount)
	case InsufficientFunds:
		return fmt.Sprintf("ledger: InsufficientFunds: balance %d e8s", e.Balance)
	case TooOld:
		return "ledger: TooOld: created_at_time is older than the 24 h de-duplication window; reconcile from blocks before resending"
	case CreatedInFuture:
		if e.LedgerTime == 0 {
			return "ledger: CreatedInFuture: created_at_time is ahead of the ledger's clock; check the local clock"
		}
		return fmt.Sprintf("ledger: CreatedInFuture: ledger time %d ns; check the local clock", e.LedgerTime)
	case TemporarilyUnavailable:
		return "ledger: TemporarilyUnavailable: retry later with the same arguments"
	case Duplicate:
		return fmt.Sprintf("ledger: Duplicate of block %d (the transfer already happened)", e.DuplicateOf)
	case GenericError:
		return fmt.Sprintf("ledger: GenericError %d: %s", e.ErrorCode, e.Message)
	}
	return "ledger: unknown transfer error " + string(e.Kind)
}

// Transient reports whether retrying the same transfer later can succeed.
func (e *TransferError) Transient() bool { return e.Kind == TemporarilyUnavailable }

// IsTransient is Transient, under the name pipeline/stage/retry.Classify
// looks for.
func (e *TransferError) IsTransient() bool { return e.Transient() }

// IsDuplicate reports whether err is the ledger's Duplicate refusal, which
// means the transfer was already executed in block.
func IsDuplicate(err error) (block uint64, ok bool) {
	var te *TransferError
	if errors.As(err, &te) && te.Kind == Duplicate {
		return te.DuplicateOf, true
	}
	return 0, false
}

func natToU64(n idl.Nat, field string) (uint64, error) {
	bi := n.BigInt()
	if bi == nil {
		bi = new(big.Int)
	}
	if bi.Sign() < 0 || !bi.IsUint64() {
		return 0, fmt.Errorf("ic: %s %s does not fit in 64 bits", field, bi)
	}
	return bi.Uint64(), nil
}

func fromCandidTransferError(c *candidTransferError) (*TransferError, error) {
	var err error
	e := &TransferError{}
	switch {
	case c.BadFee != nil:
		e.Kind = BadFee
		e.ExpectedFee, err = natToU64(c.BadFee.ExpectedFee, "expected_fee")
	case c.BadBurn != nil:
		e.Kind = BadBurn
		e.MinBurnAmount, err = natToU64(c.BadBurn.MinBurnAmount, "min_burn_amount")
	case c.InsufficientFunds != nil:
		e.Kind = InsufficientFunds
		e.Balance, err = natToU64(c.InsufficientFunds.Balance, "balance")
	case c.TooOld != nil:
		e.Kind = TooOld
	case c.CreatedInFuture != nil:
		e.Kind = CreatedInFuture
		e.LedgerTime = c.CreatedInFuture.LedgerTime
	case c.TemporarilyUnavailable != nil:
		e.Kind = TemporarilyUnavailable
	case c.Duplicate != nil:
		e.Kind = Duplicate
		e.DuplicateOf, err = natToU64(c.Duplicate.DuplicateOf, "duplicate_of")
	case c.GenericError != nil:
		e.Kind = GenericError
		e.Message = c.GenericError.Message
		e.ErrorCode, err = natToU64(c.GenericError.ErrorCode, "error_code")
	default:
		return nil, errors.New("ic: TransferError with no arm set")
	}
	return e, err
}

// Error is a failure other than a ledger refusal: transport, replica
// rejection, verification, decoding.
type Error struct {
	// Op is the operation, e.g. "icrc1_transfer".
	Op string
	// Transient: retrying (with the same arguments) may succeed.
	Transient bool
	// OutcomeUnknown: an update may have been executed although no verified
	// answer arrived; resend with the same created_at_time and memo (the
	// ledger de-duplicates) or reconcile from blocks.
	OutcomeUnknown bool
	// RejectCode is the IC reject code (1 SYS_FATAL, 2 SYS_TRANSIENT,
	// 3 DESTINATION_INVALID, 4 CANISTER_REJECT, 5 CANISTER_ERROR), 0 if none.
	RejectCode uint64
	// HTTPStatus is the replica's HTTP status, 0 if none.
	HTTPStatus int
	Err        error
}

func (e *Error) Error() string {
	var tags string
	if e.Transient {
		tags += " (transient)"
	}
	if e.OutcomeUnknown {
		tags += " (outcome unknown: resend with the same arguments or reconcile)"
	}
	return fmt.Sprintf("ic: %s: %v%s", e.Op, e.Err, tags)
}

func (e *Error) Unwrap() error { return e.Err }

// IsTransient reports e.Transient, under the name
// pipeline/stage/retry.Classify looks for.
func (e *Error) IsTransient() bool { return e.Transient }

// IsTransient reports whether err is worth retrying with the same arguments.
func IsTransient(err error) bool {
	var te *TransferError
	if errors.As(err, &te) {
		return te.Transient()
	}
	var e *Error
	return errors.As(err, &e) && e.Transient
}

// IsOutcomeUnknown reports whether an update may have executed without a
// verified answer.
func IsOutcomeUnknown(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.OutcomeUnknown
}

// ErrUnverified marks a reply whose certificate failed verification. It is
// never transient: a forged or mis-keyed answer needs a person.
var ErrUnverified = errors.New("certificate verification failed")

// agent-go formats HTTP failures as "(code) status: body" and rejects as
// "(code) message[: error_code]".
var httpStatusRE = regexp.MustCompile(`^\((\d{3})\) `)
var rejectRE = regexp.MustCompile(`^\(([1-6])\) `)

// classify wraps an error from agent-go or the HTTP client. sent says
// whether the request may have reached the replica (for updates this makes
// a transport failure OutcomeUnknown).
func classify(op string, err error, update, sent bool) error {
	if err == nil {
		return nil
	}
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	e := &Error{Op: op, Err: err}
	msg := err.Error()
	var netErr net.Error
	switch {
	case errors.Is(err, context.Canceled):
		e.OutcomeUnknown = update && sent
	case errors.Is(err, context.DeadlineExceeded):
		e.Transient = true
		e.OutcomeUnknown = update && sent
	case errors.As(err, &netErr):
		e.Transient = true
		e.OutcomeUnknown = update && sent
	case httpStatusRE.MatchString(msg):
		code, _ := strconv.Atoi(httpStatusRE.FindStringSubmatch(msg)[1])
		e.HTTPStatus = code
		// 429 and 5xx: the replica or a boundary node is overloaded or down;
		// the call may still have been executed.
		e.Transient = code == 429 || code >= 500
		e.OutcomeUnknown = update && e.Transient
	case rejectRE.MatchString(msg):
		code, _ := strconv.Atoi(rejectRE.FindStringSubmatch(msg)[1])
		e.RejectCode = uint64(code)
		e.Transient = code == 2
	default:
		// Unknown failures (decode errors, protocol surprises) are fatal.
	}
	return e
}
