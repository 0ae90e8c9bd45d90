package icsim

import (
	"encoding/hex"
	"fmt"

	"github.com/aviate-labs/agent-go/candid/idl"
	"github.com/aviate-labs/agent-go/principal"
)

// The ICP ledger's own (pre-ICRC-1) interface: transfer to a 32-byte
// account identifier with a nat64 memo, and account_balance by account
// identifier (rs/ledger_suite/icp/ledger.did; the logic follows
// rs/ledger_suite/icp/ledger/src/main.rs transfer and send).

type candidLegacyTransferArgs struct {
	Memo           uint64           `ic:"memo"`
	Amount         candidTokens     `ic:"amount"`
	Fee            candidTokens     `ic:"fee"`
	FromSubaccount *[]byte          `ic:"from_subaccount"`
	To             []byte           `ic:"to"`
	CreatedAtTime  *candidTimeStamp `ic:"created_at_time"`
}

type candidLegacyTransferError struct {
	BadFee *struct {
		ExpectedFee candidTokens `ic:"expected_fee"`
	} `ic:"BadFee,variant"`
	InsufficientFunds *struct {
		Balance candidTokens `ic:"balance"`
	} `ic:"InsufficientFunds,variant"`
	TxTooOld *struct {
		AllowedWindowNanos uint64 `ic:"allowed_window_nanos"`
	} `ic:"TxTooOld,variant"`
	TxCreatedInFuture *idl.Null `ic:"TxCreatedInFuture,variant"`
	TxDuplicate       *struct {
		DuplicateOf uint64 `ic:"duplicate_of"`
	} `ic:"TxDuplicate,variant"`
}

type candidLegacyTransferResult struct {
	Ok  *uint64                    `ic:"Ok,variant"`
	Err *candidLegacyTransferError `ic:"Err,variant"`
}

type candidAccountBalanceArgs struct {
	Account []byte `ic:"account"`
}

type candidTransferFee struct {
	TransferFee candidTokens `ic:"transfer_fee"`
}

// throttleMessage is the ledger's panic when its de-duplication window is
// full (rs/ledger_suite/icp/ledger/src/lib.rs add_payment_with_timestamp,
// TxThrottled): the legacy endpoint traps where ICRC-1 answers
// TemporarilyUnavailable.
const throttleMessage = "Too many transactions in replay prevention window, ledger is throttling, please retry later"

// parseAccountIDBlob checks a 32-byte account identifier's CRC32 and
// returns its hex form; anything else traps, like the ledger's
// AccountIdentifier::from_address ("Invalid account identifier").
func parseAccountIDBlob(b []byte) (string, error) {
	if len(b) != 32 {
		// [u8; 32] does not decode from a blob of another length.
		return "", trap("failed to decode call arguments: account identifier must be 32 bytes, got %d", len(b))
	}
	var h principal.AccountIdentifier
	copy(h[:], b[4:])
	if want := h.Bytes(); string(want[:4]) != string(b[:4]) {
		return "", trap("Invalid account identifier: Checksum failed for %x, expected check bytes %x but found %x", b, want[:4], b[:4])
	}
	return hex.EncodeToString(b), nil
}

// tokensText is ic_ledger_core's Display of Tokens ("0.00010000").
func tokensText(e8s uint64) string {
	return fmt.Sprintf("%d.%08d", e8s/100_000_000, e8s%100_000_000)
}

// legacyTransfer runs the transfer endpoint: the destination's checksum
// (trap), the anonymous caller (trap "Sending from ... is not allowed"),
// then send()'s minting-account checks in its order, mint (from the minting
// account) before burn (to it), both as asserts that trap: a mint or burn
// with a fee traps, a mint to the minting account traps, a burn below the
// fee traps. Any other transfer's fee must equal the ledger fee (BadFee).
// created_at_time defaults to now (add_payment: created_at_time.or(now)),
// so every legacy transfer is de-duplicated. The refusals are
// TxTooOld{allowed_window_nanos}, TxCreatedInFuture, TxDuplicate,
// InsufficientFunds; throttling traps.
func (l *ledger) legacyTransfer(caller principal.Principal, arg candidLegacyTransferArgs, nowNanos uint64, throttled bool) (*Block, *candidLegacyTransferError, error) {
	toID, err := parseAccountIDBlob(arg.To)
	if err != nil {
		return nil, nil, err
	}
	from, err := toAccount(caller, arg.FromSubaccount)
	if err != nil {
		return nil, nil, err
	}
	if caller.Equal(principal.AnonymousID) {
		return nil, nil, trap("Sending from %s is not allowed", caller)
	}
	fromID := accountID(from)
	created := nowNanos
	if arg.CreatedAtTime != nil {
		created = arg.CreatedAtTime.TimestampNanos
	}
	b := Block{
		Index:          uint64(len(l.blocks)),
		TimestampNanos: l.stamp(nowNanos),
		From:           fromID,
		To:             toID,
		FromAccount:    from.Encode(),
		AmountE8s:      arg.Amount.E8s,
		LegacyMemo:     arg.Memo,
		CreatedAtNanos: &created,
	}
	mintingID := accountID(l.minting)
	switch {
	case fromID == mintingID:
		if arg.Fee.E8s != 0 {
			return nil, nil, trap("Fee for minting should be zero")
		}
		if toID == mintingID {
			return nil, nil, trap("It is illegal to mint to a minting_account")
		}
		b.Op = OpMint
		b.From, b.FromAccount = "", ""
	case toID == mintingID:
		if arg.Fee.E8s != 0 {
			return nil, nil, trap("Fee for burning should be zero")
		}
		if arg.Amount.E8s < LedgerFeeE8s {
			return nil, nil, trap("Burns lower than %s are not allowed", tokensText(LedgerFeeE8s))
		}
		b.Op = OpBurn
		b.To = ""
	default:
		if arg.Fee.E8s != LedgerFeeE8s {
			e := &candidLegacyTransferError{BadFee: &struct {
				ExpectedFee candidTokens `ic:"expected_fee"`
			}{candidTokens{LedgerFeeE8s}}}
			return nil, e, nil
		}
		b.Op = OpTransfer
		b.FeeE8s = LedgerFeeE8s
	}
	r, err := l.admit(b, nowNanos, throttled)
	if err != nil {
		return nil, nil, err
	}
	if r == nil {
		return &b, nil, nil
	}
	e := &candidLegacyTransferError{}
	switch r.kind {
	case refusedThrottled:
		return nil, nil, trap("%s", throttleMessage)
	case refusedTooOld:
		e.TxTooOld = &struct {
			AllowedWindowNanos uint64 `ic:"allowed_window_nanos"`
		}{uint64(dedupWindow)}
	case refusedCreatedInFuture:
		e.TxCreatedInFuture = &idl.Null{}
	case refusedDuplicate:
		e.TxDuplicate = &struct {
			DuplicateOf uint64 `ic:"duplicate_of"`
		}{r.duplicateOf}
	default:
		e.InsufficientFunds = &struct {
			Balance candidTokens `ic:"balance"`
		}{candidTokens{r.balance}}
	}
	return nil, e, nil
}

func ledgerLegacyTransfer(s *Server, c callContext, arg []byte) ([]byte, error) {
	var a candidLegacyTransferArgs
	if err := decodeArgs(arg, &a); err != nil {
		return nil, err
	}
	b, terr, err := s.ledger.legacyTransfer(c.caller, a, c.now, c.faults.temporarilyUnavailable)
	if err != nil {
		return nil, err
	}
	if terr != nil {
		return encode(candidLegacyTransferResult{Err: terr})
	}
	if err := s.commitBlock(*b); err != nil {
		return nil, err
	}
	idx := b.Index
	return encode(candidLegacyTransferResult{Ok: &idx})
}

// ledgerAccountBalance is account_balance: a blob that is not 32 bytes
// reads as zero tokens, a bad checksum traps (main.rs
// account_balance_candid_).
func ledgerAccountBalance(s *Server, _ callContext, arg []byte) ([]byte, error) {
	var a candidAccountBalanceArgs
	if err := decodeArgs(arg, &a); err != nil {
		return nil, err
	}
	if len(a.Account) != 32 {
		return encode(candidTokens{0})
	}
	id, err := parseAccountIDBlob(a.Account)
	if err != nil {
		return nil, err
	}
	return encode(candidTokens{s.ledger.balances[id]})
}
