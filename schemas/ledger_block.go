package schemas

import "strconv"

// LedgerBlock is one ICP ledger block as published on ic.ledger-blocks.v1
// (type ledger_block, key LedgerBlockKey): a block whose chain of parent
// hashes was verified up to the ledger's certified tip before it was
// published (docs/ic-interfaces.md §4.2). Accounts are 64-hex account
// identifiers; From is empty for a mint, To for a burn.
type LedgerBlock struct {
	Ledger         string `json:"ledger"` // the ledger canister id
	Index          uint64 `json:"index"`
	Time           string `json:"time"` // the block timestamp, RFC 3339 with nanoseconds
	TimestampNanos uint64 `json:"timestamp_nanos"`
	Op             string `json:"op"` // transfer, mint, burn or approve
	From           string `json:"from"`
	To             string `json:"to"`
	AmountE8s      uint64 `json:"amount_e8s"`
	FeeE8s         uint64 `json:"fee_e8s"`
	// MemoHex is the ICRC-1 memo (absent when none); LegacyMemo the nat64
	// memo of the legacy transfer method.
	MemoHex        *string `json:"memo_hex,omitempty"`
	LegacyMemo     uint64  `json:"legacy_memo"`
	CreatedAtNanos uint64  `json:"created_at_nanos"`
	ParentHashHex  string  `json:"parent_hash_hex"`
	HashHex        string  `json:"hash_hex"`
}

// TypeLedgerCursor is the type of the block connector's cursor records on
// ic.ledger-blocks.v1 (docs/connectors.md "Ledger blocks and the cursor"):
// readers that want blocks take the records of type TypeLedgerBlock and
// leave these.
const TypeLedgerCursor = "ledger_cursor"

// LedgerCursor is a cursor record's payload: every block of Ledger below
// NextIndex has been read and the pools' blocks among them published.
type LedgerCursor struct {
	Ledger    string `json:"ledger"`
	NextIndex uint64 `json:"next_index"`
}

// LedgerCursorKey is a cursor record's key on ic.ledger-blocks.v1:
// <ledger canister>/cursor/<next index>. One key per position, never
// rewritten (the block keys are <ledger>/<index>, all digits).
func LedgerCursorKey(ledger string, nextIndex uint64) string {
	return ledger + "/cursor/" + strconv.FormatUint(nextIndex, 10)
}
