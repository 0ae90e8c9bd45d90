package main

import (
	"context"
	"crypto/ed25519"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aviate-labs/agent-go/identity"

	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/ops/icsim"
)

func testDaemon(t *testing.T, spec string, pass func(ctx context.Context) error) *signerDaemon {
	t.Helper()
	sched, err := parseSchedule(spec)
	if err != nil {
		t.Fatal(err)
	}
	return &signerDaemon{spec: spec, sched: sched, pass: pass, statePath: filepath.Join(t.TempDir(), "signer.slot"),
		log: slog.New(slog.DiscardHandler), now: time.Now, stopTimeout: 5 * time.Second}
}

// A panicking pass is recovered and the schedule goes on; passes never
// overlap, even right after a panic (PITFALLS R2, R3).
func TestSignerPanicAndOverlap(t *testing.T) {
	var calls, running, maxRunning atomic.Int64
	d := testDaemon(t, "@every 1s", func(ctx context.Context) error {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			m := maxRunning.Load()
			if n <= m || maxRunning.CompareAndSwap(m, n) {
				break
			}
		}
		if calls.Add(1) == 1 {
			panic("first pass panics")
		}
		time.Sleep(1500 * time.Millisecond) // longer than the interval
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5500*time.Millisecond)
	defer cancel()
	if err := d.run(ctx); err != nil {
		t.Fatal(err)
	}
	if c := calls.Load(); c < 3 {
		t.Fatalf("the schedule stopped after a panic: %d passes", c)
	}
	if m := maxRunning.Load(); m != 1 {
		t.Fatalf("passes overlapped: %d at once", m)
	}
}

// Missed slots are caught up once at start (R6); no record = one catch-up;
// an up-to-date record = none.
func TestSignerCatchUp(t *testing.T) {
	for _, c := range []struct {
		name string
		last *time.Time
		want int64
	}{
		{"three days down", ptr(time.Now().Add(-72 * time.Hour)), 1},
		{"never ran", nil, 1},
		{"up to date", ptr(time.Now()), 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			var calls atomic.Int64
			d := testDaemon(t, defaultSignerSchedule, func(ctx context.Context) error { calls.Add(1); return nil })
			if c.last != nil {
				if err := os.WriteFile(d.statePath, []byte(strconv.FormatInt(c.last.UnixNano(), 10)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if c.name == "three days down" {
				if n, _ := d.missed(); n < 3 {
					t.Fatalf("want >= 3 missed slots, got %d", n)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			if err := d.run(ctx); err != nil {
				t.Fatal(err)
			}
			if calls.Load() != c.want {
				t.Fatalf("want %d catch-up passes, got %d", c.want, calls.Load())
			}
			if c.want > 0 {
				if n, _ := d.missed(); n != 0 {
					t.Fatalf("after the catch-up %d slots are still missed", n)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

// Stop waits for a running pass only up to the stop timeout (R5).
func TestSignerStopDeadline(t *testing.T) {
	started := make(chan struct{})
	var once sync.Once
	d := testDaemon(t, "@every 1s", func(ctx context.Context) error {
		once.Do(func() { close(started) })
		time.Sleep(20 * time.Second) // ignores ctx, like a stuck call
		return nil
	})
	d.stopTimeout = 300 * time.Millisecond
	if err := os.WriteFile(d.statePath, []byte(strconv.FormatInt(time.Now().UnixNano(), 10)), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = d.run(ctx); close(done) }()
	<-started
	cancel()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("the daemon did not stop within its stop timeout")
	}
}

func TestSignerSchedule(t *testing.T) {
	s, err := parseSchedule("CRON_TZ=Asia/Tokyo 0 6 * * *")
	if err != nil {
		t.Fatal(err)
	}
	next := s.Next(time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)).UTC()
	if want := time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC); !next.Equal(want) {
		t.Fatalf("CRON_TZ not honoured: next %s, want %s", next, want)
	}
	s, _ = parseSchedule(defaultSignerSchedule)
	if next := s.Next(time.Date(2026, 11, 25, 7, 0, 0, 0, time.UTC)); !next.Equal(time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)) {
		t.Fatalf("default schedule: next %s", next)
	}
	if _, err := parseSchedule("0 0 6 * * *"); err == nil {
		t.Fatal("a 6-field spec was accepted")
	}
}

// A pass pays every planned, approved, unpaid period once, plans an
// unplanned one and leaves it waiting for approval; a second pass sends
// nothing new.
func TestSignerPassPaysEachPeriodOnce(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 5))
	entsA, poolsA := simPeriod(rng, "sig-dao", "2026-10-01", 3, int64(icsim.LedgerFeeE8s))
	entsB, poolsB := simPeriod(rng, "sig-dao", "2026-11-01", 4, int64(icsim.LedgerFeeE8s))
	store := newMemPayoutStore(append(entsA, entsB...), append(poolsA, poolsB...))
	sim, err := icsim.New(icsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim.Handler())
	defer hs.Close()
	_, priv, _ := ed25519.GenerateKey(nil)
	id, _ := identity.NewEd25519Identity(priv.Public().(ed25519.PublicKey), priv)
	client, err := ic.New(ic.Config{URL: hs.URL, Identity: id, FetchRootKey: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sim.Mint(ic.AccountText(ic.Account{Owner: id.Sender()}), 1<<50); err != nil {
		t.Fatal(err)
	}
	eng := &payoutEngine{store: store, ledger: client, treasury: ic.Account{Owner: id.Sender()}, approval: demoApproval, now: time.Now}
	mA, _, err := eng.plan(ctx, "sig-dao", "2026-10-01", true)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := eng.approve(ctx, "sig-dao", "2026-10-01", mA.SHA256, "demo"); err != nil {
		t.Fatal(err)
	}
	transfers := func() int {
		n := 0
		for _, b := range sim.Ledger().Blocks {
			if b.Op == icsim.OpTransfer {
				n++
			}
		}
		return n
	}
	log := slog.New(slog.DiscardHandler)
	if err := signerPassOver(ctx, eng, "sig-dao", log); err != nil {
		t.Fatal(err)
	}
	if transfers() != 3 {
		t.Fatalf("pass 1: %d transfers, want period A's 3", transfers())
	}
	stB, _ := eng.status(ctx, "sig-dao", "2026-11-01")
	if !stB.Planned || stB.Approved || stB.Paid != 0 {
		t.Fatalf("period B after pass 1: %+v", stB)
	}
	if _, _, err := eng.approve(ctx, "sig-dao", "2026-11-01", stB.Manifest.SHA256, "demo"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := signerPassOver(ctx, eng, "sig-dao", log); err != nil {
			t.Fatal(err)
		}
		if transfers() != 7 {
			t.Fatalf("pass %d: %d transfers, want 7", i+2, transfers())
		}
	}
}
