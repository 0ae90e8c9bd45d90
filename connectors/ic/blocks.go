package ic

import (
	"context"
	"errors"
	"fmt"
)

// Candid shapes of query_blocks (ledger.did, docs/ic-interfaces.md §4.2). QueryBlocks
// reads the ledger's own blocks only (ErrArchived below first_block_index);
// ReadBlocks (blockreader.go) also follows archived_blocks into the archive
// canisters and verifies every block against the certified tip.

type candidTokens struct {
	E8s uint64 `ic:"e8s"`
}

type candidTimeStamp struct {
	TimestampNanos uint64 `ic:"timestamp_nanos"`
}

type candidOperation struct {
	Approve *struct {
		Fee               candidTokens     `ic:"fee"`
		From              []byte           `ic:"from"`
		Spender           []byte           `ic:"spender"`
		Allowance         candidTokens     `ic:"allowance"`
		ExpectedAllowance *candidTokens    `ic:"expected_allowance"`
		ExpiresAt         *candidTimeStamp `ic:"expires_at"`
	} `ic:"Approve,variant"`
	Burn *struct {
		From    []byte       `ic:"from"`
		Amount  candidTokens `ic:"amount"`
		Spender *[]byte      `ic:"spender"`
	} `ic:"Burn,variant"`
	Mint *struct {
		To     []byte       `ic:"to"`
		Amount candidTokens `ic:"amount"`
	} `ic:"Mint,variant"`
	Transfer *struct {
		To      []byte       `ic:"to"`
		Fee     candidTokens `ic:"fee"`
		From    []byte       `ic:"from"`
		Amount  candidTokens `ic:"amount"`
		Spender *[]byte      `ic:"spender"`
	} `ic:"Transfer,variant"`
}

type candidBlock struct {
	ParentHash  *[]byte `ic:"parent_hash"`
	Transaction struct {
		Memo          uint64           `ic:"memo"`
		ICRC1Memo     *[]byte          `ic:"icrc1_memo"`
		Operation     *candidOperation `ic:"operation"`
		CreatedAtTime candidTimeStamp  `ic:"created_at_time"`
	} `ic:"transaction"`
	Timestamp candidTimeStamp `ic:"timestamp"`
}

type candidQueryBlocksResponse struct {
	ChainLength     uint64        `ic:"chain_length"`
	Certificate     *[]byte       `ic:"certificate"`
	Blocks          []candidBlock `ic:"blocks"`
	FirstBlockIndex uint64        `ic:"first_block_index"`
}

// Block operation kinds.
const (
	OpMint     = "mint"
	OpBurn     = "burn"
	OpTransfer = "transfer"
	OpApprove  = "approve"
)

// LedgerBlock is one ICP ledger block as the ledger records it. Accounts are
// 32-byte legacy account identifiers (zero when the operation has none).
type LedgerBlock struct {
	Index          uint64
	TimestampNanos uint64
	Op             string
	From           AccountIdentifier
	To             AccountIdentifier
	AmountE8s      uint64
	FeeE8s         uint64
	// Memo is the ICRC-1 memo; nil when absent (an empty memo is non-nil).
	Memo []byte
	// LegacyMemo is the nat64 memo of the legacy transfer API (0 for ICRC-1).
	LegacyMemo     uint64
	CreatedAtNanos uint64
	ParentHash     []byte
}

// BlocksPage is one query_blocks answer.
type BlocksPage struct {
	ChainLength     uint64
	FirstBlockIndex uint64
	Blocks          []LedgerBlock
}

// ErrArchived: the requested blocks were moved to an archive canister;
// QueryBlocks does not follow archives, ReadBlocks does.
var ErrArchived = errors.New("blocks are archived; read them with ReadBlocks")

// QueryBlocks reads up to length blocks from start (the ledger caps a page
// at 2000). It is a verified query, but a query: one replica's answer, and
// the blocks are not checked against the ledger's certified tip (ReadBlocks
// does that).
func (c *Client) QueryBlocks(ctx context.Context, start, length uint64) (BlocksPage, error) {
	const op = "query_blocks"
	args := struct {
		Start  uint64 `ic:"start"`
		Length uint64 `ic:"length"`
	}{start, length}
	var resp candidQueryBlocksResponse
	if err := c.query(ctx, LedgerCanisterID, op, []any{args}, []any{&resp}); err != nil {
		return BlocksPage{}, err
	}
	page := BlocksPage{ChainLength: resp.ChainLength, FirstBlockIndex: resp.FirstBlockIndex}
	if start < resp.FirstBlockIndex && start < resp.ChainLength {
		return page, &Error{Op: op, Err: fmt.Errorf("blocks [%d, %d): %w", start, resp.FirstBlockIndex, ErrArchived)}
	}
	for i, cb := range resp.Blocks {
		b, err := fromCandidBlock(resp.FirstBlockIndex+uint64(i), cb)
		if err != nil {
			return page, &Error{Op: op, Err: err}
		}
		page.Blocks = append(page.Blocks, b)
	}
	return page, nil
}

// Blocks reads every block in [start, end), paging as needed; end beyond the
// chain stops at the chain's end.
func (c *Client) Blocks(ctx context.Context, start, end uint64) ([]LedgerBlock, error) {
	var out []LedgerBlock
	for start < end {
		page, err := c.QueryBlocks(ctx, start, min(end-start, 2000))
		if err != nil {
			return out, err
		}
		if len(page.Blocks) == 0 {
			return out, nil
		}
		out = append(out, page.Blocks...)
		start += uint64(len(page.Blocks))
	}
	return out, nil
}

func accountIDFrom(b []byte) (AccountIdentifier, error) {
	if len(b) != 32 {
		return AccountIdentifier{}, fmt.Errorf("account identifier must be 32 bytes, got %d", len(b))
	}
	var id AccountIdentifier
	copy(id[:], b)
	return id, nil
}

func fromCandidBlock(index uint64, cb candidBlock) (LedgerBlock, error) {
	b := LedgerBlock{
		Index:          index,
		TimestampNanos: cb.Timestamp.TimestampNanos,
		LegacyMemo:     cb.Transaction.Memo,
		CreatedAtNanos: cb.Transaction.CreatedAtTime.TimestampNanos,
	}
	if cb.ParentHash != nil {
		b.ParentHash = append([]byte{}, (*cb.ParentHash)...)
	}
	if cb.Transaction.ICRC1Memo != nil {
		b.Memo = append([]byte{}, (*cb.Transaction.ICRC1Memo)...)
	}
	op := cb.Transaction.Operation
	var err error
	switch {
	case op == nil:
		return b, fmt.Errorf("block %d has no operation", index)
	case op.Mint != nil:
		b.Op, b.AmountE8s = OpMint, op.Mint.Amount.E8s
		b.To, err = accountIDFrom(op.Mint.To)
	case op.Burn != nil:
		b.Op, b.AmountE8s = OpBurn, op.Burn.Amount.E8s
		b.From, err = accountIDFrom(op.Burn.From)
	case op.Transfer != nil:
		b.Op, b.AmountE8s, b.FeeE8s = OpTransfer, op.Transfer.Amount.E8s, op.Transfer.Fee.E8s
		if b.From, err = accountIDFrom(op.Transfer.From); err == nil {
			b.To, err = accountIDFrom(op.Transfer.To)
		}
	case op.Approve != nil:
		b.Op, b.FeeE8s = OpApprove, op.Approve.Fee.E8s
		b.From, err = accountIDFrom(op.Approve.From)
	default:
		return b, fmt.Errorf("block %d has an unknown operation", index)
	}
	if err != nil {
		return b, fmt.Errorf("block %d: %w", index, err)
	}
	return b, nil
}
