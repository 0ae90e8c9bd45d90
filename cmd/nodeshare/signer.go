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
	"sync"
	"sync/atomic"
	"time"

	"github.com/aviate-labs/agent-go/identity"
	"github.com/robfig/cron/v3"

	"github.com/nodeshare/nodeshare/connectors/clickhouse"
	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/connectors/kafka"
	"github.com/nodeshare/nodeshare/schemas"
)

// defaultSignerSchedule: every day at 06:00 UTC. A period is paid by the
// first run after it is minted, allocated and approved; a run with nothing
// new does nothing.
const defaultSignerSchedule = "CRON_TZ=UTC 0 6 * * *"

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
	schedule := fs.String("schedule", envOr("NODESHARE_SIGNER_SCHEDULE", defaultSignerSchedule), "cron schedule (NODESHARE_SIGNER_SCHEDULE)")
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
	sched, err := parseSchedule(*schedule)
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintf(stderr, "signer: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("dao", f.dao)
	p, err := newSignerPass(ctx, f, log)
	if err != nil {
		fmt.Fprintf(stderr, "signer: %v\n", err)
		return 1
	}
	defer p.close()
	d := &signerDaemon{spec: *schedule, sched: sched, pass: p.run, statePath: filepath.Join(f.cfg.LocalDir, "signer-"+safeName(f.dao)+".slot"),
		log: log, now: time.Now, stopTimeout: *stopTimeout}
	if *once {
		if err := p.run(ctx); err != nil {
			fmt.Fprintf(stderr, "signer: %v\n", err)
			return 1
		}
		return 0
	}
	if err := d.run(ctx); err != nil {
		fmt.Fprintf(stderr, "signer: %v\n", err)
		return 1
	}
	return 0
}

func safeName(s string) string { return strings.NewReplacer("/", "_", "\x00", "_").Replace(s) }

// parseSchedule parses a 5-field spec (CRON_TZ= prefix and descriptors
// allowed; PITFALLS R1).
func parseSchedule(spec string) (cron.Schedule, error) {
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %w (5 fields, e.g. %q)", spec, err, defaultSignerSchedule)
	}
	return s, nil
}

// signerDaemon runs pass on a cron schedule: never two at once, a panic
// never ends the schedule, missed slots caught up at start, Stop bounded.
type signerDaemon struct {
	spec        string
	sched       cron.Schedule
	pass        func(ctx context.Context) error
	statePath   string
	log         *slog.Logger
	now         func() time.Time
	stopTimeout time.Duration

	mu sync.Mutex // serialises passes (the catch-up and cron's ticks)
}

// cronLogger adapts slog to cron's logger (Recover and Skip log through it).
type cronLogger struct{ l *slog.Logger }

func (c cronLogger) Info(msg string, kv ...any) { c.l.Info("cron: "+msg, kv...) }
func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error("cron: "+msg, append(kv, "error", fmt.Sprint(err))...)
}

func (d *signerDaemon) run(ctx context.Context) error {
	cl := cronLogger{d.log}
	// SkipIfStillRunning outermost, Recover innermost (PITFALLS R3: the
	// other order wedges the job forever after one panic in v3.0.1).
	c := cron.New(cron.WithLocation(time.UTC), cron.WithLogger(cl),
		cron.WithChain(cron.SkipIfStillRunning(cl), cron.Recover(cl)))
	if _, err := c.AddJob(d.spec, cron.FuncJob(func() { d.tick(ctx) })); err != nil {
		return fmt.Errorf("schedule %q: %w", d.spec, err)
	}
	// Catch up once for every slot missed while down (R6): they collapse
	// into one pass, which pays every eligible period once.
	if missed, last := d.missed(); missed > 0 {
		d.log.Info("signer: catching up missed runs", "missed_slots", missed, "last_completed_slot", last)
		d.safeTick(ctx, cl)
	}
	c.Start()
	d.log.Info("signer: started", "schedule", d.spec, "next", d.sched.Next(d.now()).UTC().Format(time.RFC3339))
	<-ctx.Done()
	stop := c.Stop()
	select {
	case <-stop.Done():
	case <-time.After(d.stopTimeout):
		d.log.Warn("signer: a pass did not finish within the stop timeout; exiting (resume is safe)", "stop_timeout", d.stopTimeout.String())
	}
	return nil
}

// safeTick is a tick outside cron (the catch-up), with the same recovery.
func (d *signerDaemon) safeTick(ctx context.Context, cl cron.Logger) {
	cron.NewChain(cron.Recover(cl)).Then(cron.FuncJob(func() { d.tick(ctx) })).Run()
}

// tick runs one pass and records the slot it covers when it completes.
func (d *signerDaemon) tick(ctx context.Context) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if ctx.Err() != nil {
		return
	}
	slot := d.now().UTC()
	start := time.Now()
	if err := d.pass(ctx); err != nil {
		d.log.Error("signer: pass incomplete; the next run continues it", "error", err.Error(), "seconds", time.Since(start).Seconds())
		return
	}
	d.saveSlot(slot)
	d.log.Info("signer: pass complete", "seconds", time.Since(start).Seconds(), "next", d.sched.Next(d.now()).UTC().Format(time.RFC3339))
}

// missed counts scheduled slots after the last completed pass up to now.
// With no record the signer has never completed a pass: one catch-up.
func (d *signerDaemon) missed() (int, string) {
	b, err := os.ReadFile(d.statePath)
	if err != nil {
		return 1, "never"
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 1, "unreadable"
	}
	last := time.Unix(0, n).UTC()
	count := 0
	now := d.now()
	for t := d.sched.Next(last); !t.After(now) && count < 10000; t = d.sched.Next(t) {
		count++
	}
	return count, last.Format(time.RFC3339)
}

func (d *signerDaemon) saveSlot(slot time.Time) {
	if err := os.MkdirAll(filepath.Dir(d.statePath), 0o755); err != nil {
		d.log.Warn("signer: state dir", "error", err.Error())
		return
	}
	tmp := d.statePath + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.FormatInt(slot.UnixNano(), 10)+"\n"), 0o644); err == nil {
		err = os.Rename(tmp, d.statePath)
		if err != nil {
			d.log.Warn("signer: save slot", "error", err.Error())
		}
	}
}

// signerPass is one pass over the DAO's periods with long-lived
// connections; Vault and the ledger are opened on first use, so a signer
// started while Vault is sealed keeps its schedule and signs once it is
// unsealed.
type signerPass struct {
	f        payoutFlags
	log      *slog.Logger
	store    *clickhouse.Store
	producer *kafka.Producer
	ctx      context.Context

	id     identity.Identity
	ledger *ic.Client

	// crash and armed: the NODESHARE_PAYOUT_CRASH_AT test hook (nil in
	// production), as in nodeshare payout run.
	crash func(string)
	armed atomic.Bool
}

func newSignerPass(ctx context.Context, f payoutFlags, log *slog.Logger) (*signerPass, error) {
	if err := kafka.EnsureTopics(ctx, f.cfg.brokers(), schemas.Topics(), 1); err != nil {
		return nil, err
	}
	store, err := clickhouse.Open(ctx, f.cfg.ClickHouse)
	if err != nil {
		return nil, err
	}
	if _, err := store.Migrate(ctx); err != nil {
		store.Close()
		return nil, err
	}
	return &signerPass{f: f, log: log, store: store, producer: kafka.NewProducer(f.cfg.brokers()), ctx: ctx, crash: crashHookFromEnv()}, nil
}

func (p *signerPass) close() {
	p.producer.Close()
	p.store.Close()
}

func (p *signerPass) run(ctx context.Context) error {
	unlock, err := lockPayout(p.f.cfg.LocalDir, p.f.dao)
	if err != nil {
		return err
	}
	defer unlock()
	if p.ledger == nil {
		// The identity keeps its token alive for the daemon's life (p.ctx).
		id, err := openSigner(p.ctx, p.f.cfg.Vault, p.f.signer, p.log)
		if err != nil {
			return fmt.Errorf("open the signer (Vault): %w", err)
		}
		if p.crash != nil {
			id = hookedIdentity{Identity: id, armed: &p.armed, hook: p.crash}
		}
		ledger, err := openLedger(p.f.cfg, id, p.log)
		if err != nil {
			return err
		}
		p.id, p.ledger = id, ledger
	}
	eng := &payoutEngine{
		store:  &chPayoutStore{brokers: p.f.cfg.brokers(), store: p.store, producer: p.producer, now: time.Now},
		ledger: p.ledger, treasury: ic.Account{Owner: p.id.Sender()}, approval: p.f.approval(), caps: p.f.caps(),
		concurrency: p.f.concurrency, log: p.log, now: time.Now,
	}
	if p.crash != nil {
		eng.crash = func(point string) {
			if point == phaseSending {
				p.armed.Store(true)
			}
			p.crash(point)
		}
	}
	return signerPassOver(ctx, eng, p.f.dao, p.log)
}

// signerPassOver pays every eligible period of dao once; the engine's
// store and ledger decide what is eligible. It goes on with the next period
// after a period's failure, except when signing itself stopped.
func signerPassOver(ctx context.Context, eng *payoutEngine, dao string, log *slog.Logger) error {
	periods, err := eng.store.Periods(ctx, dao)
	if err != nil {
		return err
	}
	var errs []error
	for _, period := range periods {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		st, err := eng.status(ctx, dao, period)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if st.Planned && st.AllPaid {
			continue
		}
		if !st.Planned {
			m, _, err := eng.plan(ctx, dao, period, true)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			log.Info("signer: period planned; waiting for approvals", "period", period, "manifest_sha256", m.SHA256, "intents", len(m.Intents))
			continue
		}
		if !st.Approved {
			log.Info("signer: period not approved yet", "period", period, "manifest_sha256", st.Manifest.SHA256, "approvers", st.Approvers)
			continue
		}
		sum, err := eng.run(ctx, dao, period, runOptions{ExpectSHA256: st.Manifest.SHA256})
		log.Info("signer: period run", "period", period, "paid", sum.Paid, "pending", sum.Pending, "failed", sum.Failed, "sent", sum.Sent, "reconciled", sum.Reconciled)
		if err != nil {
			errs = append(errs, err)
			if errors.Is(err, errStopRun) {
				break
			}
		}
	}
	return errors.Join(errs...)
}
