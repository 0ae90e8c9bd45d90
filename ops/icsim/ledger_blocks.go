package icsim

import (
	"encoding/hex"
	"fmt"
	"sort"

	"github.com/aviate-labs/agent-go/candid"
	"github.com/aviate-labs/agent-go/candid/idl"
	"github.com/aviate-labs/agent-go/principal"
)

// maxBlocksPerQuery is the ICP ledger's query_blocks page limit.
const maxBlocksPerQuery = 2000

type candidTokens struct {
	E8s uint64 `ic:"e8s"`
}

type candidTimeStamp struct {
	TimestampNanos uint64 `ic:"timestamp_nanos"`
}

type candidApprove struct {
	Fee               candidTokens     `ic:"fee"`
	From              []byte           `ic:"from"`
	AllowanceE8s      idl.Int          `ic:"allowance_e8s"`
	Allowance         candidTokens     `ic:"allowance"`
	ExpectedAllowance *candidTokens    `ic:"expected_allowance"`
	ExpiresAt         *candidTimeStamp `ic:"expires_at"`
	Spender           []byte           `ic:"spender"`
}

type candidBurn struct {
	From    []byte       `ic:"from"`
	Amount  candidTokens `ic:"amount"`
	Spender *[]byte      `ic:"spender"`
}

type candidMint struct {
	To     []byte       `ic:"to"`
	Amount candidTokens `ic:"amount"`
}

type candidTransferOp struct {
	To      []byte       `ic:"to"`
	Fee     candidTokens `ic:"fee"`
	From    []byte       `ic:"from"`
	Amount  candidTokens `ic:"amount"`
	Spender *[]byte      `ic:"spender"`
}

type candidOperation struct {
	Approve  *candidApprove    `ic:"Approve,variant"`
	Burn     *candidBurn       `ic:"Burn,variant"`
	Mint     *candidMint       `ic:"Mint,variant"`
	Transfer *candidTransferOp `ic:"Transfer,variant"`
}

type candidTransaction struct {
	Memo          uint64           `ic:"memo"`
	ICRC1Memo     *[]byte          `ic:"icrc1_memo"`
	Operation     *candidOperation `ic:"operation"`
	CreatedAtTime candidTimeStamp  `ic:"created_at_time"`
}

type candidBlock struct {
	ParentHash  *[]byte           `ic:"parent_hash"`
	Transaction candidTransaction `ic:"transaction"`
	Timestamp   candidTimeStamp   `ic:"timestamp"`
}

type candidGetBlocksArgs struct {
	Start  uint64 `ic:"start"`
	Length uint64 `ic:"length"`
}

// candidQueryBlocksResponse lacks archived_blocks, whose func-typed callback
// agent-go cannot derive from a Go type; encodeQueryBlocks adds it.
type candidQueryBlocksResponse struct {
	ChainLength     uint64        `ic:"chain_length"`
	Certificate     *[]byte       `ic:"certificate"`
	Blocks          []candidBlock `ic:"blocks"`
	FirstBlockIndex uint64        `ic:"first_block_index"`
}

type candidBadFirstBlockIndex struct {
	RequestedIndex  uint64 `ic:"requested_index"`
	FirstValidIndex uint64 `ic:"first_valid_index"`
}

type candidQueryArchiveError struct {
	BadFirstBlockIndex *candidBadFirstBlockIndex `ic:"BadFirstBlockIndex,variant"`
	Other              *struct {
		ErrorCode    uint64 `ic:"error_code"`
		ErrorMessage string `ic:"error_message"`
	} `ic:"Other,variant"`
}

type candidBlockRange struct {
	Blocks []candidBlock `ic:"blocks"`
}

type candidQueryArchiveResult struct {
	Ok  *candidBlockRange        `ic:"Ok,variant"`
	Err *candidQueryArchiveError `ic:"Err,variant"`
}

func mustHex(s string) []byte {
	b, _ := hex.DecodeString(s)
	return b
}

// candidBlock is block i as query_blocks and get_blocks show it
// (rs/ledger_suite/icp/src/lib.rs From<Block> for CandidBlock): a
// transaction without created_at_time shows the block time there.
func (l *ledger) candidBlock(i uint64) candidBlock {
	b := l.blocks[i]
	cb := candidBlock{Timestamp: candidTimeStamp{b.TimestampNanos}}
	if p := l.parentOf(i); p != nil {
		h := append([]byte{}, p[:]...)
		cb.ParentHash = &h
	}
	created := b.TimestampNanos
	if b.CreatedAtNanos != nil {
		created = *b.CreatedAtNanos
	}
	cb.Transaction.CreatedAtTime = candidTimeStamp{created}
	cb.Transaction.Memo = b.LegacyMemo
	if b.MemoHex != nil {
		m := mustHex(*b.MemoHex)
		cb.Transaction.ICRC1Memo = &m
	}
	op := &candidOperation{}
	switch b.Op {
	case OpMint:
		op.Mint = &candidMint{To: mustHex(b.To), Amount: candidTokens{b.AmountE8s}}
	case OpBurn:
		op.Burn = &candidBurn{From: mustHex(b.From), Amount: candidTokens{b.AmountE8s}}
	case OpTransfer:
		op.Transfer = &candidTransferOp{To: mustHex(b.To), From: mustHex(b.From), Amount: candidTokens{b.AmountE8s}, Fee: candidTokens{b.FeeE8s}}
	}
	cb.Transaction.Operation = op
	return cb
}

// archivedRange is one archived_blocks entry.
type archivedRange struct {
	start, length uint64
	archive       principal.Principal
}

// ledgerQueryBlocks is query_blocks (rs/ledger_suite/icp/ledger/src/main.rs
// query_blocks and ledger_canister_core ledger.rs block_locations): the
// ledger's own blocks in the requested range (at most 2000; an empty range
// starting at the first unarchived block when none), one archived_blocks
// entry per archive canister holding part of the range, the chain length,
// and in a non-replicated query the certificate of the ledger's certified
// data, the tip hash.
func ledgerQueryBlocks(s *Server, c callContext, arg []byte) ([]byte, error) {
	var a candidGetBlocksArgs
	if err := decodeArgs(arg, &a); err != nil {
		return nil, err
	}
	l := s.ledger
	n := uint64(len(l.blocks))
	reqEnd := satAdd(a.Start, a.Length)
	first, end, ok := intersect(a.Start, reqEnd, l.archive.Archived, n)
	if !ok {
		first, end = l.archive.Archived, l.archive.Archived
	}
	end = min(end, satAdd(first, maxBlocksPerQuery))
	resp := candidQueryBlocksResponse{ChainLength: n, FirstBlockIndex: first, Blocks: []candidBlock{}}
	for i := first; i < end; i++ {
		resp.Blocks = append(resp.Blocks, l.candidBlock(i))
	}
	var archived []archivedRange
	for _, node := range l.archive.Nodes {
		if from, to, ok := intersect(node.From, node.To, a.Start, reqEnd); ok && to > from {
			archived = append(archived, archivedRange{start: from, length: to - from, archive: principal.MustDecode(node.CanisterID)})
		}
	}
	if len(resp.Blocks) > 0 && s.faults.BlockGapNext > 0 {
		// A replica that leaves a hole: the first block is neither here
		// nor in any archive range.
		s.faults.BlockGapNext--
		resp.Blocks = resp.Blocks[1:]
		resp.FirstBlockIndex++
	}
	forgeBlocks(&s.faults.ForgeBlockNext, resp.Blocks)
	if c.query {
		cert, err := s.ledgerCertificate()
		if err != nil {
			return nil, err
		}
		resp.Certificate = &cert
	}
	return encodeQueryBlocks(resp, archived)
}

// forgeBlocks applies a ForgeBlockNext or ForgeArchivedBlockNext fault
// (counter): a replica that serves a block the ledger never wrote, one more
// e8s in the first block.
func forgeBlocks(counter *int, blocks []candidBlock) {
	if len(blocks) == 0 || *counter <= 0 {
		return
	}
	*counter--
	op := blocks[0].Transaction.Operation
	switch {
	case op.Mint != nil:
		m := *op.Mint
		m.Amount.E8s++
		blocks[0].Transaction.Operation = &candidOperation{Mint: &m}
	case op.Burn != nil:
		b := *op.Burn
		b.Amount.E8s++
		blocks[0].Transaction.Operation = &candidOperation{Burn: &b}
	case op.Transfer != nil:
		t := *op.Transfer
		t.Amount.E8s++
		blocks[0].Transaction.Operation = &candidOperation{Transfer: &t}
	}
}

// encodeQueryBlocks encodes the response with the archived_blocks field the
// .did declares, whose func-typed callback agent-go cannot derive from a Go
// type.
func encodeQueryBlocks(resp candidQueryBlocksResponse, archived []archivedRange) ([]byte, error) {
	t, err := idl.TypeOf(resp)
	if err != nil {
		return nil, fmt.Errorf("query_blocks type: %w", err)
	}
	rt, ok := t.(*idl.RecordType)
	if !ok {
		return nil, fmt.Errorf("query_blocks type is %T", t)
	}
	argT, err := idl.TypeOf(candidGetBlocksArgs{})
	if err != nil {
		return nil, err
	}
	retT, err := idl.TypeOf(candidQueryArchiveResult{})
	if err != nil {
		return nil, err
	}
	fn := idl.NewFunctionType(
		[]idl.FunctionParameter{{Type: argT}},
		[]idl.FunctionParameter{{Type: retT}},
		[]string{"query"},
	)
	nat64 := idl.Nat64Type()
	rangeT := idl.NewRecordType(map[string]idl.Type{"start": nat64, "length": nat64, "callback": fn})
	fields := append([]idl.FieldType{}, rt.Fields...)
	fields = append(fields, idl.FieldType{Name: "archived_blocks", Type: idl.NewVectorType(rangeT)})
	sort.Slice(fields, func(i, j int) bool { return idl.Hash(fields[i].Name).Cmp(idl.Hash(fields[j].Name)) < 0 })
	full := &idl.RecordType{Fields: fields}
	m, err := idl.StructToMap(resp)
	if err != nil {
		return nil, err
	}
	ranges := []any{}
	for _, r := range archived {
		ranges = append(ranges, map[string]any{
			"start":    r.start,
			"length":   r.length,
			"callback": &idl.PrincipalMethod{Principal: r.archive, Method: "get_blocks"},
		})
	}
	m["archived_blocks"] = ranges
	return candid.Encode([]idl.Type{full}, []any{m})
}
