package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"

	"github.com/aviate-labs/agent-go/identity"

	"github.com/nodeshare/nodeshare/connectors/clickhouse"
	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/connectors/metrics"
	"github.com/nodeshare/nodeshare/connectors/web"
	reportstage "github.com/nodeshare/nodeshare/pipeline/stage/report"
	"github.com/nodeshare/nodeshare/pipeline/stage/serve"
	"github.com/nodeshare/nodeshare/schemas"
)

// serveCmd is `nodeshare serve` (docs/serve.md): the read-only pages for
// sponsors, finance and auditors, until stopped (SIGINT/SIGTERM: requests
// in flight finish). It reads ClickHouse through a read-only session, and
// asks the ledger (queries only) for the balance leg of the
// reconciliation, like nodeshare reconcile. With --statements, sponsors
// download their statements signed by the statement key (Vault transit),
// as nodeshare statement writes them.
type serveCmd struct {
	clickhouseFlags
	icFlags
	vaultFlags
	statementKeyFlags
	metricsFlags
	DAOs       []string `name:"dao" env:"NODESHARE_DAO" required:"" help:"DAOs to serve (repeat or comma separate)."`
	Treasury   string   `name:"treasury" env:"NODESHARE_TREASURY_PRINCIPAL" required:"" help:"The DAO treasury principal (the signer's): rewards are paid from its default account, a pool's lifecycle from its subaccounts."`
	Currency   string   `name:"currency" env:"NODESHARE_REPORT_CURRENCY" default:"usd" help:"Fiat currency of the values (lower-case ISO 4217)."`
	Listen     string   `name:"listen" env:"NODESHARE_SERVE_LISTEN" default:"127.0.0.1:18090" help:"host:port to serve on (loopback by default: put a TLS proxy with access control in front to publish it)."`
	NoLedger   bool     `name:"no-ledger" help:"Do not ask the ledger for balances (the reconciliation's balance leg is skipped)."`
	Statements bool     `name:"statements" env:"NODESHARE_SERVE_STATEMENTS" help:"Offer sponsors their statements to download, each signed by the statement key in Vault (NODESHARE_VAULT_TOKEN must be allowed to sign with it)."`
	serveBallotFlags
}

// serveBallotFlags turn on the ballot endpoint (docs/governance.md):
// sponsors post signed ballots over HTTP and serve publishes them to Kafka.
type serveBallotFlags struct {
	kafkaFlags
	poolsTopicFlags
	Ballots     bool    `name:"ballots" env:"NODESHARE_SERVE_BALLOTS" help:"Accept signed ballots at POST /api/ballots and publish them to Kafka (GET /api/votes, /api/ballots show tallies and refusals)."`
	BallotRate  float64 `name:"ballot-rate" env:"NODESHARE_SERVE_BALLOT_RATE" default:"2" help:"Ballot API requests a second per client address (bursts of --ballot-burst); more answer 429."`
	BallotBurst int     `name:"ballot-burst" env:"NODESHARE_SERVE_BALLOT_BURST" default:"10" help:"Ballot API requests at once per client address."`
	TLSCertFile string  `name:"tls-cert-file" env:"NODESHARE_SERVE_TLS_CERT_FILE" type:"path" help:"Serve HTTPS with this PEM certificate (with --tls-key-file)."`
	TLSKeyFile  string  `name:"tls-key-file" env:"NODESHARE_SERVE_TLS_KEY_FILE" type:"path" help:"The certificate's PEM private key."`
}

func (b serveBallotFlags) Validate() error {
	var errs []error
	if (b.TLSCertFile == "") != (b.TLSKeyFile == "") {
		errs = append(errs, fmt.Errorf("--tls-cert-file %q and --tls-key-file %q: give both or neither", b.TLSCertFile, b.TLSKeyFile))
	}
	if b.BallotRate <= 0 || b.BallotBurst < 1 {
		errs = append(errs, fmt.Errorf("--ballot-rate %v and --ballot-burst %d must be positive", b.BallotRate, b.BallotBurst))
	}
	if b.Ballots {
		errs = append(errs, b.kafkaFlags.Validate())
	}
	return errors.Join(errs...)
}

func (c *serveCmd) Validate() error {
	var errs []error
	if _, err := schemas.AccountOf(c.Treasury, [32]byte{}); err != nil {
		errs = append(errs, fmt.Errorf("--treasury: %w (NODESHARE_TREASURY_PRINCIPAL)", err))
	}
	if !currencyRe.MatchString(c.Currency) {
		errs = append(errs, fmt.Errorf("--currency must be three lower-case letters (ISO 4217), got %q (NODESHARE_REPORT_CURRENCY)", c.Currency))
	}
	if _, port, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("--listen must be host:port, got %q (NODESHARE_SERVE_LISTEN): %v", c.Listen, err))
	} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		errs = append(errs, fmt.Errorf("--listen %q: the port must be a number in 0..65535 (NODESHARE_SERVE_LISTEN)", c.Listen))
	}
	seen := map[string]bool{}
	for _, d := range c.DAOs {
		if d == "" || seen[d] {
			errs = append(errs, fmt.Errorf("--dao %q is empty or given twice (NODESHARE_DAO)", d))
		}
		seen[d] = true
	}
	vs := []interface{ Validate() error }{c.clickhouseFlags, c.icFlags, c.serveBallotFlags, c.metricsFlags}
	if c.Statements {
		cfg := services(nil, nil, &c.vaultFlags, nil, nil, nil)
		vs = append(vs, &cfg.Vault)
	}
	return errors.Join(append(errs, validateAll(vs...))...)
}

func (c *serveCmd) Run(e env) error {
	log := slog.New(slog.NewJSONHandler(e.stderr, nil))
	// Give serve a read-only user (--clickhouse-user): its sessions are
	// made read-only either way.
	store, err := clickhouse.OpenReadOnly(e.ctx, c.clickhouseFlags.config())
	if err != nil {
		return err
	}
	defer store.Close()
	var ledger reportstage.Ledger
	if !c.NoLedger {
		client, err := ic.New(ic.Config{URL: c.ICURL, Identity: new(identity.AnonymousIdentity), FetchRootKey: c.ICFetchRootKey})
		if err != nil {
			return err
		}
		ledger = ic.ReportLedger{Client: client}
	}
	sc := serve.Config{DAOs: c.DAOs, Report: func(dao string) reportstage.Config {
		cfg := reportConfig(dao, c.Treasury, c.Currency)
		cfg.Ledger = ledger
		return cfg
	}}
	if c.Statements {
		// As nodeshare statement writes them, from the read-only store.
		sc.Statement = func(ctx context.Context, dao, account, from, to, format string, w io.Writer) error {
			st, err := statementOf(ctx, store, dao, account, from, to, c.Currency)
			if err != nil {
				return err
			}
			if st, err = signStatement(ctx, st, c.vaultFlags, c.statementKeyFlags); err != nil {
				return err
			}
			return writeStatement(w, st, format)
		}
	}
	site, err := serve.New(store, sc)
	if err != nil {
		return err
	}
	// Metrics: the process's own (build, Go runtime, process). Ready:
	// ClickHouse answers (and Kafka, with --ballots). On their own port,
	// apart from the pages.
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	if addr := c.addr(metricsServe, false); addr != "" {
		reg := metrics.New(versionString())
		checks := []metrics.Check{clickhouseCheck(store)}
		if c.Ballots {
			checks = append(checks, kafkaCheck(c.kafkaFlags.brokers()))
		}
		wait, err := serveMetrics(ctx, addr, reg, checks, log)
		if err != nil {
			return err
		}
		defer wait()
		defer cancel()
	}
	wc := web.Config{Listen: c.Listen, Site: site, Logger: log, TLSCertFile: c.TLSCertFile, TLSKeyFile: c.TLSKeyFile}
	if c.Ballots {
		box, done, err := openVotes(e, c.kafkaFlags, c.poolsTopicFlags)
		if err != nil {
			return err
		}
		defer done()
		wc.Ballots, wc.BallotRate, wc.BallotBurst = ballotBox{box: box}, c.BallotRate, c.BallotBurst
	}
	return web.Serve(ctx, wc, func(a net.Addr) {
		if t, ok := a.(*net.TCPAddr); ok && !t.IP.IsLoopback() {
			log.Warn("serving beyond loopback: anyone who reaches this address reads every DAO's payouts", "addr", a.String())
		}
		scheme := "http://"
		if c.TLSCertFile != "" {
			scheme = "https://"
		}
		log.Info("serving", "url", scheme+a.String()+"/", "daos", c.DAOs, "ballots", c.Ballots)
	})
}
