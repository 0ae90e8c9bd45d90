package ic

import (
	"context"
	"errors"

	"github.com/nodeshare/nodeshare/pipeline/payout"
)

// PayoutLedger is the ICP ledger as the payout stage's Ledger port
// (pipeline/stage/payout): transfers from the client's identity (the
// treasury), the fee, the treasury's balance and the blocks, with every
// failure sorted into the stage's vocabulary (pipeline/payout/ledger.go).
type PayoutLedger struct {
	Client *Client
	// Treasury is the account transfers come from: an account of the
	// client's identity, its default account for rewards, a pool's deposit
	// or bond subaccount for lifecycle transfers (docs/payouts.md).
	Treasury Account
}

// Fee is icrc1_fee.
func (l PayoutLedger) Fee(ctx context.Context) (uint64, error) {
	fee, err := l.Client.Fee(ctx)
	return fee, toPayoutError(err)
}

// TreasuryBalance is the treasury's icrc1_balance_of.
func (l PayoutLedger) TreasuryBalance(ctx context.Context) (uint64, error) {
	bal, err := l.Client.BalanceOf(ctx, l.Treasury)
	return bal, toPayoutError(err)
}

// TreasuryText is the treasury's ICRC-1 account text.
func (l PayoutLedger) TreasuryText() string { return AccountText(l.Treasury) }

// AccountID is the legacy account identifier of an ICRC-1 account text
// (blocks name accounts by it), or of a 64-hex account identifier itself.
func (l PayoutLedger) AccountID(icrc1Text string) ([32]byte, error) {
	if payout.IsAccountIdentifier(icrc1Text) {
		id, err := ParseAccountIdentifier(icrc1Text)
		return [32]byte(id), err
	}
	a, err := AccountFromText(icrc1Text)
	if err != nil {
		return [32]byte{}, err
	}
	return LegacyAccountID(a), nil
}

// Transfer sends r from the treasury: with icrc1_transfer to an ICRC-1
// account, with the legacy transfer method (and the folded nat64 memo,
// payout.LegacyMemo) to a legacy account identifier.
func (l PayoutLedger) Transfer(ctx context.Context, r payout.TransferRequest) (uint64, error) {
	if payout.IsAccountIdentifier(r.To) {
		id, err := ParseAccountIdentifier(r.To)
		if err != nil {
			return 0, &payout.CallError{Err: err}
		}
		blk, err := l.Client.TransferToAccountID(ctx, AccountIDTransferRequest{FromSubaccount: l.Treasury.SubAccount, To: id, AmountE8s: r.AmountE8s, FeeE8s: r.FeeE8s,
			Memo: payout.LegacyMemo(r.Memo), CreatedAtNanos: r.CreatedAtNanos})
		return blk, toPayoutError(err)
	}
	to, err := AccountFromText(r.To)
	if err != nil {
		return 0, &payout.CallError{Err: err}
	}
	fee := r.FeeE8s
	blk, err := l.Client.Transfer(ctx, TransferRequest{FromSubaccount: l.Treasury.SubAccount, To: to, AmountE8s: r.AmountE8s, FeeE8s: &fee, Memo: r.Memo, CreatedAtNanos: r.CreatedAtNanos})
	return blk, toPayoutError(err)
}

// QueryBlocks reads up to length blocks from start.
func (l PayoutLedger) QueryBlocks(ctx context.Context, start, length uint64) (payout.BlocksPage, error) {
	p, err := l.Client.QueryBlocks(ctx, start, length)
	if err != nil {
		return payout.BlocksPage{}, toPayoutError(err)
	}
	out := payout.BlocksPage{ChainLength: p.ChainLength, FirstBlockIndex: p.FirstBlockIndex, Blocks: make([]payout.Block, len(p.Blocks))}
	for i, b := range p.Blocks {
		out.Blocks[i] = payout.Block{Index: b.Index, TimestampNanos: b.TimestampNanos, Op: b.Op, From: b.From, To: b.To,
			AmountE8s: b.AmountE8s, FeeE8s: b.FeeE8s, Memo: b.Memo, LegacyMemo: b.LegacyMemo, CreatedAtNanos: b.CreatedAtNanos}
	}
	return out, nil
}

// ReadBlocks reads [start, end) through the verified block reader: every
// block proven by the parent-hash chain up to the certified tip.
func (l PayoutLedger) ReadBlocks(ctx context.Context, start, end uint64) ([]payout.Block, error) {
	v, err := l.Client.ReadBlocks(ctx, start, end)
	if err != nil {
		return nil, toPayoutError(err)
	}
	out := make([]payout.Block, len(v.Blocks))
	for i, b := range v.Blocks {
		out[i] = payout.Block{Index: b.Index, TimestampNanos: b.TimestampNanos, Op: b.Op, From: b.From, To: b.To,
			AmountE8s: b.AmountE8s, FeeE8s: b.FeeE8s, Memo: b.Memo, LegacyMemo: b.LegacyMemo, CreatedAtNanos: b.CreatedAtNanos}
	}
	return out, nil
}

// signingFailed is how the signer (connectors/vault.ErrSigning) marks a
// request it could not sign, hence never sent.
type signingFailed interface{ SigningFailed() bool }

// toPayoutError sorts a ledger failure: a certified refusal becomes a
// *payout.Refusal, anything else a *payout.CallError.
func toPayoutError(err error) error {
	if err == nil {
		return nil
	}
	var te *TransferError
	if errors.As(err, &te) {
		r := &payout.Refusal{Kind: payout.Other, Err: err}
		switch te.Kind {
		case BadFee:
			r.Kind = payout.BadFee
		case InsufficientFunds:
			r.Kind = payout.InsufficientFunds
		case TooOld:
			r.Kind = payout.TooOld
		case CreatedInFuture:
			r.Kind = payout.CreatedInFuture
		case TemporarilyUnavailable:
			r.Kind = payout.TemporarilyUnavailable
		case Duplicate:
			r.Kind, r.DuplicateOf = payout.Duplicate, te.DuplicateOf
		}
		return r
	}
	var sf signingFailed
	unknown := IsOutcomeUnknown(err)
	return &payout.CallError{Err: err, Transient: IsTransient(err), OutcomeUnknown: unknown,
		NotSent: errors.As(err, &sf) && sf.SigningFailed() && !unknown}
}
