package icsim

import (
	"github.com/aviate-labs/agent-go/candid/idl"
	"github.com/aviate-labs/agent-go/principal"
)

// Candid shapes of the ICP ledger's ICRC-1 interface (ledger.did). They are
// written independently of connectors/ic on purpose: the simulator is a
// second implementation of the wire format, so a mismatch shows up in tests.

type candidAccount struct {
	Owner      principal.Principal `ic:"owner"`
	Subaccount *[]byte             `ic:"subaccount"`
}

type candidTransferArg struct {
	FromSubaccount *[]byte       `ic:"from_subaccount"`
	To             candidAccount `ic:"to"`
	Amount         idl.Nat       `ic:"amount"`
	Fee            *idl.Nat      `ic:"fee"`
	Memo           *[]byte       `ic:"memo"`
	CreatedAtTime  *uint64       `ic:"created_at_time"`
}

type candidBadFee struct {
	ExpectedFee idl.Nat `ic:"expected_fee"`
}

type candidBadBurn struct {
	MinBurnAmount idl.Nat `ic:"min_burn_amount"`
}

type candidInsufficientFunds struct {
	Balance idl.Nat `ic:"balance"`
}

type candidCreatedInFuture struct {
	LedgerTime uint64 `ic:"ledger_time"`
}

type candidDuplicate struct {
	DuplicateOf idl.Nat `ic:"duplicate_of"`
}

type candidGenericError struct {
	ErrorCode idl.Nat `ic:"error_code"`
	Message   string  `ic:"message"`
}

type candidTransferError struct {
	BadFee                 *candidBadFee            `ic:"BadFee,variant"`
	BadBurn                *candidBadBurn           `ic:"BadBurn,variant"`
	InsufficientFunds      *candidInsufficientFunds `ic:"InsufficientFunds,variant"`
	TooOld                 *idl.Null                `ic:"TooOld,variant"`
	CreatedInFuture        *candidCreatedInFuture   `ic:"CreatedInFuture,variant"`
	TemporarilyUnavailable *idl.Null                `ic:"TemporarilyUnavailable,variant"`
	Duplicate              *candidDuplicate         `ic:"Duplicate,variant"`
	GenericError           *candidGenericError      `ic:"GenericError,variant"`
}

type candidTransferResult struct {
	Ok  *idl.Nat             `ic:"Ok,variant"`
	Err *candidTransferError `ic:"Err,variant"`
}
