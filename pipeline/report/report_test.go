package report

import (
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	rules "github.com/nodeshare/nodeshare/pipeline/payout"
	"github.com/nodeshare/nodeshare/pipeline/reconcile"
	"github.com/nodeshare/nodeshare/schemas"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func accountID(owner string) string {
	a, err := schemas.AccountOf(owner, [32]byte{})
	if err != nil {
		panic(err)
	}
	return a.ID
}

// The fixed scenario: DAO "golden", one pool, a reward of 10 ICP minted
// to the treasury (block 100), three transfers: the whale (an account
// identifier: the legacy transfer), a sponsor and the hoster (ICRC-1
// text); the last transfer is paid when the latest fiat price is more than
// an hour old, so its fiat value is unknown.
var (
	treasuryOwner = "uzntf-pot5s-2lodi-p7c5t-anvcf-cegba-fc32z-nhzeh-tn6gd-dtxxj-kae"
	treasury      = Account{ICRC1: treasuryOwner, ID: accountID(treasuryOwner)}
	whale         = accountID("2vxsx-fae")
	sponsor       = "aaaaa-aa"
	hoster        = "rrkah-fqaaa-aaaaa-aaaaq-cai"
	t0            = time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC)
)

func recipientID(r string) (string, error) {
	if r == sponsor || r == hoster {
		return accountID(r), nil
	}
	return "", fmt.Errorf("unknown %q", r)
}

func scenario() (PeriodInput, Prices) {
	const dao, period, pool = "golden", "2026-11-01", "pool-a"
	ents := []schemas.Entitlement{
		{DAO: dao, Period: period, PoolID: pool, Recipient: whale, Role: "sponsor", RulesVersion: "v1", StakeE8s: 3_000_000_000, ShareE8s: 350_000_000,
			OwedE8s: 350_000_000, TransferE8s: 349_990_000, FeeE8s: 10_000},
		{DAO: dao, Period: period, PoolID: pool, Recipient: sponsor, Role: "sponsor", RulesVersion: "v1", StakeE8s: 7_000_000_000, ShareE8s: 550_000_000,
			CarryInE8s: 1_000, OwedE8s: 550_001_000, TransferE8s: 549_991_000, FeeE8s: 10_000},
		{DAO: dao, Period: period, PoolID: pool, Recipient: hoster, Role: "hoster", RulesVersion: "v1", ShareE8s: 80_000_000,
			OwedE8s: 80_000_000, TransferE8s: 79_990_000, FeeE8s: 10_000},
	}
	pools := []schemas.PoolPeriod{{DAO: dao, Period: period, PoolID: pool, RulesVersion: "v1", RewardEventID: "np/1", GrossE8s: 1_000_000_000,
		HosterFeeE8s: 80_000_000, DAOFeeE8s: 20_000_000, DistributableE8s: 900_000_000, Whale: whale, ManifestSHA256: strings.Repeat("ab", 32)}}
	for i := range ents {
		ents[i].ManifestSHA256 = pools[0].ManifestSHA256
	}
	m, err := rules.PlanWithInputs(dao, period, ents, pools, uint64(t0.Add(time.Hour).UnixNano()))
	if err != nil {
		panic(err)
	}
	blocks := []schemas.LedgerBlock{
		{Index: 90, Op: "mint", To: treasury.ID, AmountE8s: 500_000_000, TimestampNanos: uint64(t0.Add(-30 * 24 * time.Hour).UnixNano())},
		{Index: 100, Op: "mint", To: treasury.ID, AmountE8s: 1_000_000_000, TimestampNanos: uint64(t0.UnixNano())},
	}
	results := map[string]schemas.PayoutResult{}
	attempts := map[string][]schemas.PayoutAttempt{}
	for i, in := range m.Intents {
		at := t0.Add(time.Hour + time.Duration(i)*80*time.Minute)
		b := schemas.LedgerBlock{Index: uint64(101 + i), Op: "transfer", From: treasury.ID, AmountE8s: uint64(in.AmountE8s), FeeE8s: uint64(in.FeeE8s),
			TimestampNanos: uint64(at.UnixNano()), Time: at.Format(time.RFC3339Nano)}
		if rules.IsAccountIdentifier(in.Recipient) {
			memo, _ := hex.DecodeString(in.MemoHex)
			b.To, b.LegacyMemo = in.Recipient, rules.LegacyMemo(memo)
		} else {
			b.To, _ = recipientID(in.Recipient)
			memo := in.MemoHex
			b.MemoHex = &memo
		}
		blocks = append(blocks, b)
		results[in.IntentID] = schemas.PayoutResult{IntentID: in.IntentID, Status: schemas.PayoutPaid, BlockIndex: b.Index, VerifiedBy: "icrc1_transfer reply", AmountE8s: in.AmountE8s, Recipient: in.Recipient}
		if i == 1 {
			attempts[in.IntentID] = []schemas.PayoutAttempt{{IntentID: in.IntentID, Attempt: 0, CreatedAtNanos: in.CreatedAtNanos},
				{IntentID: in.IntentID, Attempt: 1, CreatedAtNanos: in.CreatedAtNanos + 86_400_000_000_000, Reason: "TooOld; absent from blocks 90-140"}}
		}
	}
	owed := map[string]reconcile.Owed{}
	known := map[string]bool{}
	for _, e := range ents {
		id := rules.IntentID(e.DAO, e.Period, e.PoolID, e.Role, e.Recipient)
		owed[hex.EncodeToString(id[:])] = reconcile.Owed{Recipient: e.Recipient, TransferE8s: e.TransferE8s, FeeE8s: e.FeeE8s}
	}
	for _, in := range m.Intents {
		known[reconcile.IntentMemoKey(in)] = true
	}
	bal, _ := reconcile.AccountBalance(treasury.ID, blocks)
	rec := reconcile.Reconcile(reconcile.Input{DAO: dao, Period: period, Source: treasury.ID, Intents: m.Intents, Results: results, Owed: owed,
		Blocks: blocks, Known: known, Balance: &reconcile.Balance{LedgerE8s: bal, BlocksE8s: bal}}, recipientID)
	in := PeriodInput{Manifest: m.Header(), Intents: m.Intents, Results: results, Attempts: attempts, Entitlements: ents, Pools: pools,
		Source: treasury, Recon: rec, Blocks: blocks}
	prices := Prices{Currency: "usd",
		Rates: []schemas.Rate{{Kind: "spot", TimestampSeconds: uint64(t0.Add(-10 * time.Minute).Unix()), XDRPermyriadPerICP: 35_000}},
		Fiat: []schemas.FiatPrice{{Source: "test", Currency: "usd", TimestampSeconds: uint64(t0.Add(50 * time.Minute).Unix()), PriceMicros: 4_761_234},
			{Source: "test", Currency: "usd", TimestampSeconds: uint64(t0.Add(90 * time.Minute).Unix()), PriceMicros: 4_800_000}}}
	return in, prices
}

func TestGoldenReport(t *testing.T) {
	in, prices := scenario()
	r, err := Build("golden", []PeriodInput{in}, prices, recipientID)
	if err != nil {
		t.Fatal(err)
	}
	p := r.Periods[0]
	if p.Reconciliation != reconcile.Reconciled || len(p.Lines) != 3 || p.Walk.OpeningE8s != 500_000_000 || p.Walk.MintInE8s != 1_000_000_000 ||
		p.Walk.ClosingE8s != 500_000_000+1_000_000_000-979_971_000-30_000 {
		t.Fatalf("%s %d %+v %+v", p.Reconciliation, len(p.Lines), p.Walk, p.Differences)
	}
	for _, l := range p.Lines {
		if l.BlockIndex == nil || l.ValueXDR == "" {
			t.Fatalf("line %s: %+v", l.Role, l)
		}
	}
	// Blocks at t0 + 1 h, 2 h 20 min and 3 h 40 min; prices at t0 + 50
	// and 90 min: the third transfer's latest price is 2 h 10 min old, so
	// it has no fiat value and says why.
	var notes int
	for _, l := range p.Lines {
		if l.ValueFiat == "" {
			notes++
			if !strings.Contains(l.Note, "no USD price within 1h0m0s") {
				t.Fatalf("note %q", l.Note)
			}
		}
	}
	if notes != 1 {
		t.Fatalf("%d lines without a fiat value, want 1", notes)
	}
	for _, f := range []struct {
		name  string
		write func(*bytes.Buffer) error
	}{
		{"report.json", func(b *bytes.Buffer) error { return WriteJSON(b, r) }},
		{"report.csv", func(b *bytes.Buffer) error { return WriteCSV(b, r) }},
		{"report.html", func(b *bytes.Buffer) error { return WriteHTML(b, r) }},
	} {
		var got bytes.Buffer
		if err := f.write(&got); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", "golden", f.name)
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (go test -run TestGoldenReport -update writes it)", err)
		}
		if !bytes.Equal(got.Bytes(), want) {
			t.Fatalf("%s differs from %s (go test -run TestGoldenReport -update if intended):\n%s", f.name, path, got.String())
		}
	}
}

func TestHTMLEscapes(t *testing.T) {
	in, prices := scenario()
	in.Pools[0].Whale = `<script>alert(1)</script>`
	r, err := Build("<b>dao</b>", []PeriodInput{in}, prices, recipientID)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "<script>") || strings.Contains(b.String(), "<b>dao") || !strings.Contains(b.String(), "&lt;script&gt;") {
		t.Fatal("the page does not escape what it shows")
	}
}

func TestValuesAreTruncatedIntegers(t *testing.T) {
	if got := mulDiv(123_456_789, 35_000, 10_000); got != 432_098_761 {
		t.Fatalf("xdr %d", got)
	}
	if got := formatMicros(mulDiv(100_000_001, 4_761_234, 100_000_000)); got != "4.761234" {
		t.Fatalf("fiat %s", got)
	}
}
