package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aviate-labs/agent-go/identity"

	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/pipeline/reconcile"
	rep "github.com/nodeshare/nodeshare/pipeline/report"
	reportstage "github.com/nodeshare/nodeshare/pipeline/stage/report"
	"github.com/nodeshare/nodeshare/pipeline/statement"
	"github.com/nodeshare/nodeshare/schemas"
)

// TestReconcileFindsEachDiscrepancy pays a crowdfunded pool's settlement
// and one month's reward on the real stack, checks that the report and
// the four-way reconciliation find everything in order, then injects each
// discrepancy finance must see, one at a time, and checks that the
// reconciliation names it with its kind: a transfer sent from the
// treasury outside nodeshare, a payment recorded twice on the ledger, a
// result that records another block (a missing transfer), an intent whose
// amount was changed, an intent whose fee was changed, and a balance that
// does not add up (a stored block altered).
func TestReconcileFindsEachDiscrepancy(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	w, tables := newYearWorld(t, ctx, "it-recon")
	day := 24 * time.Hour
	start := w.now()
	w.nodeJoins(yearOtherNP, yearOther, start.Add(-5*day))
	whale, s1, s2 := w.sponsor(100*icp), w.sponsor(100*icp), w.sponsor(100*icp)
	purchaser := w.sponsor(20 * icp)
	w.createPool("pool-a", accountIDOf(purchaser), start.Add(20*day), start.Add(2*365*day))
	dep, bond := w.poolAccounts("pool-a")
	w.deposit(whale, dep, 35*icp, false)
	w.deposit(s1, dep, 35*icp, true)
	w.deposit(s2, dep, 30*icp, false)
	w.deposit(purchaser, bond, 10*icp, false)
	w.connect()
	w.process()
	w.sim.AdvanceClock(day)
	prop := w.propose("pool-a")
	w.sim.AdvanceClock(day)
	w.decide(prop, "executed")
	w.nodeJoins(yearNP, yearNode, w.now().Add(day))
	w.sim.AdvanceClock(2 * day)
	w.connect()
	w.process()
	w.payPool("pool-a")
	w.sim.AdvanceClock(30 * day)
	period := w.reward(41 * icp)
	w.connect() // the payouts' blocks, read back verified
	w.process()

	treasuryPrincipal := w.treasury.Sender().String()
	cfg := reportConfig(w.dao, treasuryPrincipal, "usd")
	cfg.Save = true
	anon, err := ic.New(ic.Config{URL: w.url, Identity: new(identity.AnonymousIdentity), FetchRootKey: true})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Ledger = ic.ReportLedger{Client: anon}
	reconcileNow := func() map[string]reconcile.Result {
		t.Helper()
		out, err := reportstage.Run(ctx, tables, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Notes) > 0 {
			t.Fatalf("notes: %v", out.Notes)
		}
		byPeriod := map[string]reconcile.Result{}
		for _, r := range out.Recons {
			byPeriod[r.Period] = r
		}
		return byPeriod
	}
	kindsOf := func(r reconcile.Result) map[reconcile.Kind]int {
		k := map[reconcile.Kind]int{}
		for _, d := range r.Differences {
			k[d.Kind]++
		}
		return k
	}

	// All in order: the reward and the settlement reconciled, the report's
	// lines on the ledger.
	out, err := reportstage.Run(ctx, tables, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Recons) != 2 || out.Unreconciled() != 0 {
		t.Fatalf("before any injection: %+v %v", out.Recons, out.Notes)
	}
	for _, r := range out.Recons {
		if r.State != reconcile.Reconciled {
			t.Fatalf("%s: %s %+v", r.Period, r.State, r.Differences)
		}
	}
	var reward rep.Period
	for _, p := range out.Report.Periods {
		if p.Period == period {
			reward = p
		}
	}
	led := w.sim.Ledger()
	for _, l := range reward.Lines {
		if l.BlockIndex == nil || l.Status != schemas.PayoutPaid {
			t.Fatalf("line %+v", l)
		}
		b := led.Blocks[*l.BlockIndex]
		if b.To != l.Recipient.ID || int64(b.AmountE8s) != l.TransferE8s || l.ValueXDR == "" || l.ValueFiat == "" {
			t.Fatalf("line %s %s: block %+v, values %q %q (%s)", l.Role, l.Recipient.ID, b, l.ValueXDR, l.ValueFiat, l.Note)
		}
	}
	if wk := reward.Walk; wk.ClosingE8s != led.Balances[ic.LegacyAccountID(ic.Account{Owner: w.treasury.Sender()}).String()] {
		t.Fatalf("treasury walk closes at %d, the ledger holds %d", wk.ClosingE8s, led.Balances[ic.LegacyAccountID(ic.Account{Owner: w.treasury.Sender()}).String()])
	}
	// The CLI: exit 0, JSON on stdout; the report in the three formats.
	args := []string{"--clickhouse-database", w.cfg.ClickHouse.Database, "--ic-url", w.url, "--dao", w.dao, "--treasury", treasuryPrincipal}
	var stdout, stderr bytes.Buffer
	if code := dispatch(ctx, append([]string{"reconcile", "--json"}, args...), strings.NewReader(""), &stdout, &stderr); code != 0 {
		t.Fatalf("reconcile: exit %d\n%s", code, stderr.String())
	}
	var doc struct {
		Reconciliations []reconcile.Result `json:"reconciliations"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil || len(doc.Reconciliations) != 2 {
		t.Fatalf("reconcile --json: %v %s", err, stdout.String())
	}
	for _, f := range []string{"json", "csv", "html"} {
		stdout.Reset()
		if code := dispatch(ctx, append([]string{"report", "--format", f}, args...), strings.NewReader(""), &stdout, &stderr); code != 0 || stdout.Len() == 0 {
			t.Fatalf("report --format %s: exit %d\n%s", f, code, stderr.String())
		}
	}

	// A sponsor's signed statement: written, verified, recomputed; one
	// e8s altered and it fails.
	sponsorID := accountIDOf(s1) // paid by the legacy transfer
	stFile := t.TempDir() + "/statement.json"
	stArgs := []string{"--clickhouse-database", w.cfg.ClickHouse.Database, "--dao", w.dao, "--sponsor", sponsorID}
	if code := dispatch(ctx, append([]string{"statement", "--out", stFile}, stArgs...), strings.NewReader(""), &stdout, &stderr); code != 0 {
		t.Fatalf("statement: exit %d\n%s", code, stderr.String())
	}
	raw, err := os.ReadFile(stFile)
	if err != nil {
		t.Fatal(err)
	}
	var st statement.Statement
	if err := json.Unmarshal(raw, &st); err != nil || len(st.Entries) != 1 || st.Entries[0].BlockIndex == nil || st.Entries[0].ValueFiat == "" ||
		st.Entries[0].StakeE8s != int64(35*icp) || len(st.Years) != 1 || st.Signature == nil {
		t.Fatalf("statement %v %+v", err, st)
	}
	if b := led.Blocks[*st.Entries[0].BlockIndex]; b.To != sponsorID || int64(b.AmountE8s) != st.Entries[0].TransferE8s {
		t.Fatalf("the statement's transfer %+v is not block %+v", st.Entries[0], b)
	}
	verify := func(file string) (int, string) {
		stdout.Reset()
		code := dispatch(ctx, []string{"statement", "verify", "--clickhouse-database", w.cfg.ClickHouse.Database, file}, strings.NewReader(""), &stdout, &stderr)
		return code, stdout.String()
	}
	if code, out := verify(stFile); code != 0 || !strings.Contains(out, "identical") {
		t.Fatalf("statement verify: exit %d\n%s%s", code, out, stderr.String())
	}
	altered := strings.Replace(string(raw), fmt.Sprintf(`"transfer_e8s": %d`, st.Entries[0].TransferE8s), fmt.Sprintf(`"transfer_e8s": %d`, st.Entries[0].TransferE8s+1), 1)
	if altered == string(raw) {
		t.Fatal("test bug: nothing altered")
	}
	if err := os.WriteFile(stFile+".altered", []byte(altered), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out := verify(stFile + ".altered"); code != 1 || !strings.Contains(out, "FAILED") {
		t.Fatalf("an altered statement: exit %d\n%s", code, out)
	}

	// Ten ICP into the treasury (a mint the connector publishes): the
	// injected transfers need funds.
	if _, err := w.sim.Mint(ic.AccountText(ic.Account{Owner: w.treasury.Sender()}), 10*icp); err != nil {
		t.Fatal(err)
	}
	treasury := w.client(w.treasury)
	intents, err := tables.Intents(ctx, w.dao, period)
	if err != nil || len(intents) < 4 {
		t.Fatalf("intents %d %v", len(intents), err)
	}
	sortByRole := func(role string) schemas.PayoutIntent {
		for _, in := range intents {
			if in.Role == role {
				return in
			}
		}
		t.Fatalf("no %s intent", role)
		return schemas.PayoutIntent{}
	}
	hosterIntent := sortByRole("hoster")
	steps := []struct {
		name   string
		inject func()
		kind   reconcile.Kind
	}{
		{"a transfer sent from the treasury outside nodeshare", func() {
			if _, err := treasury.Transfer(ctx, ic.TransferRequest{To: ic.Account{Owner: whale.Sender()}, AmountE8s: icp, Memo: []byte("by hand")}); err != nil {
				t.Fatal(err)
			}
		}, reconcile.OutsideTransfer},
		{"a payment recorded twice on the ledger", func() {
			to, err := ic.AccountFromText(hosterIntent.Recipient)
			if err != nil {
				t.Fatal(err)
			}
			memo, _ := hex.DecodeString(hosterIntent.MemoHex)
			fee := uint64(hosterIntent.FeeE8s)
			if _, err := treasury.Transfer(ctx, ic.TransferRequest{To: to, AmountE8s: uint64(hosterIntent.AmountE8s), FeeE8s: &fee, Memo: memo,
				CreatedAtNanos: uint64(w.now().UnixNano())}); err != nil {
				t.Fatal(err)
			}
		}, reconcile.PaidTwice},
		{"a result that records another block", func() {
			in := sortByRole("sponsor")
			res, err := tables.Results(ctx, w.dao, period)
			if err != nil {
				t.Fatal(err)
			}
			r := res[in.IntentID]
			r.BlockIndex = 1 // a mint, not this transfer
			if err := tables.InsertResult(ctx, "forged-result", r, time.Now()); err != nil {
				t.Fatal(err)
			}
		}, reconcile.MissingTransfer},
		{"an intent whose amount was changed", func() {
			in := intents[len(intents)-1]
			in.AmountE8s++
			if err := tables.InsertIntents(ctx, "changed-amount", []schemas.PayoutIntent{in}); err != nil {
				t.Fatal(err)
			}
		}, reconcile.AmountDiffers},
		{"an intent whose fee was changed", func() {
			in := intents[len(intents)-2]
			in.FeeE8s = 20_000
			if err := tables.InsertIntents(ctx, "changed-fee", []schemas.PayoutIntent{in}); err != nil {
				t.Fatal(err)
			}
		}, reconcile.FeeDiffers},
		{"a stored block altered: the balance does not add up", func() {
			if err := tables.Conn().Exec(ctx, `ALTER TABLE events_raw UPDATE payload = replaceOne(payload, '"amount_e8s":', '"amount_e8s":1')
				WHERE event_type = 'ledger_block' AND JSONExtractString(payload, 'op') = 'mint' AND JSONExtractString(payload, 'to') = ?
				SETTINGS mutations_sync = 2`, ic.LegacyAccountID(ic.Account{Owner: w.treasury.Sender()}).String()); err != nil {
				t.Fatal(err)
			}
		}, reconcile.BalanceDrift},
	}
	for _, st := range steps {
		st.inject()
		w.connect()
		w.process()
		r := reconcileNow()[period]
		if r.State != reconcile.Unreconciled || kindsOf(r)[st.kind] == 0 {
			t.Fatalf("%s: want a %s difference, got %s %+v", st.name, st.kind, r.State, r.Differences)
		}
		t.Logf("%s: found as %s (%d differences in all)", st.name, st.kind, len(r.Differences))
	}
	// The CLI exits 1 and names the differences; they are stored.
	stdout.Reset()
	if code := dispatch(ctx, append([]string{"reconcile"}, args...), strings.NewReader(""), &stdout, &stderr); code != 1 || !strings.Contains(stdout.String(), "outside_transfer") {
		t.Fatalf("reconcile after the injections: exit %d\n%s", code, stdout.String())
	}
	var stored uint64
	if err := tables.Conn().QueryRow(ctx, "SELECT count() FROM reconciliation_differences FINAL WHERE dao = ? AND kind = 'balance_drift'", w.dao).Scan(&stored); err != nil || stored == 0 {
		t.Fatalf("stored balance_drift differences: %d %v", stored, err)
	}
}
