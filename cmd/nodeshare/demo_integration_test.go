package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nodeshare/nodeshare/connectors/clickhouse"
	"github.com/nodeshare/nodeshare/connectors/ic"
	rules "github.com/nodeshare/nodeshare/pipeline/payout"
	"github.com/nodeshare/nodeshare/schemas"
)

type simLedger struct {
	ChainLen uint64 `json:"chain_length"`
	Blocks   []struct {
		Index       uint64  `json:"index"`
		Op          string  `json:"op"`
		To          string  `json:"to"`
		From        string  `json:"from"`
		ToAccount   string  `json:"to_account"`
		FromAccount string  `json:"from_account"`
		LegacyMemo  uint64  `json:"legacy_memo"`
		AmountE8s   uint64  `json:"amount_e8s"`
		FeeE8s      uint64  `json:"fee_e8s"`
		MemoHex     *string `json:"memo_hex"`
		CreatedAt   *uint64 `json:"created_at_nanos"`
	} `json:"blocks"`
}

func readSimLedger(t *testing.T, url string) simLedger {
	t.Helper()
	resp, err := http.Get(url + "/admin/ledger")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var l simLedger
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatalf("simulator ledger dump: %v", err)
	}
	return l
}

// TestDemoEndToEnd runs the demo path on the real stack: the sponsors'
// own transfers to the pools' deposit accounts, the connector, the
// lifecycle and entitlement processors, the ClickHouse sink, Vault transit
// signing and the IC simulator's ledger; then checks the settlements and
// the reward's transfers against the ledger, the audit rows, and that a
// second run sends nothing.
func TestDemoEndToEnd(t *testing.T) {
	cfg := requireServices(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	dao := fmt.Sprintf("it-demo-%d", time.Now().UnixNano())

	first, err := demo(ctx, cfg, dao, log)
	if err != nil {
		t.Fatalf("first run: %v", err)
	}
	if !first.Minted {
		t.Fatal("first run did not see the reward as new")
	}
	// 71 sponsors' deposits and two bonds; each pool settled to the
	// purchaser from its deposit account: 100 ICP less the fee.
	if first.Deposited != 73 || len(first.Lifecycle) != 2 {
		t.Fatalf("first run: %d deposits, %d lifecycle manifests", first.Deposited, len(first.Lifecycle))
	}
	// Finance's report: every manifest reconciled against the ledger.
	if len(first.Reconciled) != 3 || first.ReportPath == "" {
		t.Fatalf("reconciliations %v, report %q", first.Reconciled, first.ReportPath)
	}
	for _, st := range first.Reconciled {
		if !strings.HasSuffix(st, " reconciled") {
			t.Fatalf("reconciliation %s (all: %v)", st, first.Reconciled)
		}
	}
	for _, l := range first.Lifecycle {
		in := l.Manifest.Intents
		if len(in) != 1 || in[0].Role != "settlement" || in[0].AmountE8s != 100*icpE8s-10_000 || l.Paid != 1 {
			t.Fatalf("lifecycle manifest %s: %+v", l.Manifest.Period, l)
		}
	}
	m := first.Payout.Manifest
	// 2 pools: 51 + 20 sponsors and the hoster in each; all above the minimum.
	if len(m.Intents) != 73 || first.Payout.Sent != 73 {
		t.Fatalf("want 73 intents all sent, got %d intents, %d sent", len(m.Intents), first.Payout.Sent)
	}

	// The audit trail: entitlements equal the intents, one for one.
	store, err := clickhouse.Open(ctx, cfg.ClickHouse)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	ents, err := store.Entitlements(ctx, dao, first.Period)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{} // pool/role/recipient -> transfer
	var gross int64
	for _, e := range ents {
		want[e.PoolID+"/"+e.Role+"/"+e.Recipient] = e.TransferE8s
	}
	pools, err := store.PoolPeriods(ctx, dao, first.Period)
	if err != nil || len(pools) != 2 {
		t.Fatalf("pool periods: %v (%d)", err, len(pools))
	}
	for _, p := range pools {
		gross += p.GrossE8s
		if p.ManifestSHA256 == "" || p.InputJSON == "" || p.AllocationJSON == "" {
			t.Errorf("pool %s: manifest, input or allocation missing from the audit row", p.PoolID)
		}
	}
	if len(ents) != 73 {
		t.Fatalf("want 73 entitlement rows, got %d", len(ents))
	}

	// The ledger: every intent's block moves exactly the entitled amount to
	// the recipient, with the intent's memo and created_at_time.
	led := readSimLedger(t, cfg.ICURL)
	byIndex := map[uint64]int{}
	for i, b := range led.Blocks {
		byIndex[b.Index] = i
	}
	var paid int64
	for _, in := range m.Intents {
		res := first.Payout.Results[in.IntentID]
		if res.Status != schemas.PayoutPaid || res.Duplicate {
			t.Fatalf("intent %s: status %s duplicate %v", in.IntentID, res.Status, res.Duplicate)
		}
		i, ok := byIndex[res.BlockIndex]
		if !ok {
			t.Fatalf("intent %s: block %d not on the ledger", in.IntentID, res.BlockIndex)
		}
		b := led.Blocks[i]
		if b.Op != "transfer" && !strings.EqualFold(b.Op, "Transfer") {
			t.Errorf("block %d: op %s", b.Index, b.Op)
		}
		// Sponsors are known by the account their deposit came from and
		// paid with the legacy transfer; the hoster by its ICRC-1 text.
		to, memoOK := b.To, false
		memo, _ := hex.DecodeString(in.MemoHex)
		if in.Role == "hoster" {
			acct, err := ic.AccountFromText(in.Recipient)
			if err != nil {
				t.Fatal(err)
			}
			to = ic.LegacyAccountID(acct).String()
			memoOK = b.MemoHex != nil && *b.MemoHex == in.MemoHex
		} else {
			memoOK = b.MemoHex == nil && b.LegacyMemo == rules.LegacyMemo(memo)
		}
		if to != b.To || (in.Role != "hoster" && b.To != in.Recipient) || int64(b.AmountE8s) != want[in.PoolID+"/"+in.Role+"/"+in.Recipient] || int64(b.FeeE8s) != in.FeeE8s {
			t.Errorf("block %d: to %s amount %d fee %d; entitlement %s transfer %d fee %d", b.Index, b.To, b.AmountE8s, b.FeeE8s,
				in.Recipient, want[in.PoolID+"/"+in.Role+"/"+in.Recipient], in.FeeE8s)
		}
		if !memoOK || b.CreatedAt == nil || *b.CreatedAt != in.CreatedAtNanos {
			t.Errorf("block %d: memo/created_at_time do not match intent %s", b.Index, in.IntentID)
		}
		paid += int64(b.AmountE8s + b.FeeE8s)
	}
	if paid > gross {
		t.Fatalf("paid %d e8s (with fees) out of a gross of %d", paid, gross)
	}
	// Audit rows: the raw reward, every result recorded as paid.
	var rawRewards, paidRows uint64
	if err := store.Conn().QueryRow(ctx, "SELECT count() FROM events_raw FINAL WHERE topic = ? AND event_type = ? AND payload LIKE ?",
		schemas.TopicNodeRewards, schemas.TypeNodeReward, "%"+first.Treasury+"%").Scan(&rawRewards); err != nil {
		t.Fatal(err)
	}
	results, err := store.Results(ctx, dao, first.Period)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Status == schemas.PayoutPaid {
			paidRows++
		}
	}
	if rawRewards == 0 || paidRows != 73 {
		t.Fatalf("audit trail: %d raw reward rows, %d paid result rows (want >0, 73)", rawRewards, paidRows)
	}

	// A second run pays nobody twice: nothing sent, the ledger unchanged.
	// Blocks that touch this run's treasury (other tests may share the
	// simulator, so the whole chain is not compared).
	treasuryBlocks := func() int {
		n := 0
		for _, b := range readSimLedger(t, cfg.ICURL).Blocks {
			if b.FromAccount == first.Treasury || b.ToAccount == first.Treasury {
				n++
			}
		}
		return n
	}
	before := treasuryBlocks()
	second, err := demo(ctx, cfg, dao, log)
	if err != nil {
		t.Fatalf("second run: %v", err)
	}
	if second.Minted || second.Deposited != 0 || second.Payout.Sent != 0 || second.Payout.Skipped != 73 {
		t.Fatalf("second run: minted %v, deposited %d, sent %d, skipped %d", second.Minted, second.Deposited, second.Payout.Sent, second.Payout.Skipped)
	}
	for _, l := range second.Lifecycle {
		if l.Sent != 0 || l.Skipped != 1 {
			t.Fatalf("second run paid lifecycle manifest %s again: %+v", l.Manifest.Period, l)
		}
	}
	if second.Payout.Manifest.SHA256 != m.SHA256 {
		t.Fatalf("second run planned another manifest: %s vs %s", second.Payout.Manifest.SHA256, m.SHA256)
	}
	if after := treasuryBlocks(); after != before || before < 74 {
		t.Fatalf("second run moved the treasury: %d of its blocks before (mint + 73 transfers expected), %d after", before, after)
	}
}
