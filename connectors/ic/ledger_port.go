package ic

import (
	"context"
	"encoding/hex"
	"fmt"
	"math"
	"time"

	"github.com/nodeshare/nodeshare/schemas"
)

// LedgerSource is the ICP ledger as the connect stage's Ledger port
// (pipeline/stage/connect) sees it: blocks proven against the certified
// tip (ReadBlocks, blockreader.go) mapped to schemas.LedgerBlock, with the
// provenance of the read. Like ConnectSource it adds no retries.
type LedgerSource struct{ Client *Client }

const portOpQueryBlocks = "query_blocks"

// Canister is the ledger's canister id, the <ledger> of the keys on
// ic.ledger-blocks.v1.
func (s LedgerSource) Canister() string { return LedgerCanisterID.String() }

// ChainLength is the number of blocks as query_blocks reports it. It is
// the replica's word: the ICP ledger certifies the tip's hash, not its
// index (blockreader.go), so use it only as a place to start reading.
func (s LedgerSource) ChainLength(ctx context.Context) (uint64, error) {
	var r candidQueryBlocksResponse
	if err := s.Client.query(ctx, LedgerCanisterID, portOpQueryBlocks, []any{getBlocksArgs{Start: 0, Length: 0}}, []any{&r}); err != nil {
		return 0, err
	}
	return r.ChainLength, nil
}

// ReadBlocks returns blocks [start, end) of the ledger, clipped to the
// chain, each one proven: its hash chains to the tip the certificate
// vouches for (Client.ReadBlocks, which follows the archives). chainLength
// is the number of blocks of that certified chain. The provenance names
// the ledger, query_blocks and the certificate's time. A block that does
// not chain, a certificate that does not verify or a gap is an error and
// no block is returned.
func (s LedgerSource) ReadBlocks(ctx context.Context, start, end uint64) (blocks []schemas.LedgerBlock, chainLength uint64, prov schemas.Provenance, err error) {
	prov = schemas.Provenance{Source: "ic", Canister: LedgerCanisterID.String(), Method: portOpQueryBlocks}
	if end <= start {
		return nil, 0, prov, fmt.Errorf("ic: read blocks [%d, %d): an empty range", start, end)
	}
	// One block more than asked: the next block's parent_hash is the hash
	// of the last one returned (the reader reads up to the tip anyway).
	ask := end
	if ask < math.MaxUint64 {
		ask++
	}
	vb, err := s.Client.ReadBlocks(ctx, start, ask)
	if err != nil {
		return nil, 0, prov, err
	}
	prov.CertTimeNanos = vb.Tip.CertTimeNanos
	for i, b := range vb.Blocks {
		if b.Index >= end {
			break
		}
		var hash []byte
		switch {
		case i+1 < len(vb.Blocks):
			hash = vb.Blocks[i+1].ParentHash
		case b.Index+1 == vb.Tip.ChainLength:
			hash = vb.Tip.Hash[:]
		default:
			return nil, 0, prov, &Error{Op: portOpQueryBlocks, Err: fmt.Errorf("%w: block %d is neither the tip nor followed by a block naming its hash", ErrBrokenChain, b.Index)}
		}
		blocks = append(blocks, ledgerBlockOf(b, hash))
	}
	return blocks, vb.Tip.ChainLength, prov, nil
}

// ledgerBlockOf is b as published on ic.ledger-blocks.v1: accounts and
// hashes in lowercase hex (no account: ""), the block time as RFC 3339
// with nanoseconds, UTC.
func ledgerBlockOf(b LedgerBlock, hash []byte) schemas.LedgerBlock {
	out := schemas.LedgerBlock{
		Ledger:         LedgerCanisterID.String(),
		Index:          b.Index,
		Time:           time.Unix(0, int64(b.TimestampNanos)).UTC().Format(time.RFC3339Nano),
		TimestampNanos: b.TimestampNanos,
		Op:             b.Op,
		AmountE8s:      b.AmountE8s,
		FeeE8s:         b.FeeE8s,
		LegacyMemo:     b.LegacyMemo,
		CreatedAtNanos: b.CreatedAtNanos,
		ParentHashHex:  hex.EncodeToString(b.ParentHash),
		HashHex:        hex.EncodeToString(hash),
	}
	var zero AccountIdentifier
	if b.From != zero {
		out.From = b.From.String()
	}
	if b.To != zero {
		out.To = b.To.String()
	}
	if b.Memo != nil {
		m := hex.EncodeToString(b.Memo)
		out.MemoHex = &m
	}
	return out
}
