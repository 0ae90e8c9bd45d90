package retry

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Daemon says how Supervise keeps a long-running loop (a consumer group,
// the sink) alive through an outage of a service it needs.
type Daemon struct {
	// Name names the loop in the log lines ("processor", "sink").
	Name string
	// Logger receives one warning when an outage begins (with its reason),
	// one when the reason changes, and one line when the loop is back.
	Logger *slog.Logger
	// Initial is the first wait (default 1 s); waits double, each
	// randomised by ±50%, up to Max (default 30 s).
	Initial, Max time.Duration
	// Healthy is how long a run must last to count as recovered (default
	// 30 s): the waits start again from Initial at the next failure.
	Healthy time.Duration
}

// Supervise runs run until ctx ends (then it returns nil) or run fails
// with an error Classify does not call transient (returned as it is). A
// transient failure (Kafka or ClickHouse refusing connections, a broker
// without a leader, a commit that timed out) starts run again after a
// capped, jittered wait, with no limit on the tries while ctx lives: the
// daemon rides out a restart of the service and carries on. run must be
// safe to start again after any failure: the stages are (they commit
// offsets only after their effects are durable, and every effect is
// idempotent), so a batch cut short is delivered and applied again.
func Supervise(ctx context.Context, d Daemon, run func(context.Context) error) error {
	log := d.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	healthy := orDefault(d.Healthy, 30*time.Second)
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = orDefault(d.Initial, time.Second)
	b.MaxInterval = orDefault(d.Max, 30*time.Second)
	b.RandomizationFactor = 0.5
	b.Multiplier = 2
	b.MaxElapsedTime = 0
	b.Reset()
	failures := 0 // of the current outage
	lastReason := ""
	for {
		var recovered atomic.Bool
		var timer *time.Timer
		if failures > 0 {
			n := failures
			timer = time.AfterFunc(healthy, func() {
				recovered.Store(true)
				log.Info(d.Name+" running again after a transient failure", "failures", n)
			})
		}
		err := run(ctx)
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			return nil
		}
		if Classify(err) != Transient {
			return err
		}
		if recovered.Load() {
			failures, lastReason = 0, ""
			b.Reset()
		}
		failures++
		wait := b.NextBackOff()
		reason := err.Error()
		switch {
		case failures == 1:
			log.Warn(d.Name+" stopped by a transient failure; retrying until the service is back", "reason", reason, "wait", wait.String())
		case reason != lastReason:
			log.Warn(d.Name+" still failing, for another reason", "reason", reason, "failures", failures, "wait", wait.String())
		default:
			log.Debug(d.Name+" still failing", "failures", failures, "wait", wait.String())
		}
		lastReason = reason
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}
