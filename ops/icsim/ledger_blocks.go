package icsim

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sort"

	"github.com/aviate-labs/agent-go/candid"
	"github.com/aviate-labs/agent-go/candid/idl"
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

// blockHash chains blocks: sha256(parent || canonical fields). The real ICP
// ledger hashes its protobuf encoding; only the chaining property matters
// to clients.
func blockHash(parent []byte, b Block) []byte {
	h := sha256.New()
	h.Write(parent)
	var buf [8]byte
	for _, v := range []uint64{b.Index, b.TimestampNanos, b.AmountE8s, b.FeeE8s} {
		binary.BigEndian.PutUint64(buf[:], v)
		h.Write(buf[:])
	}
	for _, s := range []string{b.Op, b.From, b.To} {
		binary.BigEndian.PutUint64(buf[:], uint64(len(s)))
		h.Write(buf[:])
		h.Write([]byte(s))
	}
	if b.MemoHex != nil {
		h.Write([]byte{1})
		h.Write([]byte(*b.MemoHex))
	}
	if b.CreatedAtNanos != nil {
		binary.BigEndian.PutUint64(buf[:], *b.CreatedAtNanos)
		h.Write([]byte{1})
		h.Write(buf[:])
	}
	return h.Sum(nil)
}

func mustHex(s string) []byte {
	b, _ := hex.DecodeString(s)
	return b
}

func toCandidBlock(b Block, parent []byte) candidBlock {
	cb := candidBlock{Timestamp: candidTimeStamp{b.TimestampNanos}}
	if parent != nil {
		p := append([]byte{}, parent...)
		cb.ParentHash = &p
	}
	created := b.TimestampNanos
	if b.CreatedAtNanos != nil {
		created = *b.CreatedAtNanos
	}
	cb.Transaction.CreatedAtTime = candidTimeStamp{created}
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

func ledgerQueryBlocks(s *Server, _ callContext, arg []byte) ([]byte, error) {
	var a candidGetBlocksArgs
	if err := decodeArgs(arg, &a); err != nil {
		return nil, err
	}
	n := uint64(len(s.ledger.blocks))
	resp := candidQueryBlocksResponse{ChainLength: n, FirstBlockIndex: a.Start, Blocks: []candidBlock{}}
	if a.Start > n {
		resp.FirstBlockIndex = n
	}
	end := a.Start + min(a.Length, maxBlocksPerQuery)
	if end < a.Start || end > n {
		end = n
	}
	var parent []byte
	for i := uint64(0); i < end; i++ {
		b := s.ledger.blocks[i]
		if i >= a.Start {
			resp.Blocks = append(resp.Blocks, toCandidBlock(b, parent))
		}
		parent = blockHash(parent, b)
	}
	return encodeQueryBlocks(resp)
}

// encodeQueryBlocks encodes the response with the archived_blocks field the
// .did declares (always empty: the simulator has no archives).
func encodeQueryBlocks(resp candidQueryBlocksResponse) ([]byte, error) {
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
	m["archived_blocks"] = []any{}
	return candid.Encode([]idl.Type{full}, []any{m})
}
