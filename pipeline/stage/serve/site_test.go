package serve

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/nodeshare/nodeshare/pipeline/money"
	"github.com/nodeshare/nodeshare/pipeline/reconcile"
	reportstage "github.com/nodeshare/nodeshare/pipeline/stage/report"
	"github.com/nodeshare/nodeshare/pipeline/stage/serve/servetest"
)

const (
	dao    = servetest.DAO
	period = servetest.Period
	fee    = servetest.FeeE8s
	hoster = servetest.Hoster
)

// newSite serves the scenario's store for daos (the scenario's DAO when none).
func newSite(t *testing.T, sc *servetest.Scenario, daos ...string) *Site {
	t.Helper()
	s, err := New(sc.Store, config(sc, daos...))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func config(sc *servetest.Scenario, daos ...string) Config {
	if len(daos) == 0 {
		daos = []string{dao}
	}
	return Config{DAOs: daos, Report: sc.Report}
}

func TestDAOPageFromTheReport(t *testing.T) {
	sc := servetest.New()
	page, err := newSite(t, sc).DAOPage(context.Background(), dao)
	if err != nil {
		t.Fatal(err)
	}
	// One manifest: 11 intents (pool-a: whale, 5 sponsors, hoster; pool-b:
	// 3 sponsors, hoster), 10 on the ledger, one pending.
	if len(page.Periods) != 1 {
		t.Fatalf("periods %+v", page.Periods)
	}
	p := page.Periods[0]
	var transfers, fees int64
	for _, in := range sc.Intents {
		transfers += in.AmountE8s
		fees += in.FeeE8s
	}
	if p.Period != period || p.State != reconcile.PartiallyReconciled || p.Intents != 11 || p.Matched != 10 || p.Pending != 1 || p.Differences != 0 ||
		p.TransfersE8s != transfers || p.FeesE8s != fees || p.Href != "/dao/test-dao/period/2026-11-01" {
		t.Fatalf("period row %+v (transfers %d, fees %d)", p, transfers, fees)
	}

	// Where each pool's reward went: the parts add up to the gross.
	want := map[string][4]int64{
		"pool-a": {29_92500000, 55_57500000, 10_00000000, 4_50000000},
		"pool-b": {0, 42_75000000, 5_00000000, 2_25000000},
	}
	if len(page.Pools) != 2 {
		t.Fatalf("pools %+v", page.Pools)
	}
	for _, ps := range page.Pools {
		var sum int64
		for i, part := range ps.Parts {
			if part.E8s != want[ps.PoolID][i] {
				t.Errorf("%s %s: %d e8s, want %d", ps.PoolID, part.Name, part.E8s, want[ps.PoolID][i])
			}
			sum += part.E8s
		}
		if sum != ps.GrossE8s {
			t.Errorf("%s: parts add up to %d, gross %d", ps.PoolID, sum, ps.GrossE8s)
		}
		var width float64
		for _, r := range ps.Bar {
			width += r.W
		}
		if width < chartWidth-0.01 || width > chartWidth+0.01 {
			t.Errorf("%s: the bar is %.2f wide, want %.0f", ps.PoolID, width, chartWidth)
		}
	}
	if a := page.Pools[0]; a.PoolID != "pool-a" || a.Whale != sc.Whale || a.Parts[0].Percent != "29.92" || len(a.Bar) != 4 {
		t.Fatalf("pool-a: %+v", a)
	}
	if b := page.Pools[1]; b.Whale != "" || len(b.Bar) != 3 {
		t.Fatalf("pool-b: whale %q, %d segments (no whale segment)", b.Whale, len(b.Bar))
	}

	// The shares: pool-a's five sponsors (3.705 to 18.525 ICP) besides the
	// whale, in 8 bins of 1.85250001 ICP; pool-b's three equal shares in one.
	a, b := page.Shares[0], page.Shares[1]
	if a.Sponsors != 5 || a.WhaleE8s != 29_92500000 || len(a.Bins) != histogramBins || a.Bins[0].FromE8s != 3_70500000 || a.Bins[7].ToE8s != 18_52500000 {
		t.Fatalf("pool-a shares %+v", a)
	}
	counts := []int{1, 1, 0, 1, 0, 1, 0, 1}
	for i, bin := range a.Bins {
		if bin.Count != counts[i] {
			t.Fatalf("pool-a bin %d: %+v, want %d", i, bin, counts[i])
		}
	}
	if b.Sponsors != 3 || len(b.Bins) != 1 || b.Bins[0].Count != 3 || b.Bins[0].FromE8s != 14_25000000 || b.Bins[0].ToE8s != 14_25000000 {
		t.Fatalf("pool-b shares %+v", b)
	}

	// The treasury: 5 ICP, the 150 ICP mint, then the 10 transfers paid.
	paid := int64(0)
	for id := range sc.BlockOf {
		paid += sc.Intents[id].AmountE8s + sc.Intents[id].FeeE8s
	}
	tr := page.Treasury
	if len(tr.Points) != 12 || tr.MaxE8s != 155_00000000 || tr.Short || tr.Latest().BalanceE8s != 155_00000000-paid || tr.Latest().Index != 110 ||
		tr.Points[0].BalanceE8s != 5_00000000 || strings.Count(tr.Line, ",") != 12 {
		t.Fatalf("treasury %+v (paid %d)", tr, paid)
	}
	if n := sc.Store.Saved(); n != 0 {
		t.Fatalf("the pages saved %d reconciliations: they must only read", n)
	}
}

// With the ledger asked, the page sets the treasury's balance on the
// ledger beside what its blocks add up to, and says whether they agree
// (only once the connector has read the whole chain).
func TestTreasuryAgainstTheLedger(t *testing.T) {
	sc := servetest.New()
	var paid uint64
	for id := range sc.BlockOf {
		paid += uint64(sc.Intents[id].AmountE8s + sc.Intents[id].FeeE8s)
	}
	want := 155_00000000 - paid
	for _, c := range []struct {
		ledger             servetest.Ledger
		cursor             uint64
		comparable, agrees bool
	}{
		{servetest.Ledger{BalanceE8s: want, ChainLen: 111}, 111, true, true},
		{servetest.Ledger{BalanceE8s: want + 1, ChainLen: 111}, 111, true, false},
		{servetest.Ledger{BalanceE8s: want + 1, ChainLen: 112}, 111, false, false},
	} {
		sc.Store.Cursor = c.cursor
		cfg := config(sc)
		cfg.Report = func(d string) reportstage.Config {
			rc := sc.Report(d)
			rc.Ledger = c.ledger
			return rc
		}
		s, err := New(sc.Store, cfg)
		if err != nil {
			t.Fatal(err)
		}
		page, err := s.DAOPage(context.Background(), dao)
		if err != nil {
			t.Fatal(err)
		}
		lb := page.Treasury.Ledger
		if lb == nil || lb.E8s != c.ledger.BalanceE8s || lb.Comparable != c.comparable || lb.Agrees != c.agrees || lb.ChainLength != c.ledger.ChainLen {
			t.Errorf("ledger %+v cursor %d: %+v", c.ledger, c.cursor, lb)
		}
		var b bytes.Buffer
		if err := s.DAO(context.Background(), &b, dao); err != nil {
			t.Fatal(err)
		}
		marker := map[[2]bool]string{{true, true}: "ledger-agrees", {true, false}: "ledger-differs", {false, false}: "Not compared with the ledger"}[[2]bool{c.comparable, c.agrees}]
		if !strings.Contains(b.String(), marker) || !strings.Contains(b.String(), `<td class="n ledger-balance">`+money.FormatICPUint64(c.ledger.BalanceE8s)+`</td>`) {
			t.Errorf("ledger %+v: the page lacks %q or the ledger's balance", c.ledger, marker)
		}
	}
}

func TestSponsorPage(t *testing.T) {
	sc := servetest.New()
	site := newSite(t, sc)
	ctx := context.Background()

	// A sponsor of pool-a by its account identifier, in upper case.
	s3 := sc.Sponsors[2]
	page, err := site.SponsorPage(ctx, dao, strings.ToUpper(s3))
	if err != nil {
		t.Fatal(err)
	}
	if page.Account.ID != s3 || page.Account.ICRC1 != "" || len(page.Payouts) != 1 || len(page.Stakes) != 1 {
		t.Fatalf("sponsor page %+v", page)
	}
	pay := page.Payouts[0]
	in := sc.Intents[pay.IntentID]
	if pay.BlockIndex == nil || *pay.BlockIndex != sc.BlockOf[pay.IntentID] || pay.TransferE8s != 11_11500000-fee || pay.TransferE8s != in.AmountE8s ||
		pay.Status != "paid" || pay.ValueXDR == "" || pay.PeriodHref != "/dao/test-dao/period/2026-11-01" || page.ReceivedE8s != pay.TransferE8s {
		t.Fatalf("payout %+v", pay)
	}
	if st := page.Stakes[0]; st.PoolID != "pool-a" || st.StakeE8s != 3_00000000 || st.ShareE8s != 11_11500000 || st.Whale || st.Period != period {
		t.Fatalf("stake %+v", st)
	}
	if len(page.Statements) != 0 {
		t.Fatalf("statement links without a statement writer: %+v", page.Statements)
	}

	// The whale.
	page, err = site.SponsorPage(ctx, dao, sc.Whale)
	if err != nil || len(page.Stakes) != 1 || !page.Stakes[0].Whale || page.Stakes[0].ShareE8s != 29_92500000 {
		t.Fatalf("whale %+v %v", page, err)
	}

	// The hoster by its ICRC-1 text: paid by both pools.
	page, err = site.SponsorPage(ctx, dao, " "+hoster+" ")
	if err != nil {
		t.Fatal(err)
	}
	if page.Account.ICRC1 != hoster || len(page.Payouts) != 2 || len(page.Stakes) != 2 || page.Stakes[0].Role != "hoster" ||
		page.ReceivedE8s != 15_00000000-2*fee {
		t.Fatalf("hoster %+v", page)
	}

	// The pending transfer: no block, and the note says so.
	page, err = site.SponsorPage(ctx, dao, sc.PoolB[0])
	if err != nil || len(page.Payouts) != 1 || page.Payouts[0].BlockIndex != nil || page.Payouts[0].Note == "" || page.ReceivedE8s != 0 {
		t.Fatalf("pending %+v %v", page, err)
	}

	// A valid account that the DAO never paid: an empty page.
	other := servetest.Account(200).ICRC1
	if page, err = site.SponsorPage(ctx, dao, other); err != nil || len(page.Payouts) != 0 || len(page.Stakes) != 0 {
		t.Fatalf("stranger %+v %v", page, err)
	}
}

func TestBadRequestsNameTheValue(t *testing.T) {
	sc := servetest.New()
	site := newSite(t, sc)
	ctx := context.Background()
	for _, bad := range []string{"", "<script>alert(1)</script>", sc.Sponsors[0][:63] + "0", "aaaaa-aa-bbbbb"} {
		_, err := site.SponsorPage(ctx, dao, bad)
		var in *InputError
		if !errors.As(err, &in) || !in.BadInput() || in.Value != bad || !strings.Contains(err.Error(), `account "`) {
			t.Errorf("account %q: %v", bad, err)
		}
	}
	var nf *NotFoundError
	if _, err := site.DAOPage(ctx, "other-dao"); !errors.As(err, &nf) || !nf.NotFound() || !strings.Contains(err.Error(), `"other-dao"`) {
		t.Errorf("unknown DAO: %v", err)
	}
	if _, err := site.PeriodReport(ctx, dao, "2026-12-01"); !errors.As(err, &nf) {
		t.Errorf("unknown period: %v", err)
	}
	if _, _, err := site.Statement(ctx, io.Discard, dao, sc.Whale, "2026-01-01", "2026-12-31", "json"); !errors.As(err, &nf) {
		t.Errorf("statement without a writer: %v", err)
	}
	if _, err := New(sc.Store, config(sc, dao, dao)); err == nil {
		t.Error("a DAO given twice was accepted")
	}
}

func TestStatements(t *testing.T) {
	sc := servetest.New()
	cfg := config(sc)
	var got []string
	cfg.Statement = func(ctx context.Context, d, account, from, to, format string, w io.Writer) error {
		got = []string{d, account, from, to, format}
		_, err := io.WriteString(w, "statement of "+account)
		return err
	}
	site, err := New(sc.Store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	page, err := site.SponsorPage(ctx, dao, hoster)
	if err != nil {
		t.Fatal(err)
	}
	// One year of reward periods (2026), three formats.
	if len(page.Statements) != 3 || page.Statements[0].Name != "2026 json" ||
		page.Statements[0].Href != "/sponsor/statement?account="+hoster+"&dao=test-dao&format=json&from=2026-01-01&to=2026-12-31" {
		t.Fatalf("statement links %+v", page.Statements)
	}
	var b bytes.Buffer
	ct, name, err := site.Statement(ctx, &b, dao, hoster, "2026-01-01", "2026-12-31", "csv")
	if err != nil || ct != "text/csv; charset=utf-8" || !strings.HasPrefix(name, "statement-test-dao-") || !strings.HasSuffix(name, "-2026-01-01-2026-12-31.csv") ||
		b.String() != "statement of "+hoster || strings.Join(got, " ") != "test-dao "+hoster+" 2026-01-01 2026-12-31 csv" {
		t.Fatalf("statement %q %q %q %v %v", ct, name, b.String(), got, err)
	}
	for _, c := range [][3]string{{"2026-1-01", "2026-12-31", "json"}, {"2026-12-31", "2026-01-01", "json"}, {"2026-01-01", "2026-02-30", "json"}, {"2026-01-01", "2026-12-31", "pdf"}} {
		var in *InputError
		if _, _, err := site.Statement(ctx, io.Discard, dao, hoster, c[0], c[1], c[2]); !errors.As(err, &in) {
			t.Errorf("statement %v: %v", c, err)
		}
	}
}

// The pages render the page models, escaped, with no script and nothing
// from outside.
func TestPagesRenderEscaped(t *testing.T) {
	sc := servetest.New()
	evil := `<script>alert("x")</script>`
	site := newSite(t, sc, dao, evil)
	ctx := context.Background()
	var b bytes.Buffer
	if err := site.Index(ctx, &b); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "<script") || !strings.Contains(b.String(), "&lt;script&gt;") ||
		!strings.Contains(b.String(), `href="/dao/%3Cscript%3Ealert%28%22x%22%29%3C%2Fscript%3E"`) {
		t.Fatalf("index not escaped:\n%s", b.String())
	}
	b.Reset()
	if err := site.DAO(ctx, &b, dao); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	for _, want := range []string{"partially_reconciled", "29.92500000", "29.92%", "<svg", "<polyline", "/style.css",
		money.FormatICP(money.E8s(mustDAOPage(t, site).Treasury.Latest().BalanceE8s))} {
		if !strings.Contains(page, want) {
			t.Errorf("the DAO page lacks %q", want)
		}
	}
	for _, bad := range []string{"<script", "http://", "https://"} {
		if strings.Contains(page, bad) {
			t.Errorf("the DAO page holds %q", bad)
		}
	}
	b.Reset()
	if err := site.Error(&b, "400 Bad Request", `account "`+evil+`": bad`); err != nil || strings.Contains(b.String(), "<script") {
		t.Fatalf("error page %v:\n%s", err, b.String())
	}
	b.Reset()
	if err := site.Period(ctx, &b, dao, period); err != nil || !strings.Contains(b.String(), "Period 2026-11-01") {
		t.Fatalf("period page %v", err)
	}
}

func mustDAOPage(t *testing.T, s *Site) DAOPage {
	t.Helper()
	p, err := s.DAOPage(context.Background(), dao)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHistogramCoversEveryValue(t *testing.T) {
	for _, values := range [][]int64{{1}, {5, 5, 5}, {0, 1}, {1, 2, 3, 4, 5, 6, 7, 8, 9}, {10, 1_000_000_000_000}, {-3, 7, 2}} {
		bins := histogram(values, histogramBins)
		n := 0
		for i, b := range bins {
			n += b.Count
			if b.FromE8s > b.ToE8s || (i > 0 && b.FromE8s != bins[i-1].ToE8s+1) {
				t.Fatalf("%v: bins %+v", values, bins)
			}
		}
		if n != len(values) || len(bins) > histogramBins {
			t.Fatalf("%v: %d counted in %d bins", values, n, len(bins))
		}
	}
	if histogram(nil, histogramBins) != nil {
		t.Fatal("bins without values")
	}
}
