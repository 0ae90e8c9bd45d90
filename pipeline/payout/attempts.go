package payout

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"sort"

	"github.com/nodeshare/nodeshare/schemas"
)

// DedupWindowNanos is the ICP ledger's de-duplication window (24 h). A
// transfer whose created_at_time is older than the ledger's time minus the
// window is refused as TooOld, so it can never execute again.
const DedupWindowNanos = uint64(24 * 60 * 60 * 1e9)

// Attempt is one (created_at_time) version of an intent's transfer.
type Attempt struct {
	N              int // 0: the intent's own created_at_time
	CreatedAtNanos uint64
}

// Attempts lists every attempt of an intent in order: attempt 0 from the
// intent, then the recorded re-attempts. Numbers must be 1, 2, … without
// gaps, and each created_at_time must be later than the one before.
func Attempts(in schemas.PayoutIntent, recorded []schemas.PayoutAttempt) ([]Attempt, error) {
	out := []Attempt{{N: 0, CreatedAtNanos: in.CreatedAtNanos}}
	rs := append([]schemas.PayoutAttempt(nil), recorded...)
	sort.Slice(rs, func(i, j int) bool { return rs[i].Attempt < rs[j].Attempt })
	for i, r := range rs {
		if r.IntentID != in.IntentID || r.Attempt != i+1 {
			return nil, fmt.Errorf("intent %s: attempts must be numbered 1, 2, …: found attempt %d of %s at position %d", in.IntentID, r.Attempt, r.IntentID, i+1)
		}
		if r.CreatedAtNanos <= out[len(out)-1].CreatedAtNanos {
			return nil, fmt.Errorf("intent %s: attempt %d created_at_time %d is not after the previous %d", in.IntentID, r.Attempt, r.CreatedAtNanos, out[len(out)-1].CreatedAtNanos)
		}
		out = append(out, Attempt{N: r.Attempt, CreatedAtNanos: r.CreatedAtNanos})
	}
	return out, nil
}

// Block is the part of a ledger transfer block a payout is matched on. To
// is the 32-byte legacy account identifier of the destination.
type Block struct {
	Index          uint64
	TimestampNanos uint64
	Op             string // "transfer" for transfers
	From, To       [32]byte
	AmountE8s      uint64
	FeeE8s         uint64
	Memo           []byte // nil when absent
	LegacyMemo     uint64 // the legacy transfer method's nat64 memo (0 for ICRC-1)
	CreatedAtNanos uint64
}

// Match finds the block that executed one of the intent's attempts: a
// transfer from the treasury to the recipient with the intent's amount, fee
// and memo and one of the attempts' created_at_time (docs/ic-interfaces.md §4.2).
// Two matching blocks are impossible on a de-duplicating ledger unless two
// attempts both executed; Match reports every match so the caller can alarm.
func Match(in schemas.PayoutIntent, attempts []Attempt, from, to [32]byte, blocks []Block) ([]Block, error) {
	memo, err := hex.DecodeString(in.MemoHex)
	if err != nil {
		return nil, fmt.Errorf("intent %s: memo_hex: %w", in.IntentID, err)
	}
	times := map[uint64]bool{}
	for _, a := range attempts {
		times[a.CreatedAtNanos] = true
	}
	// A transfer to a legacy account identifier was sent with the legacy
	// method: its block carries the folded nat64 memo, not the bytes.
	legacy := IsAccountIdentifier(in.Recipient)
	var out []Block
	for _, b := range blocks {
		memoOK := b.Memo != nil && bytes.Equal(b.Memo, memo)
		if legacy {
			memoOK = b.Memo == nil && b.LegacyMemo == LegacyMemo(memo)
		}
		if b.Op == "transfer" && b.From == from && b.To == to && b.AmountE8s == uint64(in.AmountE8s) &&
			b.FeeE8s == uint64(in.FeeE8s) && memoOK && times[b.CreatedAtNanos] {
			out = append(out, b)
		}
	}
	return out, nil
}
