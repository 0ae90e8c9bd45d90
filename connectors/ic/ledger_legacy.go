package ic

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aviate-labs/agent-go/candid"
	"github.com/aviate-labs/agent-go/candid/idl"

	"github.com/nodeshare/nodeshare/schemas/didl"
)

// The ICP ledger's own transfer, from before ICRC-1 (ledger.did transfer :
// (TransferArgs) -> (TransferResult)). It names the destination by its
// 32-byte account identifier, which is what exchanges and hardware wallets
// hand out, takes a nat64 memo, and needs the fee spelled out.

type candidICPTokens struct {
	E8s uint64 `ic:"e8s"`
}

type candidICPTimeStamp struct {
	TimestampNanos uint64 `ic:"timestamp_nanos"`
}

type candidICPTransferArgs struct {
	Memo           uint64              `ic:"memo"`
	Amount         candidICPTokens     `ic:"amount"`
	Fee            candidICPTokens     `ic:"fee"`
	FromSubaccount *[]byte             `ic:"from_subaccount"`
	To             []byte              `ic:"to"`
	CreatedAtTime  *candidICPTimeStamp `ic:"created_at_time"`
}

// candidICPTransferError declares every arm of the legacy TransferError.
type candidICPTransferError struct {
	BadFee *struct {
		ExpectedFee candidICPTokens `ic:"expected_fee"`
	} `ic:"BadFee,variant"`
	InsufficientFunds *struct {
		Balance candidICPTokens `ic:"balance"`
	} `ic:"InsufficientFunds,variant"`
	TxTooOld *struct {
		AllowedWindowNanos uint64 `ic:"allowed_window_nanos"`
	} `ic:"TxTooOld,variant"`
	TxCreatedInFuture *idl.Null `ic:"TxCreatedInFuture,variant"`
	TxDuplicate       *struct {
		DuplicateOf uint64 `ic:"duplicate_of"`
	} `ic:"TxDuplicate,variant"`
}

type candidICPTransferResult struct {
	Ok  *uint64                 `ic:"Ok,variant"`
	Err *candidICPTransferError `ic:"Err,variant"`
}

// AccountIDTransferRequest is one transfer with the ledger's own
// (pre-ICRC-1) transfer method, from the client's identity to an account
// identifier.
type AccountIDTransferRequest struct {
	// FromSubaccount of the sender; nil is the default subaccount.
	FromSubaccount *[32]byte
	// To is the destination's 32-byte account identifier (CRC included).
	To        AccountIdentifier
	AmountE8s uint64
	// FeeE8s must be the ledger fee (read Fee); the method has no "let the
	// ledger pick". A transfer to or from the minting account takes 0.
	FeeE8s uint64
	// Memo is the nat64 memo the ledger records in the block's memo field.
	Memo uint64
	// CreatedAtNanos is created_at_time in ns since the Unix epoch. Set it
	// and keep it for retries: the ledger then de-duplicates a resend within
	// 24 h. 0 omits it and the ledger records its own time, so a resend is
	// a second transfer.
	CreatedAtNanos uint64
}

// Validate checks the request without contacting the ledger: the
// destination's CRC (the ledger traps on a bad one).
func (r AccountIDTransferRequest) Validate() error {
	if _, err := ParseAccountIdentifier(r.To.String()); err != nil {
		return fmt.Errorf("ic: transfer: destination: %w", err)
	}
	return nil
}

func (r AccountIDTransferRequest) candid() candidICPTransferArgs {
	arg := candidICPTransferArgs{Memo: r.Memo, Amount: candidICPTokens{r.AmountE8s}, Fee: candidICPTokens{r.FeeE8s}, To: append([]byte{}, r.To[:]...)}
	if r.FromSubaccount != nil {
		sub := append([]byte{}, r.FromSubaccount[:]...)
		arg.FromSubaccount = &sub
	}
	if r.CreatedAtNanos != 0 {
		arg.CreatedAtTime = &candidICPTimeStamp{r.CreatedAtNanos}
	}
	return arg
}

// legacyThrottled is the start of the trap the legacy transfer answers when
// the ledger's de-duplication window is full (rs/ledger_suite/icp/ledger/
// src/lib.rs, TxThrottled): nothing was recorded, and a later retry can
// succeed.
const legacyThrottled = "Too many transactions in replay prevention window"

// TransferToAccountID sends the ledger's legacy transfer and returns the
// index of the block that holds it. Like Transfer, the result comes only
// from a verified certificate (update.go). The ledger's refusals are a
// *TransferError with the same kinds as ICRC-1: BadFee, InsufficientFunds,
// TooOld (TxTooOld; AllowedWindowNanos set), CreatedInFuture
// (TxCreatedInFuture; LedgerTime is 0, the method does not report it) and
// Duplicate (TxDuplicate: the transfer already happened, see IsDuplicate).
// Where ICRC-1 answers with an error the legacy method traps: a certified
// reject (*Error, RejectCode 5) for a mint or burn with a fee, a burn below
// the fee, a bad destination, an anonymous sender; and for throttling,
// which is marked Transient.
func (c *Client) TransferToAccountID(ctx context.Context, r AccountIDTransferRequest) (blockIndex uint64, err error) {
	const op = "transfer"
	if err := r.Validate(); err != nil {
		return 0, &Error{Op: op, Err: err}
	}
	arg, err := didl.Marshal(r.candid())
	if err != nil {
		return 0, &Error{Op: op, Err: fmt.Errorf("encode arguments: %w", err)}
	}
	reply, err := c.update(ctx, LedgerCanisterID, op, arg)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.RejectCode == 5 && strings.Contains(e.Err.Error(), legacyThrottled) {
			// A certified trap: not executed, and worth retrying later.
			e.Transient = true
		}
		return 0, err
	}
	var res candidICPTransferResult
	if err := candid.Unmarshal(reply, []any{&res}); err != nil {
		return 0, &Error{Op: op, OutcomeUnknown: true, Err: fmt.Errorf("decode certified reply: %w", err)}
	}
	switch {
	case res.Ok != nil:
		c.log.Info("ic transfer", "method", op, "block_index", *res.Ok, "amount_e8s", r.AmountE8s, "to", r.To.String())
		return *res.Ok, nil
	case res.Err != nil:
		te, err := fromCandidICPTransferError(res.Err)
		if err != nil {
			return 0, &Error{Op: op, OutcomeUnknown: true, Err: err}
		}
		return 0, te
	}
	return 0, &Error{Op: op, OutcomeUnknown: true, Err: errors.New("certified reply has neither Ok nor Err")}
}

func fromCandidICPTransferError(c *candidICPTransferError) (*TransferError, error) {
	switch {
	case c.BadFee != nil:
		return &TransferError{Kind: BadFee, ExpectedFee: c.BadFee.ExpectedFee.E8s}, nil
	case c.InsufficientFunds != nil:
		return &TransferError{Kind: InsufficientFunds, Balance: c.InsufficientFunds.Balance.E8s}, nil
	case c.TxTooOld != nil:
		return &TransferError{Kind: TooOld, AllowedWindowNanos: c.TxTooOld.AllowedWindowNanos}, nil
	case c.TxCreatedInFuture != nil:
		return &TransferError{Kind: CreatedInFuture}, nil
	case c.TxDuplicate != nil:
		return &TransferError{Kind: Duplicate, DuplicateOf: c.TxDuplicate.DuplicateOf}, nil
	}
	return nil, errors.New("ic: legacy TransferError with no arm set")
}

// AccountBalance reads account_balance for an account identifier (verified
// query; one replica's answer, like BalanceOf).
func (c *Client) AccountBalance(ctx context.Context, id AccountIdentifier) (uint64, error) {
	arg := struct {
		Account []byte `ic:"account"`
	}{append([]byte{}, id[:]...)}
	var bal candidICPTokens
	if err := c.query(ctx, LedgerCanisterID, "account_balance", []any{arg}, []any{&bal}); err != nil {
		return 0, err
	}
	return bal.E8s, nil
}
