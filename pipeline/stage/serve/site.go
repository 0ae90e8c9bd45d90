package serve

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/nodeshare/nodeshare/pipeline/money"
	rep "github.com/nodeshare/nodeshare/pipeline/report"
	reportstage "github.com/nodeshare/nodeshare/pipeline/stage/report"
	"github.com/nodeshare/nodeshare/schemas"
)

// Store is what the pages read: the report stage's store. The stage never
// calls its SaveReconciliation.
type Store interface {
	reportstage.Store
}

// StatementFunc writes the statement of account (ICRC-1 text or 64-hex
// account identifier) in dao over the reward periods of the UTC days
// [from, to], both included, in format (json, csv or html) to w.
type StatementFunc func(ctx context.Context, dao, account, from, to, format string, w io.Writer) error

// statementFormats are the formats a statement is offered in.
var statementFormats = []string{"json", "csv", "html"}

// Config is what the site serves.
type Config struct {
	// DAOs are the DAOs served, in the index's order.
	DAOs []string
	// Report is the report stage's configuration for a DAO (its treasury
	// accounts, the fiat currency, the ledger for the balance leg); the
	// site turns Save off.
	Report func(dao string) reportstage.Config
	// Statement, when set, writes a sponsor's statement; when nil no
	// statement link is shown and none is served.
	Statement StatementFunc
}

// Site renders the pages. It is safe for concurrent use: it holds no
// state between requests.
type Site struct {
	store Store
	cfg   Config
	daos  map[string]bool
}

// New checks cfg and returns the site.
func New(store Store, cfg Config) (*Site, error) {
	if store == nil || cfg.Report == nil {
		return nil, errors.New("serve: a store and a report configuration are required")
	}
	if len(cfg.DAOs) == 0 {
		return nil, errors.New("serve: no DAO to serve")
	}
	daos := map[string]bool{}
	for _, d := range cfg.DAOs {
		if d == "" || daos[d] {
			return nil, fmt.Errorf("serve: DAO %q is empty or given twice", d)
		}
		daos[d] = true
	}
	return &Site{store: store, cfg: cfg, daos: daos}, nil
}

// IndexPage lists the DAOs.
func (s *Site) IndexPage() Index {
	var idx Index
	for _, d := range s.cfg.DAOs {
		idx.DAOs = append(idx.DAOs, Link{Name: d, Href: daoHref(d)})
	}
	return idx
}

// report runs the report stage for dao, reading only.
func (s *Site) report(ctx context.Context, dao string) (reportstage.Outcome, reportstage.Config, error) {
	if !s.daos[dao] {
		return reportstage.Outcome{}, reportstage.Config{}, &NotFoundError{What: "DAO", Value: dao}
	}
	cfg := s.cfg.Report(dao)
	cfg.Save = false
	out, err := reportstage.Run(ctx, s.store, cfg)
	if err != nil {
		return out, cfg, fmt.Errorf("serve %s: %w", dao, err)
	}
	return out, cfg, nil
}

// withEntitlements is dao's report and its reward periods' entitlements,
// by period (a lifecycle period has none).
func (s *Site) withEntitlements(ctx context.Context, dao string) (reportstage.Outcome, reportstage.Config, map[string][]schemas.Entitlement, error) {
	out, cfg, err := s.report(ctx, dao)
	if err != nil {
		return out, cfg, nil, err
	}
	ents := map[string][]schemas.Entitlement{}
	for _, p := range out.Report.Periods {
		if len(p.Pools) == 0 {
			continue
		}
		if ents[p.Period], err = s.store.Entitlements(ctx, dao, p.Period); err != nil {
			return out, cfg, nil, fmt.Errorf("serve %s %s: %w", dao, p.Period, err)
		}
	}
	return out, cfg, ents, nil
}

// DAOPage is the DAO's periods, pools and treasury.
func (s *Site) DAOPage(ctx context.Context, dao string) (DAOPage, error) {
	out, cfg, ents, err := s.withEntitlements(ctx, dao)
	if err != nil {
		return DAOPage{}, err
	}
	treasury, err := cfg.Accounts("", "")
	if err != nil {
		return DAOPage{}, fmt.Errorf("serve %s: the treasury account: %w", dao, err)
	}
	// The connector's cursor before the blocks: every block below it is
	// among them (the sink stores a cursor after the blocks it covers).
	cursor, err := s.store.LedgerCursor(ctx)
	if err != nil {
		return DAOPage{}, err
	}
	blocks, err := s.store.AccountBlocks(ctx, treasury.ID)
	if err != nil {
		return DAOPage{}, err
	}
	page := DAOPage{DAO: dao, Currency: out.Report.Currency, Periods: periodRows(dao, out), Treasury: balance(treasury, blocks), Notes: out.Notes}
	page.Pools, page.Shares = poolSplits(out.Report, ents)
	if cfg.Ledger != nil {
		if page.Treasury.Ledger, err = ledgerBalance(ctx, cfg.Ledger, treasury, cursor, page.Treasury.Latest()); err != nil {
			return DAOPage{}, fmt.Errorf("serve %s: %w", dao, err)
		}
	}
	return page, nil
}

// ledgerBalance is acct's balance on the ledger beside latest, the
// balance of its blocks read back below cursor. They are comparable when
// the chain did not grow while the balance was read and the cursor
// covers it: a block added meanwhile makes them incomparable, never a
// false disagreement.
func ledgerBalance(ctx context.Context, ledger reportstage.Ledger, acct rep.Account, cursor uint64, latest Point) (*LedgerBalance, error) {
	before, err := ledger.ChainLength(ctx)
	if err != nil {
		return nil, fmt.Errorf("the ledger's chain length: %w", err)
	}
	bal, err := ledger.Balance(ctx, acct.ICRC1)
	if err != nil {
		return nil, fmt.Errorf("the balance of %s: %w", acct.ICRC1, err)
	}
	after, err := ledger.ChainLength(ctx)
	if err != nil {
		return nil, fmt.Errorf("the ledger's chain length: %w", err)
	}
	lb := &LedgerBalance{E8s: bal, Comparable: before == after && cursor >= after, CursorIndex: cursor, ChainLength: after}
	lb.Agrees = lb.Comparable && latest.BalanceE8s >= 0 && uint64(latest.BalanceE8s) == bal
	return lb, nil
}

// PeriodReport is the report of one of the DAO's periods.
func (s *Site) PeriodReport(ctx context.Context, dao, period string) (rep.Report, error) {
	out, _, err := s.report(ctx, dao)
	if err != nil {
		return rep.Report{}, err
	}
	for _, p := range out.Report.Periods {
		if p.Period == period {
			r := out.Report
			r.Periods = []rep.Period{p}
			return r, nil
		}
	}
	return rep.Report{}, &NotFoundError{What: "period", Value: period}
}

// account parses an account as a sponsor enters it.
func account(entered string) (rep.Account, error) {
	text := strings.TrimSpace(entered)
	id, err := schemas.AccountIDFromText(text)
	if err != nil {
		return rep.Account{}, &InputError{Field: "account", Value: entered,
			Reason: "neither ICRC-1 account text nor a 64-hex account identifier with a valid checksum"}
	}
	if text == id || strings.EqualFold(text, id) {
		return rep.Account{ID: id}, nil
	}
	return rep.Account{ICRC1: text, ID: id}, nil
}

// SponsorPage is what the DAO's report says of one account.
func (s *Site) SponsorPage(ctx context.Context, dao, entered string) (SponsorPage, error) {
	acct, err := account(entered)
	if err != nil {
		return SponsorPage{}, err
	}
	out, cfg, ents, err := s.withEntitlements(ctx, dao)
	if err != nil {
		return SponsorPage{}, err
	}
	return sponsorPage(dao, entered, acct, out.Report, ents, cfg.RecipientID, s.cfg.Statement != nil), nil
}

// The pages, rendered.

//go:embed templates/*.tmpl style.css
var files embed.FS

var funcs = template.FuncMap{
	"icp":  func(v int64) string { return money.FormatICP(money.E8s(v)) },
	"icpu": money.FormatICPUint64,
	"px":   func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
	"blk": func(v *uint64) string {
		if v == nil {
			return ""
		}
		return strconv.FormatUint(*v, 10)
	},
	"short": func(s string) string {
		if len(s) > 16 {
			return s[:12] + "…"
		}
		return s
	},
	"chartWidth": func() float64 { return chartWidth }, "chartHeight": func() float64 { return chartHeight }, "barHeight": func() float64 { return barHeight },
}

var pages = func() map[string]*template.Template {
	layout := template.Must(template.New("layout.tmpl").Funcs(funcs).ParseFS(files, "templates/layout.tmpl"))
	out := map[string]*template.Template{}
	for _, name := range []string{"index", "dao", "sponsor", "error"} {
		out[name] = template.Must(template.Must(layout.Clone()).ParseFS(files, "templates/"+name+".tmpl"))
	}
	return out
}()

func render(w io.Writer, name string, data any) error {
	// Executed into a buffer: a page that fails half way writes nothing.
	var b bytes.Buffer
	if err := pages[name].ExecuteTemplate(&b, "layout", data); err != nil {
		return fmt.Errorf("serve: render %s: %w", name, err)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// Index writes the home page.
func (s *Site) Index(ctx context.Context, w io.Writer) error {
	return render(w, "index", s.IndexPage())
}

// DAO writes the DAO's page.
func (s *Site) DAO(ctx context.Context, w io.Writer, dao string) error {
	page, err := s.DAOPage(ctx, dao)
	if err != nil {
		return err
	}
	return render(w, "dao", page)
}

// Period writes a period's full report (pipeline/report.WriteHTML).
func (s *Site) Period(ctx context.Context, w io.Writer, dao, period string) error {
	r, err := s.PeriodReport(ctx, dao, period)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	if err := rep.WriteHTML(&b, r); err != nil {
		return fmt.Errorf("serve: render the report of %s %s: %w", dao, period, err)
	}
	_, err = w.Write(b.Bytes())
	return err
}

// Sponsor writes an account's page.
func (s *Site) Sponsor(ctx context.Context, w io.Writer, dao, entered string) error {
	page, err := s.SponsorPage(ctx, dao, entered)
	if err != nil {
		return err
	}
	return render(w, "sponsor", page)
}

// Error writes an error page: title and message, escaped.
func (s *Site) Error(w io.Writer, title, message string) error {
	return render(w, "error", struct{ Title, Message string }{title, message})
}

// stylesheet is embedded: go:embed fails the build when it is missing.
var stylesheet, _ = files.ReadFile("style.css")

// Stylesheet is the pages' stylesheet.
func (s *Site) Stylesheet() []byte { return stylesheet }

var dayRe = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

// Statement writes account's statement through Config.Statement and
// returns its content type and a file name for it.
func (s *Site) Statement(ctx context.Context, w io.Writer, dao, entered, from, to, format string) (contentType, filename string, err error) {
	if s.cfg.Statement == nil {
		return "", "", &NotFoundError{What: "page", Value: "statement"}
	}
	if !s.daos[dao] {
		return "", "", &NotFoundError{What: "DAO", Value: dao}
	}
	acct, err := account(entered)
	if err != nil {
		return "", "", err
	}
	var days [2]time.Time
	for i, d := range []struct{ field, v string }{{"from", from}, {"to", to}} {
		t, err := time.Parse("2006-01-02", d.v)
		if !dayRe.MatchString(d.v) || err != nil {
			return "", "", &InputError{Field: d.field, Value: d.v, Reason: "must be a UTC day YYYY-MM-DD"}
		}
		days[i] = t
	}
	if days[1].Before(days[0]) {
		return "", "", &InputError{Field: "to", Value: to, Reason: "must not be before from " + from}
	}
	switch format {
	case "json":
		contentType = "application/json"
	case "csv":
		contentType = "text/csv; charset=utf-8"
	case "html":
		contentType = "text/html; charset=utf-8"
	default:
		return "", "", &InputError{Field: "format", Value: format, Reason: "must be json, csv or html"}
	}
	var b bytes.Buffer
	if err := s.cfg.Statement(ctx, dao, accountText(acct), from, to, format, &b); err != nil {
		return "", "", fmt.Errorf("serve: the statement of %s in %s: %w", acct.ID, dao, err)
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return "", "", err
	}
	return contentType, fileName("statement-" + dao + "-" + acct.ID[:12] + "-" + from + "-" + to + "." + format), nil
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// fileName keeps a download's name to letters, digits, '.', '_' and '-'.
func fileName(s string) string { return unsafeName.ReplaceAllString(s, "_") }
