package serve

import (
	"net/url"
	"sort"
	"strconv"
	"time"

	"github.com/nodeshare/nodeshare/pipeline/money"
	rules "github.com/nodeshare/nodeshare/pipeline/payout"
	"github.com/nodeshare/nodeshare/pipeline/reconcile"
	rep "github.com/nodeshare/nodeshare/pipeline/report"
	reportstage "github.com/nodeshare/nodeshare/pipeline/stage/report"
	"github.com/nodeshare/nodeshare/schemas"
)

// What each page shows. Every amount is integer e8s, as the report has
// it; the templates format them (money.FormatICP), and the charts'
// geometry (charts.go) is for the eye only: the numbers beside each
// chart are the exact ones.

// Index is the home page: the DAOs served and the sponsors' form.
type Index struct {
	DAOs []Link
}

// Link is a named link.
type Link struct {
	Name, Href string
}

// DAOPage is what finance and auditors read of a DAO.
type DAOPage struct {
	DAO      string
	Currency string
	Periods  []PeriodRow
	Pools    []PoolSplit
	Shares   []Shares
	Treasury Balance
	// Notes are the legs the reconciliation could not check (the report
	// stage's notes).
	Notes []string
}

// PeriodRow is one manifest: its reconciliation and what it moved.
type PeriodRow struct {
	Period, Href, ManifestSHA256 string
	State                        reconcile.State
	Intents, Matched, Pending    int
	Differences                  int
	TransfersE8s, FeesE8s        int64
}

// PoolSplit is where a pool's reward went in one period: the whale, the
// other sponsors, the hoster fee and the DAO fee, which add up to the
// gross (allocation rules v1, steps 2-5).
type PoolSplit struct {
	Period, PoolID string
	Whale          string // the whale's account; empty when the pool has none
	GrossE8s       int64
	Parts          []Part
	Bar            []Rect
}

// Part is one slice of a pool's reward.
type Part struct {
	Name, Class string
	E8s         int64
	Percent     string // of the gross, for people (floored)
}

// Shares is the distribution of a pool's sponsors' shares in one period,
// the whale left out (its share is in the PoolSplit): how many sponsors
// got how much.
type Shares struct {
	Period, PoolID string
	Whale          string
	WhaleE8s       int64
	Sponsors       int
	Bins           []Bin
	Bars           []Rect
}

// Bin is a histogram bin: the sponsors whose share is in [FromE8s, ToE8s].
type Bin struct {
	FromE8s, ToE8s int64
	Count          int
}

// Balance is the treasury's default account block by block, as the
// verified blocks the connector published add up.
type Balance struct {
	Account rep.Account
	Points  []Point
	// MaxE8s is the highest balance; Line the chart's polyline.
	MaxE8s int64
	Line   string
	// Short: the blocks take out more than came in: some are missing
	// (the connector has not read them).
	Short bool
	// Ledger is the account's balance on the ledger now, when the ledger
	// was asked.
	Ledger *LedgerBalance
}

// LedgerBalance is an account's balance on the ledger (icrc1_balance_of)
// beside what its blocks read back add up to.
type LedgerBalance struct {
	E8s uint64
	// Comparable: the connector has read the whole chain, so the blocks
	// read back must add up to the balance; Agrees: they do. A
	// comparable balance that does not agree means blocks are missing
	// from the audit trail (or were altered there).
	Comparable, Agrees bool
	// CursorIndex and ChainLength say how far the connector has read.
	CursorIndex, ChainLength uint64
}

// Point is the balance after a block.
type Point struct {
	Index      uint64
	Time       string
	BalanceE8s int64
}

// Latest is the last point (zero when there is none).
func (b Balance) Latest() Point {
	if len(b.Points) == 0 {
		return Point{}
	}
	return b.Points[len(b.Points)-1]
}

// SponsorPage is what a sponsor reads of one account in one DAO.
type SponsorPage struct {
	DAO, DAOHref, Entered, Currency string
	Account                         rep.Account
	Stakes                          []Stake
	Payouts                         []Payout
	// ReceivedE8s adds up the transfers a block carries.
	ReceivedE8s int64
	Statements  []Link
}

// Stake is the account's stake in a pool as the latest allocated reward
// counted it.
type Stake struct {
	PoolID, Period, Role string
	StakeE8s, ShareE8s   int64
	Whale                bool
}

// Payout is one transfer to the account, with its block.
type Payout struct {
	rep.Line
	PeriodHref string
}

// The links between pages (connectors/web serves these paths).

func daoHref(dao string) string { return "/dao/" + url.PathEscape(dao) }

func periodHref(dao, period string) string {
	return daoHref(dao) + "/period/" + url.PathEscape(period)
}

func statementHref(dao, account, from, to, format string) string {
	return "/sponsor/statement?" + url.Values{"dao": {dao}, "account": {account}, "from": {from}, "to": {to}, "format": {format}}.Encode()
}

// accountText is the form an account is best named in: its ICRC-1 text
// when known (a recipient paid under it is found under both forms), its
// account identifier otherwise.
func accountText(a rep.Account) string {
	if a.ICRC1 != "" {
		return a.ICRC1
	}
	return a.ID
}

// periodRows is one row per reported manifest, with its reconciliation.
func periodRows(dao string, out reportstage.Outcome) []PeriodRow {
	recons := map[string]reconcile.Result{}
	for _, r := range out.Recons {
		recons[r.Period] = r
	}
	rows := make([]PeriodRow, 0, len(out.Report.Periods))
	for _, p := range out.Report.Periods {
		r := recons[p.Period]
		row := PeriodRow{Period: p.Period, Href: periodHref(dao, p.Period), ManifestSHA256: p.ManifestSHA256, State: p.Reconciliation,
			Intents: r.Intents, Matched: r.Matched, Pending: r.Pending, Differences: len(p.Differences)}
		for _, l := range p.Lines {
			row.TransfersE8s += l.TransferE8s
			row.FeesE8s += l.FeeE8s
		}
		rows = append(rows, row)
	}
	return rows
}

// poolSplits is, for every reward period's pool, where its gross went and
// how its sponsors' shares are distributed. ents are the period's
// entitlements, by period.
func poolSplits(r rep.Report, ents map[string][]schemas.Entitlement) ([]PoolSplit, []Shares) {
	var splits []PoolSplit
	var shares []Shares
	for _, p := range r.Periods {
		for _, pl := range p.Pools {
			var whaleE8s int64
			var others []int64
			for _, e := range ents[p.Period] {
				if e.PoolID != pl.PoolID || e.Role != "sponsor" {
					continue
				}
				if pl.Whale != "" && e.Recipient == pl.Whale {
					whaleE8s += e.ShareE8s
				} else {
					others = append(others, e.ShareE8s)
				}
			}
			// Distributable = gross - hoster fee - DAO fee, and the
			// sponsors share all of it: the parts add up to the gross.
			parts := []Part{
				{Name: "whale", Class: "whale", E8s: whaleE8s},
				{Name: "other sponsors", Class: "others", E8s: pl.DistributableE8s - whaleE8s},
				{Name: "hoster fee", Class: "hoster", E8s: pl.HosterFeeE8s},
				{Name: "DAO fee", Class: "daofee", E8s: pl.DAOFeeE8s},
			}
			for i := range parts {
				parts[i].Percent = percent(parts[i].E8s, pl.GrossE8s)
			}
			splits = append(splits, PoolSplit{Period: p.Period, PoolID: pl.PoolID, Whale: pl.Whale, GrossE8s: pl.GrossE8s, Parts: parts,
				Bar: stackedBar(parts, chartWidth, barHeight)})
			bins := histogram(others, histogramBins)
			shares = append(shares, Shares{Period: p.Period, PoolID: pl.PoolID, Whale: pl.Whale, WhaleE8s: whaleE8s, Sponsors: len(others),
				Bins: bins, Bars: histogramBars(bins, chartWidth, chartHeight)})
		}
	}
	return splits, shares
}

func percent(part, whole int64) string {
	if part < 0 || whole <= 0 {
		return "n/a"
	}
	return money.FormatPercent(uint64(part), uint64(whole), 2)
}

// histogramBins is how many bins a distribution of shares has at most.
const histogramBins = 8

// histogram counts values in at most n bins of equal width (in e8s)
// from the smallest to the largest value.
func histogram(values []int64, n int) []Bin {
	if len(values) == 0 {
		return nil
	}
	lo, hi := values[0], values[0]
	for _, v := range values {
		lo, hi = min(lo, v), max(hi, v)
	}
	span := hi - lo + 1
	if int64(n) > span {
		n = int(span)
	}
	width := (span + int64(n) - 1) / int64(n) // n bins of width cover [lo, hi]
	bins := make([]Bin, (span+width-1)/width) // and no bin starts past hi
	for i := range bins {
		bins[i] = Bin{FromE8s: lo + int64(i)*width, ToE8s: min(hi, lo+int64(i+1)*width-1)}
	}
	for _, v := range values {
		bins[(v-lo)/width].Count++
	}
	return bins
}

// balance is the account's balance after each of its blocks (blocks in
// index order).
func balance(acct rep.Account, blocks []schemas.LedgerBlock) Balance {
	b := Balance{Account: acct}
	var bal int64
	for _, blk := range blocks {
		bal += delta(acct.ID, blk)
		b.Short = b.Short || bal < 0
		b.MaxE8s = max(b.MaxE8s, bal)
		b.Points = append(b.Points, Point{Index: blk.Index, Time: blockTime(blk), BalanceE8s: bal})
	}
	b.Line = balanceLine(b.Points, b.MaxE8s, chartWidth, chartHeight)
	return b
}

// delta is what block blk changes account's balance by, counted as the
// reconciliation counts a balance (reconcile.AccountBalance: transfers in
// and mints, less transfers out with their fees, burns and approvals'
// fees): the balance of a headroom minted first and the block, less the
// headroom. The headroom (2^62 e8s) is above all the ICP there is.
func delta(account string, blk schemas.LedgerBlock) int64 {
	const headroom = 1 << 62
	sum, err := reconcile.AccountBalance(account, []schemas.LedgerBlock{{Op: "mint", To: account, AmountE8s: headroom}, blk})
	if err != nil {
		return -headroom // a block taking out more than all the ICP there is
	}
	return int64(sum) - headroom
}

func blockTime(b schemas.LedgerBlock) string {
	if b.Time != "" {
		return b.Time
	}
	return time.Unix(0, int64(b.TimestampNanos)).UTC().Format(time.RFC3339Nano)
}

// sponsorPage is what the report and the entitlements say of account:
// every transfer to it, and its stake in each pool as the latest reward
// period counted it. recipientID maps an ICRC-1 recipient to its account
// identifier.
func sponsorPage(dao, entered string, acct rep.Account, r rep.Report, ents map[string][]schemas.Entitlement,
	recipientID func(string) (string, error), statements bool) SponsorPage {
	page := SponsorPage{DAO: dao, DAOHref: daoHref(dao), Entered: entered, Currency: r.Currency, Account: acct}
	is := func(recipient string) bool {
		if rules.IsAccountIdentifier(recipient) {
			return recipient == acct.ID
		}
		id, err := recipientID(recipient)
		return err == nil && id == acct.ID
	}
	for _, p := range r.Periods {
		for _, l := range p.Lines {
			if l.Recipient.ID != acct.ID {
				continue
			}
			page.Payouts = append(page.Payouts, Payout{Line: l, PeriodHref: periodHref(dao, p.Period)})
			if l.BlockIndex != nil {
				page.ReceivedE8s += l.TransferE8s
			}
		}
	}
	// The latest period wins: reward periods are UTC days, in order.
	periods := make([]string, 0, len(ents))
	for p := range ents {
		periods = append(periods, p)
	}
	sort.Strings(periods)
	byPool := map[string]Stake{}
	whales := map[string]string{}
	for _, p := range r.Periods {
		for _, pl := range p.Pools {
			whales[p.Period+"\x00"+pl.PoolID] = pl.Whale
		}
	}
	// A statement covers the reward periods (UTC days) of a year.
	years := map[int]bool{}
	for _, period := range periods {
		for _, e := range ents[period] {
			if is(e.Recipient) {
				if t, err := time.Parse("2006-01-02", period); err == nil {
					years[t.Year()] = true
				}
				byPool[e.PoolID+"\x00"+e.Role] = Stake{PoolID: e.PoolID, Period: period, Role: e.Role, StakeE8s: e.StakeE8s, ShareE8s: e.ShareE8s,
					Whale: e.Role == "sponsor" && whales[period+"\x00"+e.PoolID] == e.Recipient}
			}
		}
	}
	for _, s := range byPool {
		page.Stakes = append(page.Stakes, s)
	}
	sort.Slice(page.Stakes, func(i, j int) bool {
		a, b := page.Stakes[i], page.Stakes[j]
		if a.PoolID != b.PoolID {
			return a.PoolID < b.PoolID
		}
		return a.Role < b.Role
	})
	if statements {
		ys := make([]int, 0, len(years))
		for y := range years {
			ys = append(ys, y)
		}
		sort.Sort(sort.Reverse(sort.IntSlice(ys)))
		for _, y := range ys {
			from, to := strconv.Itoa(y)+"-01-01", strconv.Itoa(y)+"-12-31"
			for _, f := range statementFormats {
				page.Statements = append(page.Statements, Link{Name: strconv.Itoa(y) + " " + f, Href: statementHref(dao, accountText(acct), from, to, f)})
			}
		}
	}
	return page
}
