package ic

import (
	"crypto/sha256"
	"fmt"
	"slices"
)

// The ICP ledger hashes a block as SHA-256 of its protobuf encoding
// (dfinity/ic rs/ledger_suite/icp/src/lib.rs: Block::encode writes
// ic_ledger.pb.v1.Block, block_hash is Sha256 of those bytes; the message is
// filled by rs/ledger_suite/icp/src/validate_endpoints.rs). A client that
// reads blocks through Candid rebuilds those bytes from what query_blocks
// shows. prost, which writes them, puts fields in ascending field-number
// order (a oneof at the number of the arm that is set), writes a present
// sub-message even when it is empty, and leaves out integer and bytes
// fields that hold 0 or nothing.
//
// One thing Candid does not show: whether the transaction had a
// created_at_time. The ledger's Candid block shows the block time when it
// had none (From<Block> for CandidBlock: created_at_time.unwrap_or(timestamp)),
// and the encoding leaves the field out. So when the two times are equal
// both encodings are candidates, and the chain decides which one the ledger
// wrote. Everything a client relies on (accounts, amounts, fee, memos,
// times) is covered either way.

// pbKind says how a field of a message is encoded.
type pbKind int

const (
	pbUint    pbKind = iota // varint; left out when 0
	pbBytes                 // length-delimited; left out when empty
	pbMessage               // length-delimited sub-message; always written
)

// pbField is one field of a protobuf message.
type pbField struct {
	num   int
	kind  pbKind
	u     uint64
	bytes []byte
	msg   pbMsg
}

// pbMsg is a protobuf message as a list of fields, in any order.
type pbMsg []pbField

func pbU(num int, v uint64) pbField          { return pbField{num: num, kind: pbUint, u: v} }
func pbB(num int, b []byte) pbField          { return pbField{num: num, kind: pbBytes, bytes: b} }
func pbM(num int, fields ...pbField) pbField { return pbField{num: num, kind: pbMessage, msg: fields} }

func appendUvarint(b []byte, v uint64) []byte {
	for ; v >= 0x80; v >>= 7 {
		b = append(b, 0x80|byte(v&0x7f))
	}
	return append(b, byte(v))
}

// marshal writes m's fields in ascending field number.
func (m pbMsg) marshal() []byte {
	fields := slices.Clone(m)
	slices.SortStableFunc(fields, func(a, b pbField) int { return a.num - b.num })
	var out []byte
	for _, f := range fields {
		switch f.kind {
		case pbUint:
			if f.u != 0 {
				out = appendUvarint(out, uint64(f.num)<<3)
				out = appendUvarint(out, f.u)
			}
		case pbBytes:
			if len(f.bytes) > 0 {
				out = appendUvarint(out, uint64(f.num)<<3|2)
				out = appendUvarint(out, uint64(len(f.bytes)))
				out = append(out, f.bytes...)
			}
		case pbMessage:
			inner := f.msg.marshal()
			out = appendUvarint(out, uint64(f.num)<<3|2)
			out = appendUvarint(out, uint64(len(inner)))
			out = append(out, inner...)
		}
	}
	return out
}

// Field numbers of ic_ledger.pb.v1 (rs/ledger_suite/icp/src/gen/ic_ledger.pb.v1.rs).
const (
	pbBlockParentHash = 1
	pbBlockTimestamp  = 2
	pbBlockTx         = 3

	pbTxBurn          = 1
	pbTxMint          = 2
	pbTxSend          = 3
	pbTxMemo          = 4
	pbTxCreatedAtTime = 6
	pbTxICRC1Memo     = 7

	pbSendFrom         = 1
	pbSendTo           = 2
	pbSendAmount       = 3
	pbSendMaxFee       = 4
	pbSendApprove      = 5
	pbSendTransferFrom = 6

	pbApproveAllowance         = 1
	pbApproveExpiresAt         = 2
	pbApproveExpectedAllowance = 3

	pbBurnFrom    = 1
	pbBurnAmount  = 3
	pbBurnSpender = 4

	pbMintTo     = 2
	pbMintAmount = 3
)

// accountField is an AccountIdentifier message: the 32 bytes with the CRC
// (AccountIdentifier::to_vec).
func accountField(num int, id []byte) (pbField, error) {
	if len(id) != 32 {
		return pbField{}, fmt.Errorf("account identifier must be 32 bytes, got %d", len(id))
	}
	return pbM(num, pbB(1, id)), nil
}

func tokensField(num int, e8s uint64) pbField { return pbM(num, pbU(1, e8s)) }

// operationField is the transaction's oneof arm.
func operationField(op *candidOperation) (pbField, error) {
	var fields []pbField
	add := func(num int, id []byte) error {
		f, err := accountField(num, id)
		fields = append(fields, f)
		return err
	}
	switch {
	case op == nil:
		return pbField{}, fmt.Errorf("no operation")
	case op.Burn != nil:
		if err := add(pbBurnFrom, op.Burn.From); err != nil {
			return pbField{}, err
		}
		fields = append(fields, tokensField(pbBurnAmount, op.Burn.Amount.E8s))
		if op.Burn.Spender != nil {
			if err := add(pbBurnSpender, *op.Burn.Spender); err != nil {
				return pbField{}, err
			}
		}
		return pbM(pbTxBurn, fields...), nil
	case op.Mint != nil:
		if err := add(pbMintTo, op.Mint.To); err != nil {
			return pbField{}, err
		}
		fields = append(fields, tokensField(pbMintAmount, op.Mint.Amount.E8s))
		return pbM(pbTxMint, fields...), nil
	case op.Transfer != nil:
		t := op.Transfer
		if err := add(pbSendFrom, t.From); err != nil {
			return pbField{}, err
		}
		if err := add(pbSendTo, t.To); err != nil {
			return pbField{}, err
		}
		fields = append(fields, tokensField(pbSendAmount, t.Amount.E8s), tokensField(pbSendMaxFee, t.Fee.E8s))
		if t.Spender != nil {
			spender, err := accountField(1, *t.Spender)
			if err != nil {
				return pbField{}, err
			}
			fields = append(fields, pbM(pbSendTransferFrom, spender))
		}
		return pbM(pbTxSend, fields...), nil
	case op.Approve != nil:
		// An approval is a Send of 0 tokens to the spender with an Approve
		// extension (validate_endpoints.rs, Operation::Approve).
		a := op.Approve
		if err := add(pbSendFrom, a.From); err != nil {
			return pbField{}, err
		}
		if err := add(pbSendTo, a.Spender); err != nil {
			return pbField{}, err
		}
		ext := []pbField{tokensField(pbApproveAllowance, a.Allowance.E8s)}
		if a.ExpiresAt != nil {
			ext = append(ext, pbM(pbApproveExpiresAt, pbU(1, a.ExpiresAt.TimestampNanos)))
		}
		if a.ExpectedAllowance != nil {
			ext = append(ext, tokensField(pbApproveExpectedAllowance, a.ExpectedAllowance.E8s))
		}
		fields = append(fields, tokensField(pbSendAmount, 0), tokensField(pbSendMaxFee, a.Fee.E8s), pbM(pbSendApprove, ext...))
		return pbM(pbTxSend, fields...), nil
	}
	return pbField{}, fmt.Errorf("unknown operation")
}

// encodeCandidBlock is the protobuf encoding of cb, with created_at_time
// written or not.
func encodeCandidBlock(cb candidBlock, withCreatedAt bool) ([]byte, error) {
	op, err := operationField(cb.Transaction.Operation)
	if err != nil {
		return nil, err
	}
	tx := pbMsg{op, pbM(pbTxMemo, pbU(1, cb.Transaction.Memo))}
	if withCreatedAt {
		tx = append(tx, pbM(pbTxCreatedAtTime, pbU(1, cb.Transaction.CreatedAtTime.TimestampNanos)))
	}
	if m := cb.Transaction.ICRC1Memo; m != nil {
		tx = append(tx, pbM(pbTxICRC1Memo, pbB(1, *m)))
	}
	block := pbMsg{pbM(pbBlockTimestamp, pbU(1, cb.Timestamp.TimestampNanos)), pbM(pbBlockTx, tx...)}
	if p := cb.ParentHash; p != nil {
		if len(*p) != 32 {
			return nil, fmt.Errorf("parent hash must be 32 bytes, got %d", len(*p))
		}
		block = append(block, pbM(pbBlockParentHash, pbB(1, *p)))
	}
	return block.marshal(), nil
}

// candidBlockHashes are the hashes the ledger may have given cb: with
// created_at_time, and also without it when it equals the block time.
func candidBlockHashes(cb candidBlock) ([][32]byte, error) {
	enc, err := encodeCandidBlock(cb, true)
	if err != nil {
		return nil, err
	}
	out := [][32]byte{sha256.Sum256(enc)}
	if cb.Transaction.CreatedAtTime.TimestampNanos == cb.Timestamp.TimestampNanos {
		enc, err := encodeCandidBlock(cb, false)
		if err != nil {
			return nil, err
		}
		out = append(out, sha256.Sum256(enc))
	}
	return out, nil
}
