package schemas

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"sync"
)

// ChainRow is the part of a raw audit row that the hash chain covers.
type ChainRow struct {
	Topic         string
	Partition     int
	Offset        int64
	Key           string
	EventID       string
	EventType     string
	SchemaVersion int
	Provenance    string
	Payload       string
}

// ChainGenesis is the prev_hash of the first row of a stream.
const ChainGenesis = "0000000000000000000000000000000000000000000000000000000000000000"

// ChainHash is the row hash of the audit trail's hash chain:
//
//	row_hash = hex(SHA-256(f("nodeshare-chain-v2") f(prev_hash) f(ChainDigest(row))))
//	ChainDigest(row) = SHA-256(f(topic) f(partition) f(offset) f(key) f(event_id)
//	                          f(event_type) f(schema_version) f(provenance) f(payload))
//
// where f(x) is the uvarint length of x followed by its bytes and integers
// are decimal text. The per-row digest does not depend on the previous row,
// so a sink computes digests in parallel and links them in order. The
// encoding is frozen: a golden test pins it; a change is a new tag.
func ChainHash(prevHash string, r ChainRow) string {
	return ChainLink(prevHash, ChainDigest(r))
}

// ChainDigest is the SHA-256 of a row's fields (see ChainHash). The fields
// are laid out in one reused buffer and hashed in one call: writing them
// one by one into a hash.Hash copied every string and cost more than the
// hashing itself.
func ChainDigest(r ChainRow) [32]byte {
	bp := digestBufs.Get().(*[]byte)
	b := (*bp)[:0]
	var num [20]byte
	b = appendField(b, r.Topic)
	b = appendField(b, string(strconv.AppendInt(num[:0], int64(r.Partition), 10)))
	b = appendField(b, string(strconv.AppendInt(num[:0], r.Offset, 10)))
	b = appendField(b, r.Key)
	b = appendField(b, r.EventID)
	b = appendField(b, r.EventType)
	b = appendField(b, string(strconv.AppendInt(num[:0], int64(r.SchemaVersion), 10)))
	b = appendField(b, r.Provenance)
	b = appendField(b, r.Payload)
	sum := sha256.Sum256(b)
	if cap(b) <= 64<<10 { // keep small buffers only
		*bp = b
		digestBufs.Put(bp)
	}
	return sum
}

var digestBufs = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// appendField appends f(x): the uvarint length of x, then x.
func appendField(b []byte, x string) []byte {
	b = binary.AppendUvarint(b, uint64(len(x)))
	return append(b, x...)
}

// ChainLink is the row hash from the previous row's hash and the row's
// digest (see ChainHash).
func ChainLink(prevHash string, digest [32]byte) string {
	var buf [1 + 18 + 1 + 64 + 1 + 32]byte
	b := append(buf[:0], 18)
	b = append(b, "nodeshare-chain-v2"...)
	b = binary.AppendUvarint(b, uint64(len(prevHash)))
	b = append(b, prevHash...)
	b = append(b, 32)
	b = append(b, digest[:]...)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
