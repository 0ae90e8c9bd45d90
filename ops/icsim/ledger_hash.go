package icsim

import (
	"crypto/sha256"
	"encoding/hex"
)

// Block hashes as the ICP ledger computes them: SHA-256 of the block's
// protobuf encoding (rs/ledger_suite/icp/src/lib.rs, BlockType for Block:
// encode = ProtoBuf::new(self).into_bytes(), block_hash = Sha256 of those
// bytes). The protobuf message is ic_ledger.pb.v1.Block
// (rs/ledger_suite/icp/src/gen/ic_ledger.pb.v1.rs), filled by
// rs/ledger_suite/icp/src/validate_endpoints.rs (ToProto for Block and
// Transaction). prost writes the fields of a message in ascending tag order
// (a oneof at its lowest tag), writes a present optional sub-message even
// when it is empty, and leaves out scalars equal to their default (0, empty).
// So:
//
//	Block       {1 parent_hash: Hash{1 hash}?, 2 timestamp: TimeStamp{1 timestamp_nanos}, 3 transaction}
//	Transaction {1 Burn | 2 Mint | 3 Send, 4 memo: Memo{1 memo}, 6 created_at_time: TimeStamp?, 7 icrc1_memo: Icrc1Memo{1 memo}?}
//	Burn        {1 from, 3 amount: Tokens{1 e8s}, 4 spender?}
//	Mint        {2 to, 3 amount}
//	Send        {1 from, 2 to, 3 amount, 4 max_fee, 5|6 extension?}
//	AccountIdentifier {1 hash: the 32 bytes with the CRC}
//
// The simulator never records a spender or an approval. connectors/ic has
// its own encoder (from the Candid blocks clients see); the two are written
// separately on purpose, and both are checked against hand-built bytes.

const (
	pbVarint = 0
	pbLen    = 2
)

func pbAppendVarint(dst []byte, v uint64) []byte {
	for v >= 0x80 {
		dst = append(dst, byte(v)|0x80)
		v >>= 7
	}
	return append(dst, byte(v))
}

func pbAppendKey(dst []byte, field, wire int) []byte {
	return pbAppendVarint(dst, uint64(field)<<3|uint64(wire))
}

// pbAppendUint appends a uint64 scalar, left out when 0 (proto3).
func pbAppendUint(dst []byte, field int, v uint64) []byte {
	if v == 0 {
		return dst
	}
	return pbAppendVarint(pbAppendKey(dst, field, pbVarint), v)
}

// pbAppendBytes appends a bytes scalar, left out when empty (proto3).
func pbAppendBytes(dst []byte, field int, b []byte) []byte {
	if len(b) == 0 {
		return dst
	}
	return pbAppendMsg(dst, field, b)
}

// pbAppendMsg appends a present sub-message, even an empty one.
func pbAppendMsg(dst []byte, field int, msg []byte) []byte {
	dst = pbAppendKey(dst, field, pbLen)
	dst = pbAppendVarint(dst, uint64(len(msg)))
	return append(dst, msg...)
}

// pbUintMsg is a message whose only field is uint64 field 1 (TimeStamp,
// Tokens, Memo).
func pbUintMsg(v uint64) []byte { return pbAppendUint(nil, 1, v) }

// pbAccount is an AccountIdentifier message from the hex of its 32 bytes.
func pbAccount(idHex string) []byte {
	raw, _ := hex.DecodeString(idHex)
	return pbAppendBytes(nil, 1, raw)
}

// encodeBlock is the protobuf encoding of b with the given parent hash
// (nil for block 0).
func encodeBlock(parent *[32]byte, b Block) []byte {
	var op []byte
	opField := 0
	switch b.Op {
	case OpBurn:
		opField = 1
		op = pbAppendMsg(op, 1, pbAccount(b.From))
		op = pbAppendMsg(op, 3, pbUintMsg(b.AmountE8s))
	case OpMint:
		opField = 2
		op = pbAppendMsg(op, 2, pbAccount(b.To))
		op = pbAppendMsg(op, 3, pbUintMsg(b.AmountE8s))
	case OpTransfer:
		opField = 3
		op = pbAppendMsg(op, 1, pbAccount(b.From))
		op = pbAppendMsg(op, 2, pbAccount(b.To))
		op = pbAppendMsg(op, 3, pbUintMsg(b.AmountE8s))
		op = pbAppendMsg(op, 4, pbUintMsg(b.FeeE8s))
	}
	var tx []byte
	if opField != 0 {
		tx = pbAppendMsg(tx, opField, op)
	}
	tx = pbAppendMsg(tx, 4, pbUintMsg(b.LegacyMemo))
	if b.CreatedAtNanos != nil {
		tx = pbAppendMsg(tx, 6, pbUintMsg(*b.CreatedAtNanos))
	}
	if b.MemoHex != nil {
		m, _ := hex.DecodeString(*b.MemoHex)
		tx = pbAppendMsg(tx, 7, pbAppendBytes(nil, 1, m))
	}
	var out []byte
	if parent != nil {
		out = pbAppendMsg(out, 1, pbAppendBytes(nil, 1, parent[:]))
	}
	out = pbAppendMsg(out, 2, pbUintMsg(b.TimestampNanos))
	return pbAppendMsg(out, 3, tx)
}

// blockHash is the ledger's hash of b under parent.
func blockHash(parent *[32]byte, b Block) [32]byte {
	return sha256.Sum256(encodeBlock(parent, b))
}
