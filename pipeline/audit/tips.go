package audit

import (
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
)

// Signed chain tips (docs/auditing.md "Signed tips"): the hash chain lives
// in the ClickHouse it protects, so a chain cut short at its end, or
// rewritten whole, still adds up. The tip of every chain (its last
// offset and row hash) is signed on a schedule with a key the database
// does not hold (Vault transit) and kept outside it (a compacted topic and
// a file an auditor keeps); verify then checks the chain against the last
// signed tips.

// TipsVersion names the signed document's format.
const TipsVersion = "nodeshare-chain-tips-v1"

// Tip is one chain's last row.
type Tip struct {
	Topic     string `json:"topic"`
	Partition int    `json:"partition"`
	Offset    int64  `json:"offset"`
	RowHash   string `json:"row_hash"`
}

// SignedTips are the tips of every chain at one time, signed.
type SignedTips struct {
	Version   string `json:"version"`
	SignedAt  string `json:"signed_at"` // RFC 3339
	Tips      []Tip  `json:"tips"`      // sorted by topic, partition
	Key       string `json:"key"`       // the signing key's name
	PublicKey string `json:"public_key_hex"`
	Signature string `json:"signature_hex"`
}

// Tips are the last row of every chain in rows (sorted by topic,
// partition, offset).
func Tips(rows []Row) []Tip {
	var out []Tip
	for i, r := range rows {
		if i+1 < len(rows) && rows[i+1].Topic == r.Topic && rows[i+1].Partition == r.Partition {
			continue
		}
		out = append(out, Tip{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, RowHash: r.RowHash})
	}
	return out
}

// TipsSignedBytes are what a signature covers: a domain line, then the
// document without its signature.
func TipsSignedBytes(s SignedTips) ([]byte, error) {
	s.Signature = ""
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	return append([]byte(TipsVersion+" signed\n"), b...), nil
}

// SignTips signs tips as of signedAt.
func SignTips(tips []Tip, signedAt, key string, pub ed25519.PublicKey, sign func([]byte) ([]byte, error)) (SignedTips, error) {
	sorted := append([]Tip(nil), tips...)
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].Topic != sorted[j].Topic {
			return sorted[i].Topic < sorted[j].Topic
		}
		return sorted[i].Partition < sorted[j].Partition
	})
	s := SignedTips{Version: TipsVersion, SignedAt: signedAt, Tips: sorted, Key: key, PublicKey: hex.EncodeToString(pub)}
	msg, err := TipsSignedBytes(s)
	if err != nil {
		return s, err
	}
	sig, err := sign(msg)
	if err != nil {
		return s, fmt.Errorf("audit: sign the chain tips with %s: %w", key, err)
	}
	s.Signature = hex.EncodeToString(sig)
	return s, VerifyTipsSignature(s, pub)
}

// VerifyTipsSignature checks the document's signature against trusted.
func VerifyTipsSignature(s SignedTips, trusted ed25519.PublicKey) error {
	if s.Version != TipsVersion {
		return fmt.Errorf("audit: chain tips version %q, want %q", s.Version, TipsVersion)
	}
	if s.PublicKey != hex.EncodeToString(trusted) {
		return fmt.Errorf("audit: the chain tips are signed by %s, not the audit key %x", s.PublicKey, []byte(trusted))
	}
	sig, err := hex.DecodeString(s.Signature)
	if err != nil {
		return fmt.Errorf("audit: signature_hex: %w", err)
	}
	msg, err := TipsSignedBytes(s)
	if err != nil {
		return err
	}
	if !ed25519.Verify(trusted, msg, sig) {
		return errors.New("audit: the chain tips' signature does not match (altered, or another key)")
	}
	return nil
}

// CheckTips checks the chains in rows against signed tips: each signed
// tip's row must still be there with the signed hash. A chain that ends
// before its signed tip lost its tail; a row with another hash was
// rewritten (the chain itself may still add up: rewritten whole).
func CheckTips(rows []Row, s SignedTips) []Finding {
	type key struct {
		topic string
		part  int
	}
	last := map[key]int64{}
	at := map[key]map[int64]string{}
	for _, r := range rows {
		k := key{r.Topic, r.Partition}
		last[k] = max(last[k], r.Offset)
		if at[k] == nil {
			at[k] = map[int64]string{}
		}
		at[k][r.Offset] = r.RowHash
	}
	var out []Finding
	for _, t := range s.Tips {
		k := key{t.Topic, t.Partition}
		where := fmt.Sprintf("chain %s/%d", t.Topic, t.Partition)
		h, ok := at[k][t.Offset]
		switch {
		case !ok && (at[k] == nil || last[k] < t.Offset):
			end := "no rows"
			if at[k] != nil {
				end = fmt.Sprintf("its last row is at offset %d", last[k])
			}
			out = append(out, Finding{Check: "signed-tip", Where: where, Expected: fmt.Sprintf("offset %d hash %s", t.Offset, t.RowHash), Found: end,
				Detail: fmt.Sprintf("missing tail: the chain was signed up to offset %d at %s, %s", t.Offset, s.SignedAt, end)})
		case !ok:
			out = append(out, Finding{Check: "signed-tip", Where: where, Expected: fmt.Sprintf("offset %d hash %s", t.Offset, t.RowHash), Found: "no row at that offset",
				Detail: "the row of the signed tip is gone"})
		case h != t.RowHash:
			out = append(out, Finding{Check: "signed-tip", Where: where, Expected: t.RowHash, Found: h,
				Detail: fmt.Sprintf("rewritten: the row at offset %d has another hash than the tip signed at %s", t.Offset, s.SignedAt)})
		}
	}
	return out
}
