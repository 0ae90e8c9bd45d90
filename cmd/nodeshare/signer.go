package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nodeshare/nodeshare/connectors/clickhouse"
	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/connectors/metrics"
	"github.com/nodeshare/nodeshare/pipeline/stage/payout"
	"github.com/nodeshare/nodeshare/pipeline/stage/signer"
)

// signerCmd runs until stopped (SIGINT/SIGTERM). On the cron schedule it
// pays, for --dao, every period that is minted and allocated (pool periods
// in ClickHouse), planned, approved and not yet paid: the same checks and
// the same exactly-once steps as nodeshare payout run/resume
// (pipeline/stage/signer). A period that is allocated but not planned is
// planned (and then waits for its approvals). Passes never overlap; a
// panic in a pass is logged and the schedule goes on; passes missed while
// the signer was down are caught up once at start (the last completed
// slot is kept in <local-dir>/signer-<dao>.slot). Vault: token (renewed
// when renewable) or AppRole (renewed; logs in again whenever renewal
// ends); key in transit (default) or KV v2 (--key-mode kv). See
// docs/payouts.md.
type signerCmd struct {
	kafkaFlags
	clickhouseFlags
	vaultFlags
	icFlags
	localFlags
	signerKeyFlags
	approvalFlags
	runFlags
	sanityFlags
	metricsFlags
	DAO         string        `name:"dao" env:"NODESHARE_DAO" required:"" help:"DAO whose periods the signer pays."`
	Schedule    string        `name:"schedule" env:"NODESHARE_SIGNER_SCHEDULE" default:"${default_schedule}" help:"Cron schedule: 5 fields, a CRON_TZ=<zone> prefix honoured, descriptors like @every 1h allowed."`
	Once        bool          `name:"once" help:"Run one pass now and exit."`
	StopTimeout time.Duration `name:"stop-timeout" default:"2m" help:"On shutdown, wait this long for a running pass (it is cancelled; a cancelled run resumes safely)."`
}

func (c *signerCmd) Validate() error {
	cfg := services(nil, nil, &c.vaultFlags, nil, nil, &c.signerKeyFlags)
	_, err := signer.ParseSchedule(c.Schedule)
	if err != nil {
		err = fmt.Errorf("--schedule: %w (NODESHARE_SIGNER_SCHEDULE)", err)
	}
	return validateAll(c.kafkaFlags, c.clickhouseFlags, c.icFlags, c.approvalFlags, c.runFlags, c.sanityFlags, c.metricsFlags, &cfg.Vault, errValidator{err})
}

func (c *signerCmd) Run(e env) error {
	sched, err := signer.ParseSchedule(c.Schedule)
	if err != nil {
		return err
	}
	// The daemon's own lines carry the DAO; the payout engine's name it
	// themselves (base, so the key is not repeated).
	base := slog.New(slog.NewJSONHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	log := base.With("dao", c.DAO)
	cfg := services(&c.kafkaFlags, &c.clickhouseFlags, &c.vaultFlags, &c.icFlags, &c.localFlags, &c.signerKeyFlags)
	store, closeStore, err := openPayoutStore(e.ctx, cfg)
	if err != nil {
		return err
	}
	defer closeStore()
	// Metrics: the daemon's passes and payouts, the engine's transfers,
	// signing latency, failed certificate checks, reconciliation
	// differences. Ready: ClickHouse, Kafka and an unsealed Vault answer.
	var reg *metrics.Registry
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	if addr := c.addr(metricsSigner, c.Once); addr != "" {
		reg = metrics.New(versionString())
		reg.InitCertificateChecks(ic.CertificateChecks())
		checks := []metrics.Check{kafkaCheck(c.kafkaFlags.brokers()), vaultCheck(cfg.Vault.Addr)}
		if cs, ok := store.Tables.(*clickhouse.Store); ok {
			checks = append([]metrics.Check{clickhouseCheck(cs)}, checks...)
		}
		wait, err := serveMetrics(ctx, addr, reg, checks, log)
		if err != nil {
			return err
		}
		defer wait()
		defer cancel()
	}
	pass := signerPass(ctx, c, cfg, store, log, base, reg)
	if c.Once {
		return pass(ctx)
	}
	d := &signer.Daemon{Spec: c.Schedule, Schedule: sched, Pass: pass, Slots: fileSlots(filepath.Join(c.LocalDir, "signer-"+safeName(c.DAO)+".slot")),
		Log: log, StopTimeout: c.StopTimeout}
	if reg != nil {
		d.Observer = signerMetrics{reg}
	}
	return d.Run(ctx)
}

func safeName(s string) string { return strings.NewReplacer("/", "_", "\x00", "_").Replace(s) }

// signerPass is one pass of the daemon: under the DAO's lock, the payout
// stage over every eligible period. The Vault identity and the ledger are
// opened on first use and kept (the token is kept alive for the daemon's
// life, daemonCtx), so a signer started while Vault is sealed keeps its
// schedule and signs once Vault is unsealed.
//
// reg, when set, is told of the transfers, signatures, certificate checks,
// reconciliations and payout totals.
func signerPass(daemonCtx context.Context, c *signerCmd, cfg config, store payout.Store, log, base *slog.Logger, reg *metrics.Registry) func(context.Context) error {
	crash, armed := armedCrash(crashFromEnv())
	eng := &payout.Engine{Store: store, Approval: c.mustApproval(), Verifier: ic.Verifier{}, Caps: c.caps(), Concurrency: c.Concurrency, Log: base, Crash: crash}
	var obs signer.Observer
	var diffs *metrics.Differences
	if reg != nil {
		eng.Observer, obs, diffs = reg, signerMetrics{reg}, reg.Differences(c.DAO, reconcileKinds())
	}
	if ds, ok := store.(*payout.DurableStore); ok {
		if ss, ok := ds.Tables.(payout.SanityStore); ok {
			eng.Sanity = c.gate(ss)
		}
	}
	return func(ctx context.Context) error {
		unlock, err := lockPayout(c.LocalDir, c.DAO)
		if err != nil {
			return err
		}
		defer unlock()
		if eng.Ledger == nil {
			if eng.Ledger, err = payoutLedger(daemonCtx, cfg, c.signerConfig(), crash, armed, log, reg); err != nil {
				eng.Ledger = nil
				return err
			}
		}
		return signer.Pass(ctx, eng, c.DAO, log, func(ctx context.Context, period string) {
			writeRunReport(ctx, cfg, c.DAO, period, eng.Ledger, log, diffs)
		}, obs)
	}
}

// fileSlots keeps the signer's last completed slot in a file (written to a
// temporary file, then renamed).
type fileSlots string

func (p fileSlots) Last() (time.Time, bool) {
	b, err := os.ReadFile(string(p))
	if err != nil {
		return time.Time{}, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	return time.Unix(0, n).UTC(), true
}

func (p fileSlots) Save(slot time.Time) error {
	if err := os.MkdirAll(filepath.Dir(string(p)), 0o755); err != nil {
		return err
	}
	tmp := string(p) + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.FormatInt(slot.UnixNano(), 10)+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, string(p))
}
