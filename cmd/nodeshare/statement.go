package main

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"io"
	"time"

	"github.com/nodeshare/nodeshare/connectors/clickhouse"
	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/connectors/vault"
	"github.com/nodeshare/nodeshare/pipeline/payout"
	reportstage "github.com/nodeshare/nodeshare/pipeline/stage/report"
	"github.com/nodeshare/nodeshare/pipeline/statement"
)

// statementCmd is `nodeshare statement` (docs/finance.md): a sponsor's
// signed statement, and its check.
type statementCmd struct {
	Show   statementShowCmd   `cmd:"" default:"withargs" help:"Write an account's statement over a range of periods, signed by the statement key (the default)."`
	Verify statementVerifyCmd `cmd:"" help:"Check a statement's signature against the statement key, and recompute it from ClickHouse."`
}

// statementKeyFlags name the statement key (Vault transit, Ed25519).
type statementKeyFlags struct {
	StatementKey string `name:"statement-key" env:"NODESHARE_STATEMENT_KEY" default:"nodeshare-statements" help:"Vault transit Ed25519 key statements are signed with."`
}

// statementScope is one account's statement.
type statementScope struct {
	clickhouseFlags
	DAO      string `name:"dao" env:"NODESHARE_DAO" required:"" help:"DAO name."`
	Sponsor  string `name:"sponsor" required:"" help:"The account: ICRC-1 text or a 64-hex account identifier."`
	From     string `name:"from" placeholder:"YYYY-MM-DD" help:"First period (day) of the statement; none: the first."`
	To       string `name:"to" placeholder:"YYYY-MM-DD" help:"Last period (day) of the statement; none: the last."`
	Currency string `name:"currency" env:"NODESHARE_REPORT_CURRENCY" default:"usd" help:"Fiat currency of the values."`
}

func (s *statementScope) Validate() error {
	if _, _, err := sponsorForms(s.Sponsor); err != nil {
		return err
	}
	if !currencyRe.MatchString(s.Currency) {
		return fmt.Errorf("--currency must be three lower-case letters (ISO 4217), got %q (NODESHARE_REPORT_CURRENCY)", s.Currency)
	}
	for _, d := range []struct{ name, v string }{{"--from", s.From}, {"--to", s.To}} {
		if _, err := time.Parse("2006-01-02", d.v); d.v != "" && err != nil {
			return fmt.Errorf("%s must be a UTC day YYYY-MM-DD, got %q", d.name, d.v)
		}
	}
	return s.clickhouseFlags.Validate()
}

// sponsorForms are the account identifier of a sponsor given as ICRC-1
// text or account identifier, and the other forms it is paid under.
func sponsorForms(sponsor string) (string, []string, error) {
	if payout.IsAccountIdentifier(sponsor) {
		return sponsor, nil, nil
	}
	a, err := ic.AccountFromText(sponsor)
	if err != nil {
		return "", nil, fmt.Errorf("--sponsor must be ICRC-1 account text or a 64-hex account identifier, got %q: %v", sponsor, err)
	}
	return ic.LegacyAccountID(a).String(), []string{ic.AccountText(a), sponsor}, nil
}

// build computes the (unsigned) statement from ClickHouse.
func (s *statementScope) build(ctx context.Context) (statement.Statement, error) {
	store, err := clickhouse.Open(ctx, s.clickhouseFlags.config())
	if err != nil {
		return statement.Statement{}, err
	}
	defer store.Close()
	return statementOf(ctx, store, s.DAO, s.Sponsor, s.From, s.To, s.Currency)
}

// statementOf is sponsor's statement in dao over [from, to], unsigned,
// from store (nodeshare statement, and nodeshare serve's downloads).
func statementOf(ctx context.Context, store reportstage.StatementStore, dao, sponsor, from, to, currency string) (statement.Statement, error) {
	account, aliases, err := sponsorForms(sponsor)
	if err != nil {
		return statement.Statement{}, err
	}
	cfg := reportConfig(dao, "aaaaa-aa", currency)
	return reportstage.Statement(ctx, store, cfg, account, aliases, from, to)
}

// signStatement signs st with the statement key in Vault.
func signStatement(ctx context.Context, st statement.Statement, v vaultFlags, k statementKeyFlags) (statement.Statement, error) {
	vc, pub, version, err := statementKey(ctx, v, k)
	if err != nil {
		return st, err
	}
	return statement.Sign(st, k.StatementKey, pub, func(m []byte) ([]byte, error) { return vc.Sign(ctx, m, version) })
}

// writeStatement writes st in format: json, csv or html.
func writeStatement(w io.Writer, st statement.Statement, format string) error {
	switch format {
	case "csv":
		return statement.WriteCSV(w, st)
	case "html":
		return statement.WriteHTML(w, st)
	}
	return statement.WriteJSON(w, st)
}

// statementKey opens the statement key in Vault.
func statementKey(ctx context.Context, v vaultFlags, k statementKeyFlags) (*vault.Client, ed25519.PublicKey, int, error) {
	return transitKey(ctx, v, k.StatementKey)
}

// transitKey opens a Vault transit Ed25519 key other than the treasury's
// (the statement key, the audit key): its client, its public key and the
// version signatures are made with.
func transitKey(ctx context.Context, v vaultFlags, key string) (*vault.Client, ed25519.PublicKey, int, error) {
	cfg := v.config()
	cfg.TransitKey = key
	c, err := vault.New(cfg)
	if err != nil {
		return nil, nil, 0, err
	}
	pub, version, err := c.PublicKey(ctx)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("transit key %s: %w", key, err)
	}
	return c, pub, version, nil
}

type statementShowCmd struct {
	statementScope
	vaultFlags
	statementKeyFlags
	Format string `name:"format" default:"json" enum:"json,csv,html" help:"json (signed), csv or html."`
	Out    string `name:"out" default:"-" placeholder:"FILE|-" help:"Where to write it (- is standard output)."`
}

func (c *statementShowCmd) Run(e env) error {
	st, err := c.build(e.ctx)
	if err != nil {
		return err
	}
	if st, err = signStatement(e.ctx, st, c.vaultFlags, c.statementKeyFlags); err != nil {
		return err
	}
	w, done, err := openOutput(c.Out, e.stdout)
	if err != nil {
		return err
	}
	if err := writeStatement(w, st, c.Format); err != nil {
		done()
		return err
	}
	return done()
}

// statementVerifyCmd checks a statement: its signature against the
// statement key's public key (--public-key, as the DAO publishes it, or
// read from Vault), then, unless --no-recompute, that ClickHouse still
// gives the same statement.
type statementVerifyCmd struct {
	clickhouseFlags
	vaultFlags
	statementKeyFlags
	File        string `arg:"" name:"file" help:"The statement (JSON); - reads standard input."`
	PublicKey   string `name:"public-key" env:"NODESHARE_STATEMENT_PUBLIC_KEY" help:"The statement key's Ed25519 public key (64 hex); none: read it from Vault."`
	NoRecompute bool   `name:"no-recompute" help:"Check the signature only (for a sponsor without access to the audit trail)."`
}

func (c *statementVerifyCmd) Run(e env) error {
	r, closeIn, err := openInput(c.File, e.stdin)
	if err != nil {
		return err
	}
	st, err := statement.ReadJSON(r)
	closeIn()
	if err != nil {
		return err
	}
	var pub ed25519.PublicKey
	if c.PublicKey != "" {
		b, err := hex.DecodeString(c.PublicKey)
		if err != nil || len(b) != ed25519.PublicKeySize {
			return usageError("--public-key must be 64 hex characters (an Ed25519 public key), got %q", c.PublicKey)
		}
		pub = b
	} else {
		if _, pub, _, err = statementKey(e.ctx, c.vaultFlags, c.statementKeyFlags); err != nil {
			return err
		}
	}
	if err := statement.Verify(st, pub); err != nil {
		fmt.Fprintln(e.stdout, "statement verify: FAILED:", err)
		return exitCode(1)
	}
	fmt.Fprintf(e.stdout, "statement verify: signature OK (key %s, %x)\n", st.Signature.Key, []byte(pub))
	if c.NoRecompute {
		return nil
	}
	scope := statementScope{clickhouseFlags: c.clickhouseFlags, DAO: st.DAO, Sponsor: st.Account, From: st.From, To: st.To, Currency: st.Currency}
	again, err := scope.build(e.ctx)
	if err != nil {
		return err
	}
	if !statement.Equal(again, st) {
		fmt.Fprintln(e.stdout, "statement verify: FAILED: ClickHouse now gives another statement for this account and range (run nodeshare statement again and compare)")
		return exitCode(1)
	}
	fmt.Fprintln(e.stdout, "statement verify: recomputed from ClickHouse: identical")
	return nil
}
