// Package retry is nodeshare's one retry policy: every loop that repeats an
// idempotent step after a failure (a Kafka read, a ClickHouse insert, an IC
// call, a dashboard fetch, a ledger transfer resend) runs through Do, and
// every error is sorted by one classifier into transient (retry with
// exponential backoff and jitter), invalid (the input is wrong: retrying
// cannot help, dead-letter it) or fatal (stop and tell a person).
//
// Backoff and jitter come from github.com/cenkalti/backoff/v4 (already in
// the module graph through clickhouse-go), not from hand-written loops.
//
// Errors opt in to a class without importing this package: an error (or
// one it wraps) with a method `IsTransient() bool` returning true is
// transient, one with `IsInvalid() bool` returning true is invalid. The
// connectors mark their errors this way; Transient and Invalid wrap any
// error into a class.
package retry

import (
	"context"
	"errors"
	"net"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Class is what a failure means for the step that failed.
type Class int

const (
	// Fatal: stop, do not retry, surface to a person (the default for an
	// error nobody classified: never retry what is not known to be safe).
	Fatal Class = iota
	// Transient: the same step, repeated later, can succeed.
	Transient
	// Invalid: the input is wrong; retrying cannot help. A stream
	// dead-letters the record with the reason and goes on.
	Invalid
)

func (c Class) String() string {
	switch c {
	case Transient:
		return "transient"
	case Invalid:
		return "invalid"
	}
	return "fatal"
}

type transientMarker interface{ IsTransient() bool }
type invalidMarker interface{ IsInvalid() bool }

// Classify sorts err. A cancelled or expired context is fatal (the caller
// is stopping); marked errors take their mark; a network error is
// transient; anything else is fatal.
func Classify(err error) Class {
	if err == nil {
		return Fatal
	}
	var inv invalidMarker
	if errors.As(err, &inv) && inv.IsInvalid() {
		return Invalid
	}
	var tr transientMarker
	if errors.As(err, &tr) && tr.IsTransient() {
		return Transient
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return Fatal
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return Transient
	}
	return Fatal
}

// IsTransient reports whether Classify(err) is Transient.
func IsTransient(err error) bool { return err != nil && Classify(err) == Transient }

// IsInvalid reports whether Classify(err) is Invalid.
func IsInvalid(err error) bool { return err != nil && Classify(err) == Invalid }

type classed struct {
	err   error
	class Class
}

func (c *classed) Error() string     { return c.err.Error() }
func (c *classed) Unwrap() error     { return c.err }
func (c *classed) IsTransient() bool { return c.class == Transient }
func (c *classed) IsInvalid() bool   { return c.class == Invalid }

// MarkTransient marks err transient (nil stays nil).
func MarkTransient(err error) error {
	if err == nil {
		return nil
	}
	return &classed{err: err, class: Transient}
}

// MarkInvalid marks err invalid input (nil stays nil).
func MarkInvalid(err error) error {
	if err == nil {
		return nil
	}
	return &classed{err: err, class: Invalid}
}

// Policy bounds one retry loop. The zero value is usable: 5 tries, 200 ms
// first wait, doubling with ±50% jitter, waits capped at 30 s.
type Policy struct {
	// Tries is the most calls of the step, the first included (default 5).
	Tries int
	// Initial is the first wait (default 200 ms); waits double up to Max
	// (default 30 s), each randomised by ±50% so that many clients that
	// failed together do not retry together.
	Initial, Max time.Duration
	// Classify decides what a failure means (default the package's
	// Classify). A step whose every failure is safe to repeat (an
	// idempotent insert with a de-duplication token) may say so here.
	Classify func(error) Class
	// OnRetry, when set, is told of each failure that will be retried.
	OnRetry func(err error, try int, wait time.Duration)
}

// Always classifies every failure as transient: for idempotent steps
// against one store, where any failure may be the store restarting.
func Always(error) Class { return Transient }

// Do calls step until it succeeds, fails with a non-transient error, the
// tries are used up or ctx ends. It returns step's last error (wrapped in
// nothing: callers see the connector's own error).
func Do(ctx context.Context, p Policy, step func(context.Context) error) error {
	tries := p.Tries
	if tries <= 0 {
		tries = 5
	}
	classify := p.Classify
	if classify == nil {
		classify = Classify
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = orDefault(p.Initial, 200*time.Millisecond)
	b.MaxInterval = orDefault(p.Max, 30*time.Second)
	b.RandomizationFactor = 0.5
	b.Multiplier = 2
	b.MaxElapsedTime = 0 // bounded by tries and ctx, not by a wall clock
	b.Reset()
	var last error
	try := 0
	op := func() error {
		try++
		err := step(ctx)
		last = err
		if err == nil {
			return nil
		}
		if classify(err) != Transient || ctx.Err() != nil {
			return backoff.Permanent(err)
		}
		return err
	}
	notify := func(err error, wait time.Duration) {
		if p.OnRetry != nil {
			p.OnRetry(err, try, wait)
		}
	}
	bo := backoff.WithContext(backoff.WithMaxRetries(b, uint64(tries-1)), ctx)
	if err := backoff.RetryNotify(op, bo, notify); err != nil {
		if last != nil {
			return last
		}
		return err
	}
	return nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}
