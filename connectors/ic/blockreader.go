package ic

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/aviate-labs/agent-go/candid/idl"
	"github.com/aviate-labs/agent-go/certification"
	"github.com/aviate-labs/agent-go/certification/hashtree"
	"github.com/fxamacker/cbor/v2"
)

// Reading ICP ledger blocks with proof. A query is one replica's answer,
// but the ICP ledger certifies the hash of its newest block: its
// certified_data is exactly those 32 bytes (dfinity/ic
// rs/ledger_suite/icp/ledger/src/main.rs, set_certified_data(&hash) after
// every block, 32 zero bytes for an empty chain), and query_blocks returns
// the subnet's certificate of it. Every block names its parent's hash, so a
// run of blocks that ends at the tip is proven by hashing it back from the
// certified hash, the way Rosetta's ledger_canister_blocks_synchronizer
// does (verify_tip_of_chain, then the parent hash of each block).
//
// What this does not prove: the index of a block. The ICP ledger certifies
// the tip's hash but not its index (unlike the ICRC-3 ledgers, which also
// certify last_block_index), so positions come from the replica unless the
// run reaches block 0, the only block without a parent; VerifiedBlocks
// says which. Content and order are proven either way.

// ErrBrokenChain: a block's hash is not the hash the certificate or the
// next block names for it.
var ErrBrokenChain = errors.New("block does not chain to the certified tip")

// ErrBlockGap: blocks between two read ranges were neither in the ledger
// nor in any archive it named.
var ErrBlockGap = errors.New("gap in the blocks read")

// CertifiedTip is the ledger's newest block as a certificate vouches for it.
type CertifiedTip struct {
	// ChainLength is the number of blocks; the tip is block ChainLength-1.
	// It comes from the replica: the certificate covers only the hash.
	ChainLength uint64
	// Hash is the ledger's certified data: the hash of the tip (32 zero
	// bytes for an empty chain).
	Hash [32]byte
	// CertTimeNanos is the certificate's /time.
	CertTimeNanos uint64
}

// VerifiedBlocks is a run of blocks whose hashes chain to a certified tip.
type VerifiedBlocks struct {
	Tip CertifiedTip
	// Blocks are the blocks asked for, clipped to the chain.
	Blocks []LedgerBlock
	// IndicesCertified: the run read reached block 0, so every position is
	// fixed by the hash chain too, not only the replica's word.
	IndicesCertified bool
}

// queryBlocksReply is query_blocks' reply with archived_blocks (agent-go
// decodes the callback into an idl.Function).
type queryBlocksReply struct {
	ChainLength     uint64          `ic:"chain_length"`
	Certificate     *[]byte         `ic:"certificate"`
	Blocks          []candidBlock   `ic:"blocks"`
	FirstBlockIndex uint64          `ic:"first_block_index"`
	ArchivedBlocks  []archivedRange `ic:"archived_blocks"`
}

// archivedRange is one archived_blocks entry: blocks [Start, Start+Length)
// are served by Callback (an archive canister's get_blocks).
type archivedRange struct {
	Start    uint64       `ic:"start"`
	Length   uint64       `ic:"length"`
	Callback idl.Function `ic:"callback"`
}

type getBlocksArgs struct {
	Start  uint64 `ic:"start"`
	Length uint64 `ic:"length"`
}

// archiveResult is the archive's QueryArchiveResult; every arm declared.
type archiveResult struct {
	Ok *struct {
		Blocks []candidBlock `ic:"blocks"`
	} `ic:"Ok,variant"`
	Err *struct {
		BadFirstBlockIndex *struct {
			RequestedIndex  uint64 `ic:"requested_index"`
			FirstValidIndex uint64 `ic:"first_valid_index"`
		} `ic:"BadFirstBlockIndex,variant"`
		Other *struct {
			ErrorCode    uint64 `ic:"error_code"`
			ErrorMessage string `ic:"error_message"`
		} `ic:"Other,variant"`
	} `ic:"Err,variant"`
}

// pageTip is what one query_blocks page certified.
type pageTip struct {
	chainLength uint64
	hash        [32]byte
	timeNanos   uint64
}

// ReadBlocks reads blocks [start, end) of the ICP ledger, from the ledger
// and from the archive canisters its query_blocks names, and returns them
// only if they are proven: every page's certificate must verify (BLS
// signature under the root key, the ledger's canister id, freshness), and
// every block read, from start up to the newest, must hash to the value the
// next block (or, for the newest, the certificate) names. end beyond the
// chain stops at the chain's end. The proof needs every block from start to
// the tip, so blocks past end are read too; keep start close to the tip (or
// remember the hash of the last block you trusted).
//
// Errors are *Error. A certificate that does not verify wraps
// ErrUnverified; a block that does not chain wraps ErrBrokenChain; missing
// blocks wrap ErrBlockGap. None is transient: a replica or archive that
// serves them needs a person.
func (c *Client) ReadBlocks(ctx context.Context, start, end uint64) (VerifiedBlocks, error) {
	const op = "query_blocks"
	var (
		blocks []candidBlock // blocks[i] is block start+i
		tips   []pageTip
	)
	next := start
	for {
		var r queryBlocksReply
		args := getBlocksArgs{Start: next, Length: math.MaxUint64 - next}
		if err := c.query(ctx, LedgerCanisterID, op, []any{args}, []any{&r}); err != nil {
			return VerifiedBlocks{}, err
		}
		tip, err := c.pageTip(r)
		if err != nil {
			c.certificateFailed("ledger_blocks")
			return VerifiedBlocks{}, &Error{Op: op, Err: fmt.Errorf("%w: %v", ErrUnverified, err)}
		}
		tips = append(tips, tip)
		if next >= r.ChainLength {
			break
		}
		before := next
		archived := slices.Clone(r.ArchivedBlocks)
		slices.SortFunc(archived, func(a, b archivedRange) int { return cmp.Compare(a.Start, b.Start) })
		for _, ab := range archived {
			if ab.Start != next {
				return VerifiedBlocks{}, gapError(op, next, ab.Start, "the next archived range")
			}
			got, err := c.readArchive(ctx, ab.Callback.Method, ab.Start, ab.Length)
			if err != nil {
				return VerifiedBlocks{}, err
			}
			blocks = append(blocks, got...)
			next += uint64(len(got))
		}
		if len(r.Blocks) > 0 {
			if r.FirstBlockIndex != next {
				return VerifiedBlocks{}, gapError(op, next, r.FirstBlockIndex, "the ledger's page")
			}
			blocks = append(blocks, r.Blocks...)
			next += uint64(len(r.Blocks))
		}
		if next == before {
			return VerifiedBlocks{}, gapError(op, next, r.ChainLength, "nothing, and the chain ends")
		}
		if next >= r.ChainLength {
			break
		}
	}
	last := tips[len(tips)-1]
	out := VerifiedBlocks{Tip: CertifiedTip{ChainLength: last.chainLength, Hash: last.hash, CertTimeNanos: last.timeNanos}}
	if next > last.chainLength {
		return VerifiedBlocks{}, &Error{Op: op, Err: fmt.Errorf("%w: read %d blocks from %d, past the certified tip's chain length %d", ErrBrokenChain, len(blocks), start, last.chainLength)}
	}
	hashes, err := verifyChain(start, blocks, last)
	if err != nil {
		return VerifiedBlocks{}, &Error{Op: op, Err: err}
	}
	// Every page's certificate names the tip of its time, a block this run
	// read when it is not below start.
	for i, t := range tips {
		if t.chainLength == 0 || t.chainLength-1 < start {
			continue
		}
		if t.chainLength > start+uint64(len(hashes)) {
			return VerifiedBlocks{}, &Error{Op: op, Err: fmt.Errorf("%w: page %d reports a chain of %d blocks, a later page only %d",
				ErrBrokenChain, i, t.chainLength, last.chainLength)}
		}
		if h := hashes[t.chainLength-1-start]; h != t.hash {
			return VerifiedBlocks{}, &Error{Op: op, Err: fmt.Errorf("%w: page %d certifies block %d as %x, the chain has %x",
				ErrBrokenChain, i, t.chainLength-1, t.hash, h)}
		}
	}
	out.IndicesCertified = start == 0 && len(blocks) > 0
	for i, cb := range blocks {
		idx := start + uint64(i)
		if idx >= end {
			break
		}
		b, err := fromCandidBlock(idx, cb)
		if err != nil {
			return VerifiedBlocks{}, &Error{Op: op, Err: err}
		}
		out.Blocks = append(out.Blocks, b)
	}
	return out, nil
}

func gapError(op string, want, got uint64, what string) error {
	return &Error{Op: op, Err: fmt.Errorf("%w: blocks from %d were expected next, but %s starts at %d", ErrBlockGap, want, what, got)}
}

// pageTip verifies a page's certificate and reads the certified tip hash.
func (c *Client) pageTip(r queryBlocksReply) (pageTip, error) {
	if r.Certificate == nil || len(*r.Certificate) == 0 {
		return pageTip{}, errors.New("query_blocks reply carries no certificate")
	}
	var cert certification.Certificate
	if err := cbor.Unmarshal(*r.Certificate, &cert); err != nil {
		return pageTip{}, fmt.Errorf("decode certificate: %w", err)
	}
	if err := c.certs.Verify(cert, LedgerCanisterID, c.agent.GetRootKey()); err != nil {
		return pageTip{}, err
	}
	if err := cert.VerifyTime(c.cfg.IngressExpiry); err != nil {
		return pageTip{}, err
	}
	data, err := hashtree.Lookup(cert.Tree.Root, hashtree.Label("canister"), LedgerCanisterID.Raw, hashtree.Label("certified_data"))
	if err != nil {
		return pageTip{}, fmt.Errorf("certificate has no certified_data of the ledger: %w", err)
	}
	if len(data) != 32 {
		return pageTip{}, fmt.Errorf("the ledger's certified_data is %d bytes, want the 32-byte tip hash", len(data))
	}
	t := pageTip{chainLength: r.ChainLength, timeNanos: certTime(cert)}
	copy(t.hash[:], data)
	return t, nil
}

// readArchive reads blocks [start, start+length) from an archive canister's
// callback, in pages (an archive answers at most 2000 at a time).
func (c *Client) readArchive(ctx context.Context, fn idl.PrincipalMethod, start, length uint64) ([]candidBlock, error) {
	op := fmt.Sprintf("%s.%s", fn.Principal, fn.Method)
	var out []candidBlock
	for uint64(len(out)) < length {
		from := start + uint64(len(out))
		var res archiveResult
		if err := c.query(ctx, fn.Principal, fn.Method, []any{getBlocksArgs{Start: from, Length: length - uint64(len(out))}}, []any{&res}); err != nil {
			return nil, err
		}
		switch {
		case res.Err != nil && res.Err.BadFirstBlockIndex != nil:
			return nil, &Error{Op: op, Err: fmt.Errorf("%w: archive does not hold block %d, its first is %d", ErrBlockGap, from, res.Err.BadFirstBlockIndex.FirstValidIndex)}
		case res.Err != nil && res.Err.Other != nil:
			return nil, &Error{Op: op, Err: fmt.Errorf("archive error %d: %s", res.Err.Other.ErrorCode, res.Err.Other.ErrorMessage)}
		case res.Ok == nil:
			return nil, &Error{Op: op, Err: errors.New("archive reply has neither Ok nor Err")}
		case len(res.Ok.Blocks) == 0:
			return nil, &Error{Op: op, Err: fmt.Errorf("%w: archive returned no blocks from %d of the %d it was named for", ErrBlockGap, from, length)}
		}
		out = append(out, res.Ok.Blocks...)
	}
	if uint64(len(out)) > length {
		return nil, &Error{Op: op, Err: fmt.Errorf("%w: archive returned %d blocks for a range of %d", ErrBrokenChain, len(out), length)}
	}
	return out, nil
}

// verifyChain checks blocks (block start+i at i) back from the certified
// tip: the newest block must hash to the certified hash and be the tip,
// every other block must hash to the parent hash the next block names,
// and block 0 must have no parent. It returns each block's hash.
func verifyChain(start uint64, blocks []candidBlock, tip pageTip) ([][32]byte, error) {
	if len(blocks) == 0 {
		if tip.chainLength == 0 && tip.hash != ([32]byte{}) {
			return nil, fmt.Errorf("%w: an empty chain certifies %x, want 32 zero bytes", ErrBrokenChain, tip.hash)
		}
		return nil, nil
	}
	if start+uint64(len(blocks)) != tip.chainLength {
		return nil, fmt.Errorf("%w: blocks [%d, %d) do not end at the certified tip, block %d", ErrBlockGap, start, start+uint64(len(blocks)), tip.chainLength-1)
	}
	hashes := make([][32]byte, len(blocks))
	want, source := tip.hash, "the certified tip"
	for i := len(blocks) - 1; i >= 0; i-- {
		idx := start + uint64(i)
		cands, err := candidBlockHashes(blocks[i])
		if err != nil {
			return nil, fmt.Errorf("%w: block %d cannot be encoded: %v", ErrBrokenChain, idx, err)
		}
		if !slices.Contains(cands, want) {
			return nil, fmt.Errorf("%w: block %d hashes to %x, but %s names %x", ErrBrokenChain, idx, cands[0], source, want)
		}
		hashes[i] = want
		p := blocks[i].ParentHash
		switch {
		case p == nil && idx != 0:
			return nil, fmt.Errorf("%w: block %d has no parent hash", ErrBrokenChain, idx)
		case p != nil && idx == 0:
			return nil, fmt.Errorf("%w: block 0 names a parent %s", ErrBrokenChain, hex.EncodeToString(*p))
		case p != nil && len(*p) != 32:
			return nil, fmt.Errorf("%w: block %d's parent hash is %d bytes", ErrBrokenChain, idx, len(*p))
		case p != nil:
			copy(want[:], *p)
			source = fmt.Sprintf("block %d's parent_hash", idx)
		}
	}
	return hashes, nil
}
