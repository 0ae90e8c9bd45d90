package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/nodeshare/nodeshare/pipeline/stage/payout"
	"github.com/nodeshare/nodeshare/pipeline/stage/signer"
)

const signerHelp = `usage: nodeshare signer [flags]

Runs until stopped (SIGINT/SIGTERM). On the cron schedule (--schedule, 5 fields, CRON_TZ=<zone>
prefix honoured, descriptors like @every 1h allowed) it pays, for --dao, every period that is
minted and allocated (pool periods in ClickHouse), planned, approved and not yet paid: the same
checks and the same exactly-once steps as nodeshare payout run/resume. A period that is allocated
but not planned is planned (and then waits for its approvals). Runs never overlap; a panic in a
run is logged and the schedule goes on; runs missed while the signer was down are caught up once
at start (the last completed slot is kept in <local-dir>/signer-<dao>.slot). --once runs one pass
and exits. Vault: token (renewed when renewable) or AppRole (renewed; logs in again whenever
renewal ends); key in transit (default) or KV v2 (--key-mode kv). See docs/payouts.md.

flags:
`

func runSigner(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var f payoutFlags
	fs := flag.NewFlagSet("signer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	groups := []string{"kafka", "clickhouse", "vault", "ic", "local"}
	f.cfg.register(fs, groups...)
	f.signer.register(fs, &f.cfg)
	fs.StringVar(&f.dao, "dao", envOr("NODESHARE_DAO", ""), "DAO whose periods the signer pays (NODESHARE_DAO)")
	fs.StringVar(&f.approvers, "approvers", envOr("NODESHARE_PAYOUT_APPROVERS", ""), "approver set, comma separated (NODESHARE_PAYOUT_APPROVERS)")
	fs.IntVar(&f.threshold, "threshold", int(envInt("NODESHARE_PAYOUT_THRESHOLD", 0)), "approvals needed (NODESHARE_PAYOUT_THRESHOLD)")
	fs.Int64Var(&f.maxRun, "max-run-e8s", envInt("NODESHARE_PAYOUT_MAX_RUN_E8S", 0), "per-run cap, amounts + fees; 0 = none (NODESHARE_PAYOUT_MAX_RUN_E8S)")
	fs.Int64Var(&f.maxRecip, "max-recipient-e8s", envInt("NODESHARE_PAYOUT_MAX_RECIPIENT_E8S", 0), "per-recipient cap; 0 = none (NODESHARE_PAYOUT_MAX_RECIPIENT_E8S)")
	fs.IntVar(&f.concurrency, "concurrency", int(envInt("NODESHARE_PAYOUT_CONCURRENCY", 4)), "transfers in flight (NODESHARE_PAYOUT_CONCURRENCY)")
	schedule := fs.String("schedule", envOr("NODESHARE_SIGNER_SCHEDULE", signer.DefaultSchedule), "cron schedule (NODESHARE_SIGNER_SCHEDULE)")
	once := fs.Bool("once", false, "run one pass now and exit")
	stopTimeout := fs.Duration("stop-timeout", 2*time.Minute, "on shutdown, wait this long for a running pass (it is cancelled; a cancelled run resumes safely)")
	fs.Usage = func() { fmt.Fprint(stderr, signerHelp); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	var errs []error
	if err := f.cfg.validate(groups...); err != nil {
		errs = append(errs, err)
	}
	if err := f.signer.validate(); err != nil {
		errs = append(errs, err)
	}
	if f.dao == "" {
		errs = append(errs, errors.New("--dao is required (NODESHARE_DAO)"))
	}
	if err := f.approval().Validate(); err != nil {
		errs = append(errs, err)
	}
	sched, err := signer.ParseSchedule(*schedule)
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintf(stderr, "signer: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("dao", f.dao)
	store, closeStore, err := openPayoutStore(ctx, f.cfg)
	if err != nil {
		fmt.Fprintf(stderr, "signer: %v\n", err)
		return 1
	}
	defer closeStore()
	pass := signerPass(ctx, f, store, log)
	if *once {
		if err := pass(ctx); err != nil {
			fmt.Fprintf(stderr, "signer: %v\n", err)
			return 1
		}
		return 0
	}
	d := &signer.Daemon{Spec: *schedule, Schedule: sched, Pass: pass, Slots: fileSlots(filepath.Join(f.cfg.LocalDir, "signer-"+safeName(f.dao)+".slot")),
		Log: log, StopTimeout: *stopTimeout}
	if err := d.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "signer: %v\n", err)
		return 1
	}
	return 0
}

func safeName(s string) string { return strings.NewReplacer("/", "_", "\x00", "_").Replace(s) }

// signerPass is one pass of the daemon: under the DAO's lock, the payout
// stage over every eligible period. The Vault identity and the ledger are
// opened on first use and kept (the token is kept alive for the daemon's
// life, daemonCtx), so a signer started while Vault is sealed keeps its
// schedule and signs once Vault is unsealed.
func signerPass(daemonCtx context.Context, f payoutFlags, store payout.Store, log *slog.Logger) func(context.Context) error {
	crash, armed := armedCrash(crashFromEnv())
	eng := &payout.Engine{Store: store, Approval: f.approval(), Caps: f.caps(), Concurrency: f.concurrency, Log: log, Crash: crash}
	return func(ctx context.Context) error {
		unlock, err := lockPayout(f.cfg.LocalDir, f.dao)
		if err != nil {
			return err
		}
		defer unlock()
		if eng.Ledger == nil {
			if eng.Ledger, err = payoutLedger(daemonCtx, f.cfg, f.signer, crash, armed, log); err != nil {
				eng.Ledger = nil
				return err
			}
		}
		return signer.Pass(ctx, eng, f.dao, log)
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
