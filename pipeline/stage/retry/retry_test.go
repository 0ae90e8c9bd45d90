package retry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// brokerCode mimics a broker's error code as kafka-go reports it: a
// net.Error whose Temporary() says whether the same request may succeed.
type brokerCode struct {
	name string
	temp bool
}

func (e brokerCode) Error() string   { return e.name }
func (e brokerCode) Temporary() bool { return e.temp }
func (e brokerCode) Timeout() bool   { return false }

func TestClassify(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: &os.SyscallError{Syscall: "connect", Err: syscall.ECONNREFUSED}}
	cases := []struct {
		name string
		err  error
		want Class
	}{
		{"dial refused", refused, Transient},
		{"dial refused, wrapped twice", fmt.Errorf("kafka consumer g: handler: %w", fmt.Errorf("clickhouse: insert: %w", refused)), Transient},
		{"bare errno refused, wrapped", fmt.Errorf("write: %w", syscall.ECONNREFUSED), Transient},
		{"reset by peer", fmt.Errorf("read: %w", syscall.ECONNRESET), Transient},
		{"broken pipe", fmt.Errorf("write: %w", syscall.EPIPE), Transient},
		{"use of closed connection", fmt.Errorf("read: %w", net.ErrClosed), Transient},
		{"dns", &net.DNSError{Err: "no such host", Name: "kafka-1"}, Transient},
		{"broker: not enough replicas (temporary)", fmt.Errorf("publish: %w", brokerCode{"NotEnoughReplicas", true}), Transient},
		{"broker: message too large (permanent)", fmt.Errorf("publish: %w", brokerCode{"MessageSizeTooLarge", false}), Fatal},
		{"marked transient", MarkTransient(errors.New("x")), Transient},
		{"marked invalid", MarkInvalid(refused), Invalid},
		{"marked fatal over a connection error", MarkFatal(fmt.Errorf("tls: %w", refused)), Fatal},
		{"cancelled", fmt.Errorf("stop: %w", context.Canceled), Fatal},
		{"deadline", context.DeadlineExceeded, Fatal},
		{"plain error", errors.New("column 3: cannot convert"), Fatal},
		{"io.EOF is the connector's to mark", io.EOF, Fatal},
	}
	for _, c := range cases {
		if got := Classify(c.err); got != c.want {
			t.Errorf("%s: Classify(%v) = %s, want %s", c.name, c.err, got, c.want)
		}
	}
}

func TestSuperviseRidesOutTransientFailures(t *testing.T) {
	refused := fmt.Errorf("kafka consumer g: commit: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED})
	runs := 0
	err := Supervise(context.Background(), Daemon{Name: "test", Initial: time.Millisecond, Max: 2 * time.Millisecond}, func(context.Context) error {
		runs++
		if runs < 20 { // more than Do's default 5 tries: no limit while ctx lives
			return refused
		}
		return nil
	})
	if err != nil || runs != 20 {
		t.Fatalf("Supervise = %v after %d runs, want nil after 20", err, runs)
	}
}

func TestSuperviseStopsOnAFatalFailure(t *testing.T) {
	fatal := errors.New("clickhouse: insert into events_raw: column 3: cannot convert")
	runs := 0
	err := Supervise(context.Background(), Daemon{Name: "test", Initial: time.Millisecond}, func(context.Context) error {
		runs++
		if runs == 1 {
			return MarkTransient(errors.New("broker restarting"))
		}
		return fatal
	})
	if !errors.Is(err, fatal) || runs != 2 {
		t.Fatalf("Supervise = %v after %d runs, want the fatal error after 2", err, runs)
	}
}

func TestSuperviseReturnsNilWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	runs := 0
	err := Supervise(ctx, Daemon{Name: "test", Initial: time.Millisecond}, func(context.Context) error {
		runs++
		if runs == 3 {
			cancel()
		}
		return MarkTransient(errors.New("down"))
	})
	if err != nil || runs != 3 {
		t.Fatalf("Supervise = %v after %d runs, want nil after 3", err, runs)
	}
}
