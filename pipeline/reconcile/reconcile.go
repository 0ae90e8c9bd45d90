// Package reconcile is the four-way reconciliation of one payout manifest,
// pure: what was owed (entitlements, or lifecycle transfers), what was
// planned (intents), what was recorded (verified results), what the ledger
// holds (its blocks from the paying account, read back through the
// certified-tip verification) and the account's balance. Every difference
// is listed with its kind; the manifest is reconciled, partially
// reconciled or unreconciled (docs/finance.md). No I/O: the report stage
// (pipeline/stage/report) reads the inputs and stores the result.
package reconcile

import (
	"encoding/hex"
	"fmt"
	"sort"

	rules "github.com/nodeshare/nodeshare/pipeline/payout"
	"github.com/nodeshare/nodeshare/schemas"
)

// Kind is a difference's kind.
type Kind string

// The kinds of difference (docs/finance.md says what each means and what
// to do).
const (
	// MissingTransfer: owed but never planned, or recorded as paid but
	// no block carries the intent.
	MissingTransfer Kind = "missing_transfer"
	// OutsideTransfer: a transfer from the paying account that no intent
	// of the DAO explains: sent outside nodeshare.
	OutsideTransfer Kind = "outside_transfer"
	// AmountDiffers: the block, the intent and what was owed disagree on
	// the amount or the recipient.
	AmountDiffers Kind = "amount_differs"
	// FeeDiffers: the block's fee is not the planned fee.
	FeeDiffers Kind = "fee_differs"
	// PaidTwice: more than one block carries one intent.
	PaidTwice Kind = "paid_twice"
	// BalanceDrift: the account's balance on the ledger is not what its
	// blocks add up to.
	BalanceDrift Kind = "balance_drift"
)

// Kinds are every kind of difference, in a fixed order.
func Kinds() []Kind {
	return []Kind{MissingTransfer, OutsideTransfer, AmountDiffers, FeeDiffers, PaidTwice, BalanceDrift}
}

// State is a manifest's reconciliation state, as finance teams know them
// (Modern Treasury's reconciliation states).
type State string

// The states.
const (
	// Reconciled: every intent is matched one to one to a block with the
	// same recipient, amount and fee; nothing else left the account; the
	// balance adds up.
	Reconciled State = "reconciled"
	// PartiallyReconciled: no difference, but some intents are not on the
	// ledger yet (pending: resume the run), or their blocks are not read
	// back yet (run the connector).
	PartiallyReconciled State = "partially_reconciled"
	// Unreconciled: at least one difference.
	Unreconciled State = "unreconciled"
)

// Difference is one thing that does not agree.
type Difference struct {
	Kind       Kind    `json:"kind"`
	IntentID   string  `json:"intent_id,omitempty"`
	BlockIndex *uint64 `json:"block_index,omitempty"`
	Expected   string  `json:"expected,omitempty"`
	Actual     string  `json:"actual,omitempty"`
	Detail     string  `json:"detail"`
}

// Input is one manifest and what the ledger holds for it.
type Input struct {
	DAO, Period string
	// Source is the account identifier (64 hex) the manifest pays from.
	Source  string
	Intents []schemas.PayoutIntent
	Results map[string]schemas.PayoutResult
	// Owed is what the intents must pay, by intent id, with the recipient
	// and amounts: from the entitlements (a reward period) or the
	// lifecycle transfers (a lifecycle period). Nil skips that leg.
	Owed map[string]Owed
	// Blocks are the ledger's blocks from Source from the manifest's plan
	// on, verified: an intent is matched among all of them (a retry may
	// land after the next plan).
	Blocks []schemas.LedgerBlock
	// WindowFrom and WindowTo (ns since the epoch; 0: open) bound the
	// blocks this manifest answers for: a transfer in it that no intent
	// explains is an outside transfer of this manifest (the window runs
	// from its plan to the next plan from the same account).
	WindowFrom, WindowTo uint64
	// ReadTo is how far the blocks were read back (the connector's
	// cursor): a result recorded in a block at or past it is not checked
	// yet (pending), not missing. 0: everything was read.
	ReadTo uint64
	// Known are the memos of every intent of the DAO from Source (any
	// period): a block carrying one of them is not an outside transfer.
	Known map[string]bool
	// Balance, when set, is the account's balance on the ledger and what
	// its blocks add up to (checked on the latest manifest of an account).
	Balance *Balance
}

// Owed is what one intent must pay.
type Owed struct {
	Recipient   string
	TransferE8s int64
	FeeE8s      int64
}

// Balance is an account's balance as the ledger reports it and as its
// blocks add up.
type Balance struct {
	LedgerE8s, BlocksE8s uint64
}

// Match is an intent and the block that pays it (nil when none).
type Match struct {
	Intent schemas.PayoutIntent
	Block  *schemas.LedgerBlock
}

// Result is a manifest's reconciliation.
type Result struct {
	DAO         string       `json:"dao"`
	Period      string       `json:"period"`
	State       State        `json:"state"`
	Intents     int          `json:"intents"`
	Matched     int          `json:"matched"`
	Pending     int          `json:"pending"`
	Differences []Difference `json:"differences"`
	// Matches pairs each intent with its block, in intent id order.
	Matches []Match `json:"-"`
}

// MemoKey is the memo a block carries, as the key intents are matched
// by: the ICRC-1 memo's hex, or "legacy:<n>" for the legacy transfer's
// nat64 memo.
func MemoKey(b schemas.LedgerBlock) string {
	if b.MemoHex != nil {
		return *b.MemoHex
	}
	return fmt.Sprintf("legacy:%d", b.LegacyMemo)
}

// IntentMemoKey is the memo key a block paying in must carry: the
// intent's memo as ICRC-1 memo, or its legacy fold for a recipient known
// by account identifier (rules.LegacyMemo).
func IntentMemoKey(in schemas.PayoutIntent) string {
	if rules.IsAccountIdentifier(in.Recipient) {
		memo, _ := hex.DecodeString(in.MemoHex)
		return fmt.Sprintf("legacy:%d", rules.LegacyMemo(memo))
	}
	return in.MemoHex
}

// Reconcile compares the legs of one manifest. recipientID maps an
// intent's ICRC-1 recipient to the account identifier blocks name it by
// (a recipient given as an account identifier is its own).
func Reconcile(in Input, recipientID func(string) (string, error)) Result {
	out := Result{DAO: in.DAO, Period: in.Period, Intents: len(in.Intents), Differences: []Difference{}}
	add := func(d Difference) { out.Differences = append(out.Differences, d) }
	byMemo := map[string][]schemas.LedgerBlock{}
	for _, b := range in.Blocks {
		if b.Op != "transfer" || b.From != in.Source {
			continue
		}
		byMemo[MemoKey(b)] = append(byMemo[MemoKey(b)], b)
	}
	intents := append([]schemas.PayoutIntent(nil), in.Intents...)
	sort.Slice(intents, func(i, j int) bool { return intents[i].IntentID < intents[j].IntentID })
	planned := map[string]bool{}
	for _, it := range intents {
		planned[it.IntentID] = true
		m := Match{Intent: it}
		// Leg 1: what was owed.
		if in.Owed != nil {
			o, ok := in.Owed[it.IntentID]
			switch {
			case !ok:
				add(Difference{Kind: AmountDiffers, IntentID: it.IntentID, Expected: "nothing owed", Actual: fmt.Sprintf("%d to %s", it.AmountE8s, it.Recipient),
					Detail: "the intent pays what no entitlement or lifecycle transfer owes"})
			case o.Recipient != it.Recipient || o.TransferE8s != it.AmountE8s:
				add(Difference{Kind: AmountDiffers, IntentID: it.IntentID, Expected: fmt.Sprintf("%d to %s", o.TransferE8s, o.Recipient),
					Actual: fmt.Sprintf("%d to %s", it.AmountE8s, it.Recipient), Detail: "the intent does not pay what is owed"})
			case o.FeeE8s != it.FeeE8s:
				add(Difference{Kind: FeeDiffers, IntentID: it.IntentID, Expected: fmt.Sprint(o.FeeE8s), Actual: fmt.Sprint(it.FeeE8s),
					Detail: "the intent's fee is not the owed fee"})
			}
		}
		// Legs 2-4: the intent, its recorded result, the ledger's blocks.
		blocks := byMemo[IntentMemoKey(it)]
		res, recorded := in.Results[it.IntentID]
		paid := recorded && res.Status == schemas.PayoutPaid
		switch {
		case len(blocks) == 0 && paid && in.ReadTo != 0 && res.BlockIndex >= in.ReadTo:
			out.Pending++ // paid, not read back yet
		case len(blocks) == 0 && paid:
			idx := res.BlockIndex
			add(Difference{Kind: MissingTransfer, IntentID: it.IntentID, BlockIndex: &idx, Expected: fmt.Sprintf("a block from %s with memo %s", in.Source, it.MemoHex),
				Actual: "none", Detail: fmt.Sprintf("recorded as paid in block %d, but no block from the account carries the intent", idx)})
		case len(blocks) == 0:
			out.Pending++
		default:
			if len(blocks) > 1 {
				idx := blocks[1].Index
				add(Difference{Kind: PaidTwice, IntentID: it.IntentID, BlockIndex: &idx, Expected: "1 block", Actual: fmt.Sprintf("%d blocks", len(blocks)),
					Detail: fmt.Sprintf("blocks %s carry the same intent", blockList(blocks))})
			}
			b := blocks[0]
			m.Block = &b
			out.Matched++
			to, err := it.Recipient, error(nil)
			if !rules.IsAccountIdentifier(to) {
				to, err = recipientID(it.Recipient)
			}
			switch {
			case err != nil:
				add(Difference{Kind: AmountDiffers, IntentID: it.IntentID, BlockIndex: &b.Index, Detail: fmt.Sprintf("recipient %q: %v", it.Recipient, err)})
			case b.To != to || int64(b.AmountE8s) != it.AmountE8s:
				add(Difference{Kind: AmountDiffers, IntentID: it.IntentID, BlockIndex: &b.Index, Expected: fmt.Sprintf("%d to %s", it.AmountE8s, to),
					Actual: fmt.Sprintf("%d to %s", b.AmountE8s, b.To), Detail: "the block does not pay what the intent says"})
			}
			if int64(b.FeeE8s) != it.FeeE8s {
				add(Difference{Kind: FeeDiffers, IntentID: it.IntentID, BlockIndex: &b.Index, Expected: fmt.Sprint(it.FeeE8s), Actual: fmt.Sprint(b.FeeE8s),
					Detail: "the block's fee is not the planned fee"})
			}
			if paid && res.BlockIndex != b.Index && len(blocks) == 1 {
				idx := res.BlockIndex
				add(Difference{Kind: MissingTransfer, IntentID: it.IntentID, BlockIndex: &idx, Expected: fmt.Sprintf("block %d", b.Index), Actual: fmt.Sprintf("block %d", idx),
					Detail: "the result records another block than the one that carries the intent"})
			}
		}
		out.Matches = append(out.Matches, m)
	}
	// Owed but never planned.
	var unplanned []string
	for id := range in.Owed {
		if !planned[id] && in.Owed[id].TransferE8s > 0 {
			unplanned = append(unplanned, id)
		}
	}
	sort.Strings(unplanned)
	for _, id := range unplanned {
		o := in.Owed[id]
		add(Difference{Kind: MissingTransfer, IntentID: id, Expected: fmt.Sprintf("%d to %s", o.TransferE8s, o.Recipient), Actual: "no intent",
			Detail: "owed, but the manifest has no intent for it"})
	}
	// Transfers from the account that no intent of the DAO explains.
	for _, b := range in.Blocks {
		if b.Op != "transfer" || b.From != in.Source || in.Known[MemoKey(b)] ||
			b.TimestampNanos < in.WindowFrom || (in.WindowTo != 0 && b.TimestampNanos >= in.WindowTo) {
			continue
		}
		idx := b.Index
		add(Difference{Kind: OutsideTransfer, BlockIndex: &idx, Actual: fmt.Sprintf("%d + fee %d to %s, memo %s", b.AmountE8s, b.FeeE8s, b.To, MemoKey(b)),
			Detail: "a transfer from the paying account that no intent of the DAO explains"})
	}
	if bal := in.Balance; bal != nil && bal.LedgerE8s != bal.BlocksE8s {
		add(Difference{Kind: BalanceDrift, Expected: fmt.Sprint(bal.BlocksE8s), Actual: fmt.Sprint(bal.LedgerE8s),
			Detail: fmt.Sprintf("the ledger holds %d e8s in %s, its blocks add up to %d", bal.LedgerE8s, in.Source, bal.BlocksE8s)})
	}
	switch {
	case len(out.Differences) > 0:
		out.State = Unreconciled
	case out.Pending > 0:
		out.State = PartiallyReconciled
	default:
		out.State = Reconciled
	}
	return out
}

func blockList(bs []schemas.LedgerBlock) string {
	s := ""
	for i, b := range bs {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprint(b.Index)
	}
	return s
}

// Flow is what block b moves into and out of account: a mint or a
// transfer to it comes in; a transfer from it goes out with its fee, a
// burn with its amount, an approve with its fee.
func Flow(account string, b schemas.LedgerBlock) (in, out uint64) {
	if b.To == account && (b.Op == "transfer" || b.Op == "mint") {
		in = b.AmountE8s
	}
	if b.From == account {
		switch b.Op {
		case "transfer":
			out = b.AmountE8s + b.FeeE8s
		case "burn":
			out = b.AmountE8s
		case "approve":
			out = b.FeeE8s
		}
	}
	return in, out
}

// AccountBalance adds up an account's blocks (Flow).
func AccountBalance(account string, blocks []schemas.LedgerBlock) (uint64, error) {
	var in, out uint64
	for _, b := range blocks {
		i, o := Flow(account, b)
		in += i
		out += o
	}
	if out > in {
		return 0, fmt.Errorf("account %s: its blocks move out %d e8s, more than the %d that came in: blocks are missing", account, out, in)
	}
	return in - out, nil
}
