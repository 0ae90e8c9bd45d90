package ic

import (
	"context"
	"fmt"

	"github.com/aviate-labs/agent-go/candid"
	"github.com/aviate-labs/agent-go/candid/idl"

	"github.com/nodeshare/nodeshare/schemas/didl"
)

// MaxMemoBytes is the ICP ledger's ICRC-1 memo limit; a longer memo traps.
const MaxMemoBytes = 32

// Fee reads icrc1_fee (verified query). Read it rather than hard-coding it.
func (c *Client) Fee(ctx context.Context) (uint64, error) {
	var fee idl.Nat
	if err := c.query(ctx, LedgerCanisterID, "icrc1_fee", []any{}, []any{&fee}); err != nil {
		return 0, err
	}
	v, err := natToU64(fee, "icrc1_fee")
	if err != nil {
		return 0, &Error{Op: "icrc1_fee", Err: err}
	}
	return v, nil
}

// BalanceOf reads icrc1_balance_of (verified query). A query is answered by
// one replica: it is not proof of payment; use Transfer's certified result
// or blocks for that.
func (c *Client) BalanceOf(ctx context.Context, a Account) (uint64, error) {
	var bal idl.Nat
	if err := c.query(ctx, LedgerCanisterID, "icrc1_balance_of", []any{toCandidAccount(a)}, []any{&bal}); err != nil {
		return 0, err
	}
	v, err := natToU64(bal, "balance")
	if err != nil {
		return 0, &Error{Op: "icrc1_balance_of", Err: err}
	}
	return v, nil
}

// TransferRequest is one icrc1_transfer from the client's identity.
type TransferRequest struct {
	// FromSubaccount of the sender; nil is the default subaccount.
	FromSubaccount *[32]byte
	To             Account
	AmountE8s      uint64
	// FeeE8s, when set, must equal the ledger fee (else BadFee); nil lets the
	// ledger charge its fee. Both forms de-duplicate against each other.
	FeeE8s *uint64
	// Memo is at most 32 bytes. nil is "no memo", which the ledger treats as
	// a different transaction from an empty memo.
	Memo []byte
	// CreatedAtNanos is created_at_time in ns since the Unix epoch. Set it
	// (and keep it for retries): only then does the ledger de-duplicate a
	// resend within 24 h. 0 omits it.
	CreatedAtNanos uint64
}

// Validate checks the request without contacting the ledger.
func (r TransferRequest) Validate() error {
	if len(r.Memo) > MaxMemoBytes {
		return fmt.Errorf("ic: transfer: memo is %d bytes, the ledger allows at most %d", len(r.Memo), MaxMemoBytes)
	}
	if len(r.To.Owner.Raw) == 0 {
		return fmt.Errorf("ic: transfer: destination owner is empty")
	}
	return nil
}

func (r TransferRequest) candid() candidTransferArg {
	arg := candidTransferArg{To: toCandidAccount(r.To), Amount: idl.NewNat(r.AmountE8s)}
	if r.FromSubaccount != nil {
		sub := append([]byte{}, r.FromSubaccount[:]...)
		arg.FromSubaccount = &sub
	}
	if r.FeeE8s != nil {
		fee := idl.NewNat(*r.FeeE8s)
		arg.Fee = &fee
	}
	if r.Memo != nil {
		memo := append([]byte{}, r.Memo...)
		arg.Memo = &memo
	}
	if r.CreatedAtNanos != 0 {
		t := r.CreatedAtNanos
		arg.CreatedAtTime = &t
	}
	return arg
}

// Transfer calls icrc1_transfer and returns the index of the block that
// holds it. The result comes only from a verified certificate. A ledger
// refusal is a *TransferError; a Duplicate refusal means the transfer is
// already in block DuplicateOf (see IsDuplicate). Other failures are *Error
// (see IsTransient, IsOutcomeUnknown).
func (c *Client) Transfer(ctx context.Context, r TransferRequest) (blockIndex uint64, err error) {
	const op = "icrc1_transfer"
	if err := r.Validate(); err != nil {
		return 0, &Error{Op: op, Err: err}
	}
	arg, err := didl.Marshal(r.candid())
	if err != nil {
		return 0, &Error{Op: op, Err: fmt.Errorf("encode arguments: %w", err)}
	}
	reply, err := c.update(ctx, LedgerCanisterID, op, arg)
	if err != nil {
		return 0, err
	}
	var res candidTransferResult
	if err := candid.Unmarshal(reply, []any{&res}); err != nil {
		// The reply was certified, so the transfer's outcome is known to the
		// ledger but not to us.
		return 0, &Error{Op: op, OutcomeUnknown: true, Err: fmt.Errorf("decode certified reply: %w", err)}
	}
	switch {
	case res.Ok != nil:
		idx, err := natToU64(*res.Ok, "block index")
		if err != nil {
			return 0, &Error{Op: op, OutcomeUnknown: true, Err: err}
		}
		c.log.Info("ic transfer", "block_index", idx, "amount_e8s", r.AmountE8s, "to", r.To.Encode())
		return idx, nil
	case res.Err != nil:
		te, err := fromCandidTransferError(res.Err)
		if err != nil {
			return 0, &Error{Op: op, OutcomeUnknown: true, Err: err}
		}
		return 0, te
	}
	return 0, &Error{Op: op, OutcomeUnknown: true, Err: fmt.Errorf("certified reply has neither Ok nor Err")}
}
