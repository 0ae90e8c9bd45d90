package ic

import (
	"github.com/aviate-labs/agent-go/candid/idl"
	"github.com/aviate-labs/agent-go/principal"
)

// Candid shapes of ledger.did (ICRC-1). icrc.Account has no ic tags, hence
// candidAccount. Every TransferError arm is declared: agent-go fails to
// decode a variant arm that the Go struct lacks.

type candidAccount struct {
	Owner      principal.Principal `ic:"owner"`
	Subaccount *[]byte             `ic:"subaccount"`
}

func toCandidAccount(a Account) candidAccount {
	c := candidAccount{Owner: a.Owner}
	if a.SubAccount != nil {
		sub := append([]byte{}, a.SubAccount[:]...)
		c.Subaccount = &sub
	}
	return c
}

type candidTransferArg struct {
	FromSubaccount *[]byte       `ic:"from_subaccount"`
	To             candidAccount `ic:"to"`
	Amount         idl.Nat       `ic:"amount"`
	Fee            *idl.Nat      `ic:"fee"`
	Memo           *[]byte       `ic:"memo"`
	CreatedAtTime  *uint64       `ic:"created_at_time"`
}

type candidTransferError struct {
	BadFee *struct {
		ExpectedFee idl.Nat `ic:"expected_fee"`
	} `ic:"BadFee,variant"`
	BadBurn *struct {
		MinBurnAmount idl.Nat `ic:"min_burn_amount"`
	} `ic:"BadBurn,variant"`
	InsufficientFunds *struct {
		Balance idl.Nat `ic:"balance"`
	} `ic:"InsufficientFunds,variant"`
	TooOld          *idl.Null `ic:"TooOld,variant"`
	CreatedInFuture *struct {
		LedgerTime uint64 `ic:"ledger_time"`
	} `ic:"CreatedInFuture,variant"`
	TemporarilyUnavailable *idl.Null `ic:"TemporarilyUnavailable,variant"`
	Duplicate              *struct {
		DuplicateOf idl.Nat `ic:"duplicate_of"`
	} `ic:"Duplicate,variant"`
	GenericError *struct {
		ErrorCode idl.Nat `ic:"error_code"`
		Message   string  `ic:"message"`
	} `ic:"GenericError,variant"`
}

type candidTransferResult struct {
	Ok  *idl.Nat             `ic:"Ok,variant"`
	Err *candidTransferError `ic:"Err,variant"`
}
