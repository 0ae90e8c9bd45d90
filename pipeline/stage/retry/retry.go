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
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"syscall"
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
type fatalMarker interface{ IsFatal() bool }
type invalidMarker interface{ IsInvalid() bool }

// Classify sorts err. Marked errors take their mark (MarkFatal first); a cancelled or
// expired context is fatal (the caller is stopping); a failure to reach or
// keep a connection (connection refused, reset, broken pipe, a dial or
// read that failed: *net.OpError, a DNS failure, the errno anywhere in
// the chain, however wrapped) is transient; any other error that says it
// is temporary or a timeout (a net.Error, or a broker's error code that
// reports Temporary(), as kafka-go's NotEnoughReplicas, LeaderNotAvailable,
// NotLeaderForPartition or RequestTimedOut do) is transient; anything else
// is fatal (a broker's permanent error code, a refused query, a bug).
func Classify(err error) Class {
	if err == nil {
		return Fatal
	}
	var fm fatalMarker
	if errors.As(err, &fm) && fm.IsFatal() {
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
	if IsConnectionError(err) {
		return Transient
	}
	var tmp temporary
	if errors.As(err, &tmp) && tmp.Temporary() {
		return Transient
	}
	var to timeout
	if errors.As(err, &to) && to.Timeout() {
		return Transient
	}
	return Fatal
}

type temporary interface{ Temporary() bool }
type timeout interface{ Timeout() bool }

// connErrnos are the system errors of a peer that is gone or not there yet.
var connErrnos = []error{syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED, syscall.EPIPE,
	syscall.ETIMEDOUT, syscall.EHOSTUNREACH, syscall.ENETUNREACH, net.ErrClosed}

// IsConnectionError reports a failure to reach a server or to keep the
// connection to it (refused, reset, aborted, broken pipe, unreachable, a
// dial, read or write that failed, a name that did not resolve), found
// anywhere in err's chain. Such a failure says nothing about the request:
// the same request, sent again once the server is back, can succeed.
func IsConnectionError(err error) bool {
	if err == nil {
		return false
	}
	for _, target := range connErrnos {
		if errors.Is(err, target) {
			return true
		}
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return true
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

// IsTLSFailure reports a TLS handshake that failed: a certificate that
// does not verify, an alert from the server, a plaintext port. It travels
// as a connection error but is a setting to fix, not an outage: the
// connectors mark it fatal.
func IsTLSFailure(err error) bool {
	var (
		unknownCA x509.UnknownAuthorityError
		invalid   x509.CertificateInvalidError
		hostname  x509.HostnameError
		verify    *tls.CertificateVerificationError
		alert     tls.AlertError
		header    tls.RecordHeaderError
	)
	return errors.As(err, &unknownCA) || errors.As(err, &invalid) || errors.As(err, &hostname) ||
		errors.As(err, &verify) || errors.As(err, &alert) || errors.As(err, &header)
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
func (c *classed) IsFatal() bool     { return c.class == Fatal }

// MarkFatal marks err fatal whatever it wraps (nil stays nil): a refused
// login or a certificate that does not verify travels as a connection
// error, and retrying it cannot help.
func MarkFatal(err error) error {
	if err == nil {
		return nil
	}
	return &classed{err: err, class: Fatal}
}

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
