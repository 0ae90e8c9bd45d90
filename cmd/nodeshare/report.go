package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/aviate-labs/agent-go/identity"

	"github.com/nodeshare/nodeshare/connectors/clickhouse"
	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/connectors/metrics"
	"github.com/nodeshare/nodeshare/pipeline/reconcile"
	rep "github.com/nodeshare/nodeshare/pipeline/report"
	reportstage "github.com/nodeshare/nodeshare/pipeline/stage/report"
	"github.com/nodeshare/nodeshare/schemas"
)

// reportScope is what `nodeshare report` and `nodeshare reconcile` read:
// the DAO's manifests in ClickHouse (some periods, or those planned in a
// date range), the treasury they pay from, and the ledger for balances.
type reportScope struct {
	clickhouseFlags
	icFlags
	DAO      string   `name:"dao" env:"NODESHARE_DAO" required:"" help:"DAO name."`
	Periods  []string `name:"period" env:"NODESHARE_PERIOD" help:"Periods to report (repeat or comma separate; a reward period's day or a lifecycle manifest's period); none: all."`
	From     string   `name:"from" placeholder:"YYYY-MM-DD" help:"Only manifests planned on or after this UTC day."`
	To       string   `name:"to" placeholder:"YYYY-MM-DD" help:"Only manifests planned before this UTC day."`
	Treasury string   `name:"treasury" env:"NODESHARE_TREASURY_PRINCIPAL" required:"" help:"The DAO treasury principal (the signer's): rewards are paid from its default account, a pool's lifecycle from its subaccounts."`
	Currency string   `name:"currency" env:"NODESHARE_REPORT_CURRENCY" default:"usd" help:"Fiat currency of the values (lower-case ISO 4217; prices from nodeshare connect's price source)."`
	NoLedger bool     `name:"no-ledger" help:"Do not ask the ledger for balances (the balance leg is skipped)."`
}

var currencyRe = regexp.MustCompile(`^[a-z]{3}$`)

func (s *reportScope) Validate() error {
	if _, err := schemas.AccountOf(s.Treasury, [32]byte{}); err != nil {
		return fmt.Errorf("--treasury: %w (NODESHARE_TREASURY_PRINCIPAL)", err)
	}
	if !currencyRe.MatchString(s.Currency) {
		return fmt.Errorf("--currency must be three lower-case letters (ISO 4217), got %q (NODESHARE_REPORT_CURRENCY)", s.Currency)
	}
	for _, d := range []struct{ name, v string }{{"--from", s.From}, {"--to", s.To}} {
		if d.v == "" {
			continue
		}
		if _, err := time.Parse("2006-01-02", d.v); err != nil {
			return fmt.Errorf("%s must be a UTC day YYYY-MM-DD, got %q", d.name, d.v)
		}
	}
	for _, p := range s.periods() {
		if err := (daoPeriodFlags{DAO: s.DAO, Period: p}).Validate(); err != nil {
			return err
		}
	}
	return validateAll(s.clickhouseFlags, s.icFlags)
}

func (s *reportScope) periods() []string {
	var out []string
	for _, p := range s.Periods {
		for _, x := range strings.Split(p, ",") {
			if x = strings.TrimSpace(x); x != "" {
				out = append(out, x)
			}
		}
	}
	return out
}

// run reads the scope's manifests and reconciles them (stored when save).
func (s *reportScope) run(ctx context.Context, save bool) (reportstage.Outcome, error) {
	store, err := clickhouse.Open(ctx, s.clickhouseFlags.config())
	if err != nil {
		return reportstage.Outcome{}, err
	}
	defer store.Close()
	if save {
		if _, err := store.Migrate(ctx); err != nil {
			return reportstage.Outcome{}, err
		}
	}
	cfg := reportConfig(s.DAO, s.Treasury, s.Currency)
	cfg.Periods, cfg.Save = s.periods(), save
	cfg.From, _ = time.Parse("2006-01-02", s.From)
	cfg.To, _ = time.Parse("2006-01-02", s.To)
	if !s.NoLedger {
		client, err := ic.New(ic.Config{URL: s.ICURL, Identity: new(identity.AnonymousIdentity), FetchRootKey: s.ICFetchRootKey})
		if err != nil {
			return reportstage.Outcome{}, err
		}
		cfg.Ledger = ic.ReportLedger{Client: client}
	}
	return reportstage.Run(ctx, store, cfg)
}

// reportConfig is the report stage's configuration for a DAO whose
// treasury is the principal treasury.
func reportConfig(dao, treasury, currency string) reportstage.Config {
	return reportstage.Config{DAO: dao, Currency: currency,
		Accounts: func(pool, source string) (rep.Account, error) {
			var sub [32]byte // the treasury's default account: rewards
			if pool != "" {
				sub = poolSubaccount(dao, pool, source)
			}
			a, err := schemas.AccountOf(treasury, sub)
			return rep.Account{ICRC1: a.ICRC1, ID: a.ID}, err
		},
		RecipientID: func(text string) (string, error) {
			a, err := ic.AccountFromText(text)
			if err != nil {
				return "", err
			}
			return ic.LegacyAccountID(a).String(), nil
		},
	}
}

// reportCmd is `nodeshare report` (docs/finance.md).
type reportCmd struct {
	reportScope
	Format string `name:"format" default:"json" enum:"json,csv,html" help:"Output format: json, csv or html."`
	Out    string `name:"out" default:"-" placeholder:"FILE|-" help:"Where to write the report (- is standard output)."`
}

// Run writes the report of the scope; the reconciliations are stored.
func (c *reportCmd) Run(e env) error {
	out, err := c.run(e.ctx, true)
	if err != nil {
		return err
	}
	for _, n := range out.Notes {
		fmt.Fprintln(e.stderr, "nodeshare report:", n)
	}
	w, done, err := openOutput(c.Out, e.stdout)
	if err != nil {
		return err
	}
	if err := writeReport(w, out.Report, c.Format); err != nil {
		done()
		return err
	}
	return done()
}

func writeReport(w io.Writer, r rep.Report, format string) error {
	switch format {
	case "csv":
		return rep.WriteCSV(w, r)
	case "html":
		return rep.WriteHTML(w, r)
	}
	return rep.WriteJSON(w, r)
}

// openOutput opens path for writing through a temporary file renamed on
// success ("-" is stdout).
func openOutput(path string, stdout io.Writer) (io.Writer, func() error, error) {
	if path == "-" {
		return stdout, func() error { return nil }, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, nil, err
	}
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return nil, nil, err
	}
	return f, func() error {
		if err := f.Close(); err != nil {
			os.Remove(f.Name())
			return err
		}
		return os.Rename(f.Name(), path)
	}, nil
}

// reconcileCmd is `nodeshare reconcile`: the four-way reconciliation of
// the scope's manifests, stored in ClickHouse; exit 1 when any manifest
// has a difference.
type reconcileCmd struct {
	reportScope
	JSON bool `name:"json" help:"Print JSON."`
}

func (c *reconcileCmd) Run(e env) error {
	out, err := c.run(e.ctx, true)
	if err != nil {
		return err
	}
	if c.JSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(map[string]any{"dao": c.DAO, "reconciliations": out.Recons, "notes": out.Notes}); err != nil {
			return err
		}
	} else {
		printReconciliations(e.stdout, out.Recons, out.Notes)
	}
	if n := out.Unreconciled(); n > 0 {
		fmt.Fprintf(e.stderr, "nodeshare reconcile: %d of %d manifests unreconciled\n", n, len(out.Recons))
		return exitCode(1)
	}
	return nil
}

func printReconciliations(w io.Writer, recons []reconcile.Result, notes []string) {
	for _, r := range recons {
		fmt.Fprintf(w, "%s %s: %s (%d intents, %d matched to blocks, %d pending, %d differences)\n", r.DAO, r.Period, r.State, r.Intents, r.Matched, r.Pending, len(r.Differences))
		for _, d := range r.Differences {
			block := ""
			if d.BlockIndex != nil {
				block = fmt.Sprintf(" block %d", *d.BlockIndex)
			}
			fmt.Fprintf(w, "  %s%s %s: %s (expected %q, actual %q)\n", d.Kind, block, d.IntentID, d.Detail, d.Expected, d.Actual)
		}
	}
	for _, n := range notes {
		fmt.Fprintln(w, "note:", n)
	}
}

// writeRunReport writes finance's report of a period a payout run (or
// the signer) just ran to <local dir>/reports/<dao>/<period>.{json,csv,html}
// and stores its reconciliation. The treasury is the ledger's signing
// principal. A failure is logged: it never changes what the run did or its
// exit code (run nodeshare report again).
//
// diffs, when set, is told of the reconciliation's differences by kind
// (the signer's metrics).
func writeRunReport(ctx context.Context, cfg config, dao, period string, ledger interface{ TreasuryText() string }, log *slog.Logger, diffs *metrics.Differences) {
	treasury := ledger.TreasuryText()
	if a, err := ic.AccountFromText(treasury); err == nil {
		treasury = a.Owner.String()
	}
	scope := reportScope{DAO: dao, Periods: []string{period}, Treasury: treasury, Currency: "usd"}
	scope.clickhouseFlags = clickhouseFlagsFor(cfg.ClickHouse)
	scope.ICURL, scope.ICFetchRootKey = cfg.ICURL, cfg.ICFetchRootKey
	out, err := scope.run(ctx, true)
	if err != nil {
		log.Warn("report not written", "period", period, "error", err.Error())
		return
	}
	dir := filepath.Join(cfg.LocalDir, "reports", safeName(dao))
	base := filepath.Join(dir, strings.NewReplacer(":", "_", "/", "_").Replace(period))
	for _, format := range []string{"json", "csv", "html"} {
		w, done, err := openOutput(base+"."+format, io.Discard)
		if err == nil {
			if err = writeReport(w, out.Report, format); err == nil {
				err = done()
			}
		}
		if err != nil {
			log.Warn("report not written", "period", period, "format", format, "error", err.Error())
			return
		}
	}
	state := ""
	counts := map[string]int{}
	for _, r := range out.Recons {
		state = string(r.State)
		for _, d := range r.Differences {
			counts[string(d.Kind)]++
		}
	}
	if diffs != nil {
		diffs.Reconciled(period, counts)
	}
	log.Info("report written", "period", period, "path", base+".{json,csv,html}", "reconciliation", state)
}
