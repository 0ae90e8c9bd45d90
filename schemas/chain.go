package schemas

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strconv"
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

// ChainHash is the row hash of the audit trail's hash chain: SHA-256 over
// the domain tag "nodeshare-chain-v1", then prevHash and every field of the
// row in the fixed order of ChainRow, each as a uvarint length followed by
// its bytes (integers as decimal text). The encoding is frozen: a golden
// test pins it; a change is a new tag and a migration.
func ChainHash(prevHash string, r ChainRow) string {
	h := sha256.New()
	var lb [binary.MaxVarintLen64]byte
	field := func(s string) {
		n := binary.PutUvarint(lb[:], uint64(len(s)))
		h.Write(lb[:n])
		h.Write([]byte(s))
	}
	field("nodeshare-chain-v1")
	field(prevHash)
	field(r.Topic)
	field(strconv.Itoa(r.Partition))
	field(strconv.FormatInt(r.Offset, 10))
	field(r.Key)
	field(r.EventID)
	field(r.EventType)
	field(strconv.Itoa(r.SchemaVersion))
	field(r.Provenance)
	field(r.Payload)
	return hex.EncodeToString(h.Sum(nil))
}
