package signer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/nodeshare/nodeshare/pipeline/stage"
	"github.com/nodeshare/nodeshare/pipeline/stage/payout"
	"github.com/nodeshare/nodeshare/schemas"
)

// DefaultSchedule is every day at 06:00 UTC. A period is paid by the first
// pass after it is minted, allocated and approved; a pass with nothing new
// does nothing.
const DefaultSchedule = "CRON_TZ=UTC 0 6 * * *"

// ParseSchedule parses a 5-field spec (a CRON_TZ= prefix and descriptors
// such as @every 1h allowed).
func ParseSchedule(spec string) (cron.Schedule, error) {
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %w (5 fields, e.g. %q)", spec, err, DefaultSchedule)
	}
	return s, nil
}

// Slots is the port to where the daemon remembers the last slot it
// completed (a file next to the lock in production), so that slots missed
// while it was down are caught up once at start.
type Slots interface {
	// Last returns the last completed slot; ok is false when none is
	// recorded (or the record is unreadable: one catch-up then).
	Last() (slot time.Time, ok bool)
	Save(slot time.Time) error
}

// Daemon runs Pass on a cron schedule: never two passes at once, a panic
// never ends the schedule, missed slots caught up once at start, and a
// bounded stop.
type Daemon struct {
	Spec        string
	Schedule    cron.Schedule
	Pass        func(ctx context.Context) error
	Slots       Slots
	Log         *slog.Logger
	Clock       stage.Clock
	StopTimeout time.Duration
	// Observer, when set, is told of every pass and, at start, of the
	// last good one (cmd/nodeshare passes the metrics connector).
	Observer Observer

	mu sync.Mutex // serialises passes (the catch-up and cron's ticks)
}

// cronLogger adapts slog to cron's logger (Recover and Skip log through it).
type cronLogger struct{ l *slog.Logger }

func (c cronLogger) Info(msg string, kv ...any) { c.l.Info("cron: "+msg, kv...) }
func (c cronLogger) Error(err error, msg string, kv ...any) {
	c.l.Error("cron: "+msg, append(kv, "error", fmt.Sprint(err))...)
}

// Run runs the schedule until ctx ends.
func (d *Daemon) Run(ctx context.Context) error {
	if d.Clock == nil {
		d.Clock = stage.SystemClock{}
	}
	cl := cronLogger{d.Log}
	// SkipIfStillRunning outermost, Recover innermost: the other order
	// wedges the job forever after one panic in robfig/cron v3.0.1.
	c := cron.New(cron.WithLocation(time.UTC), cron.WithLogger(cl),
		cron.WithChain(cron.SkipIfStillRunning(cl), cron.Recover(cl)))
	if _, err := c.AddJob(d.Spec, cron.FuncJob(func() { d.tick(ctx) })); err != nil {
		return fmt.Errorf("schedule %q: %w", d.Spec, err)
	}
	if d.Observer != nil {
		// The last good pass survives a restart (the slot file); a signer
		// that never completed one starts its clock now.
		last, ok := d.Slots.Last()
		if !ok {
			last = d.Clock.Now()
		}
		d.Observer.LastGoodPass(last)
	}
	// Catch up once for every slot missed while down: they collapse into
	// one pass, which pays every eligible period once.
	if missed, last := d.Missed(); missed > 0 {
		d.Log.Info("signer: catching up missed runs", "missed_slots", missed, "last_completed_slot", last)
		d.safeTick(ctx, cl)
	}
	c.Start()
	d.Log.Info("signer: started", "schedule", d.Spec, "next", d.Schedule.Next(d.Clock.Now()).UTC().Format(time.RFC3339))
	<-ctx.Done()
	stop := c.Stop()
	select {
	case <-stop.Done():
	case <-time.After(d.StopTimeout):
		d.Log.Warn("signer: a pass did not finish within the stop timeout; exiting (resume is safe)", "stop_timeout", d.StopTimeout.String())
	}
	return nil
}

// safeTick is a tick outside cron (the catch-up), with the same recovery.
func (d *Daemon) safeTick(ctx context.Context, cl cron.Logger) {
	cron.NewChain(cron.Recover(cl)).Then(cron.FuncJob(func() { d.tick(ctx) })).Run()
}

// Tick runs one pass and records the slot it covers when it completes.
func (d *Daemon) Tick(ctx context.Context) { d.tick(ctx) }

func (d *Daemon) tick(ctx context.Context) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if ctx.Err() != nil {
		return
	}
	if d.Clock == nil {
		d.Clock = stage.SystemClock{}
	}
	slot := d.Clock.Now().UTC()
	start := time.Now()
	if err := d.Pass(ctx); err != nil {
		if d.Observer != nil {
			d.Observer.PassDone(false, d.Clock.Now())
		}
		d.Log.Error("signer: pass incomplete; the next run continues it", "error", err.Error(), "seconds", time.Since(start).Seconds())
		return
	}
	if d.Observer != nil {
		d.Observer.PassDone(true, d.Clock.Now())
	}
	if err := d.Slots.Save(slot); err != nil {
		d.Log.Warn("signer: save slot", "error", err.Error())
	}
	d.Log.Info("signer: pass complete", "seconds", time.Since(start).Seconds(), "next", d.Schedule.Next(d.Clock.Now()).UTC().Format(time.RFC3339))
}

// Missed counts scheduled slots after the last completed pass up to now.
// With no record the signer has never completed a pass: one catch-up.
func (d *Daemon) Missed() (int, string) {
	if d.Clock == nil {
		d.Clock = stage.SystemClock{}
	}
	last, ok := d.Slots.Last()
	if !ok {
		return 1, "never"
	}
	count := 0
	now := d.Clock.Now()
	for t := d.Schedule.Next(last); !t.After(now) && count < 10000; t = d.Schedule.Next(t) {
		count++
	}
	return count, last.UTC().Format(time.RFC3339)
}

// Pass pays every eligible period of dao once: an allocated period not yet
// planned is planned (and then waits for its approvals); an approved,
// unpaid one is run. It goes on with the next period after a period's
// failure, except when signing itself stopped (payout.ErrStopRun). ran,
// when set, is told of every period run (finance's report, whatever the
// outcome).
//
// obs, when set, is told of the DAO's payout totals once the pass has
// read every period's progress (a pass that could not read one reports
// nothing: the last totals stand).
func Pass(ctx context.Context, eng *payout.Engine, dao string, log *slog.Logger, ran func(ctx context.Context, period string), obs Observer) error {
	periods, err := eng.Store.Periods(ctx, dao)
	if err != nil {
		return err
	}
	var errs []error
	var tot Totals
	complete := true
	// after adds the period's progress once the pass is done with it.
	after := func(period string, st payout.Status, reread bool) {
		if reread {
			var err error
			if st, err = eng.Status(ctx, dao, period); err != nil {
				complete = false
				return
			}
		}
		tot.add(st)
	}
	for i, period := range periods {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		st, err := eng.Status(ctx, dao, period)
		if err != nil {
			errs = append(errs, err)
			complete = false
			continue
		}
		if st.Planned && st.AllPaid {
			after(period, st, false)
			continue
		}
		if !st.Planned {
			m, _, err := eng.Plan(ctx, dao, period, true)
			if err != nil {
				errs = append(errs, err)
				complete = false
				continue
			}
			log.Info("signer: period planned; waiting for approvals", "period", period, "manifest_sha256", m.SHA256, "intents", len(m.Intents))
			after(period, st, true)
			continue
		}
		if !st.Approved {
			log.Info("signer: period not approved yet", "period", period, "manifest_sha256", st.Manifest.SHA256, "approvers", st.Approvers)
			after(period, st, false)
			continue
		}
		if st.Sponsors.Approved && len(st.Approvers) < eng.Approval.Threshold {
			log.Info("signer: period approved by the sponsors' votes", "period", period, "manifest_sha256", st.Manifest.SHA256, "votes", st.Sponsors.Votes)
		}
		sum, err := eng.Run(ctx, dao, period, payout.RunOptions{ExpectSHA256: st.Manifest.SHA256})
		log.Info("signer: period run", "period", period, "paid", sum.Paid, "pending", sum.Pending, "failed", sum.Failed, "sent", sum.Sent, "reconciled", sum.Reconciled)
		if ran != nil {
			ran(ctx, period)
		}
		after(period, st, true)
		if err != nil {
			errs = append(errs, err)
			if errors.Is(err, payout.ErrStopRun) {
				complete = complete && i == len(periods)-1
				break
			}
		}
	}
	if obs != nil && complete && ctx.Err() == nil {
		obs.Payouts(dao, tot)
	}
	return errors.Join(errs...)
}

// Observer is the port the signer reports through.
type Observer interface {
	// LastGoodPass is the time of the last pass that completed, told
	// once at start (from the slot file; the start time when none).
	LastGoodPass(at time.Time)
	// PassDone is told of every pass: ok when it completed.
	PassDone(ok bool, at time.Time)
	// Payouts are the DAO's totals over every planned period after a pass.
	Payouts(dao string, t Totals)
}

// Totals are a DAO's payouts over its planned periods. An intent is
// pending until its result is paid (a failed one is sent again by the
// next run, so it counts as pending too, and in Failed).
type Totals struct {
	PaidIntents, PendingIntents, FailedIntents int64
	PaidE8s, PendingE8s, FailedE8s             int64
	// OldestPendingCreated is the created_at_time of the oldest pending
	// intent (its plan time); zero when none is pending.
	OldestPendingCreated time.Time
}

func (t *Totals) add(st payout.Status) {
	if !st.Planned {
		return
	}
	t.PaidIntents += int64(st.Paid)
	t.PaidE8s += st.PaidE8s
	t.FailedIntents += int64(st.Failed)
	t.FailedE8s += st.FailedE8s
	t.PendingIntents += int64(st.Pending + st.Failed)
	t.PendingE8s += st.PendingE8s + st.FailedE8s
	for _, in := range st.Manifest.Intents {
		if st.ResultsByID[in.IntentID].Status == schemas.PayoutPaid {
			continue
		}
		at := time.Unix(0, int64(in.CreatedAtNanos)).UTC()
		if t.OldestPendingCreated.IsZero() || at.Before(t.OldestPendingCreated) {
			t.OldestPendingCreated = at
		}
	}
}
