package signer_test

import (
	"context"
	"crypto/ed25519"
	"log/slog"
	"math/rand/v2"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aviate-labs/agent-go/identity"

	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/ops/icsim"
	"github.com/nodeshare/nodeshare/pipeline/stage/payout"
	"github.com/nodeshare/nodeshare/pipeline/stage/payout/payouttest"
	"github.com/nodeshare/nodeshare/pipeline/stage/signer"
)

// memSlots keeps the last completed slot in memory.
type memSlots struct {
	mu   sync.Mutex
	last *time.Time
}

func (m *memSlots) Last() (time.Time, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.last == nil {
		return time.Time{}, false
	}
	return *m.last, true
}

func (m *memSlots) Save(slot time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.last = &slot
	return nil
}

func testDaemon(t *testing.T, spec string, pass func(ctx context.Context) error) (*signer.Daemon, *memSlots) {
	t.Helper()
	sched, err := signer.ParseSchedule(spec)
	if err != nil {
		t.Fatal(err)
	}
	slots := &memSlots{}
	return &signer.Daemon{Spec: spec, Schedule: sched, Pass: pass, Slots: slots,
		Log: slog.New(slog.DiscardHandler), StopTimeout: 5 * time.Second}, slots
}

// A panicking pass is recovered and the schedule goes on; passes never
// overlap, even right after a panic (docs/pitfalls.md R2, R3).
func TestSignerPanicAndOverlap(t *testing.T) {
	var calls, running, maxRunning atomic.Int64
	d, _ := testDaemon(t, "@every 1s", func(ctx context.Context) error {
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
	if err := d.Run(ctx); err != nil {
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
			d, slots := testDaemon(t, signer.DefaultSchedule, func(ctx context.Context) error { calls.Add(1); return nil })
			if c.last != nil {
				_ = slots.Save(*c.last)
			}
			if c.name == "three days down" {
				if n, _ := d.Missed(); n < 3 {
					t.Fatalf("want >= 3 missed slots, got %d", n)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			if err := d.Run(ctx); err != nil {
				t.Fatal(err)
			}
			if calls.Load() != c.want {
				t.Fatalf("want %d catch-up passes, got %d", c.want, calls.Load())
			}
			if c.want > 0 {
				if n, _ := d.Missed(); n != 0 {
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
	d, slots := testDaemon(t, "@every 1s", func(ctx context.Context) error {
		once.Do(func() { close(started) })
		time.Sleep(20 * time.Second) // ignores ctx, like a stuck call
		return nil
	})
	d.StopTimeout = 300 * time.Millisecond
	_ = slots.Save(time.Now())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = d.Run(ctx); close(done) }()
	<-started
	cancel()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("the daemon did not stop within its stop timeout")
	}
}

func TestSignerSchedule(t *testing.T) {
	s, err := signer.ParseSchedule("CRON_TZ=Asia/Tokyo 0 6 * * *")
	if err != nil {
		t.Fatal(err)
	}
	next := s.Next(time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)).UTC()
	if want := time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC); !next.Equal(want) {
		t.Fatalf("CRON_TZ not honoured: next %s, want %s", next, want)
	}
	s, _ = signer.ParseSchedule(signer.DefaultSchedule)
	if next := s.Next(time.Date(2026, 11, 25, 7, 0, 0, 0, time.UTC)); !next.Equal(time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)) {
		t.Fatalf("default schedule: next %s", next)
	}
	if _, err := signer.ParseSchedule("0 0 6 * * *"); err == nil {
		t.Fatal("a 6-field spec was accepted")
	}
}

// A pass pays every planned, approved, unpaid period once, plans an
// unplanned one and leaves it waiting for approval; a second pass sends
// nothing new.
func TestSignerPassPaysEachPeriodOnce(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(5, 5))
	entsA, poolsA := payouttest.SimPeriod(rng, "sig-dao", "2026-10-01", 3, int64(icsim.LedgerFeeE8s))
	entsB, poolsB := payouttest.SimPeriod(rng, "sig-dao", "2026-11-01", 4, int64(icsim.LedgerFeeE8s))
	store := payouttest.NewMemStore(append(entsA, entsB...), append(poolsA, poolsB...))
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
	demo := payouttest.NewApprover("demo")
	eng := &payout.Engine{Store: store, Ledger: ic.PayoutLedger{Client: client, Treasury: ic.Account{Owner: id.Sender()}}, Approval: payouttest.Approval(1, demo), Verifier: ic.Verifier{}}
	mA, _, err := eng.Plan(ctx, "sig-dao", "2026-10-01", true)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := eng.Approve(ctx, "sig-dao", "2026-10-01", mA.SHA256, "demo", demo); err != nil {
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
	obs := &totalsSeen{}
	if err := signer.Pass(ctx, eng, "sig-dao", log, nil, obs); err != nil {
		t.Fatal(err)
	}
	if transfers() != 3 {
		t.Fatalf("pass 1: %d transfers, want period A's 3", transfers())
	}
	stB, _ := eng.Status(ctx, "sig-dao", "2026-11-01")
	if !stB.Planned || stB.Approved || stB.Paid != 0 {
		t.Fatalf("period B after pass 1: %+v", stB)
	}
	// The totals after pass 1: A paid, B planned and pending since its
	// earliest intent's created_at_time.
	oldest := time.Unix(0, int64(stB.Manifest.Intents[0].CreatedAtNanos)).UTC()
	for _, in := range stB.Manifest.Intents {
		if at := time.Unix(0, int64(in.CreatedAtNanos)).UTC(); at.Before(oldest) {
			oldest = at
		}
	}
	stA, _ := eng.Status(ctx, "sig-dao", "2026-10-01")
	want := signer.Totals{PaidIntents: 3, PaidE8s: stA.PaidE8s, PendingIntents: 4, PendingE8s: stB.PendingE8s, OldestPendingCreated: oldest}
	if obs.dao != "sig-dao" || obs.t != want || stA.PaidE8s <= 0 || stB.PendingE8s <= 0 {
		t.Fatalf("totals after pass 1: %s %+v, want %+v", obs.dao, obs.t, want)
	}
	if _, _, err := eng.Approve(ctx, "sig-dao", "2026-11-01", stB.Manifest.SHA256, "demo", demo); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		if err := signer.Pass(ctx, eng, "sig-dao", log, nil, nil); err != nil {
			t.Fatal(err)
		}
		if transfers() != 7 {
			t.Fatalf("pass %d: %d transfers, want 7", i+2, transfers())
		}
	}
	if err := signer.Pass(ctx, eng, "sig-dao", log, nil, obs); err != nil {
		t.Fatal(err)
	}
	if want := (signer.Totals{PaidIntents: 7, PaidE8s: stA.PaidE8s + stB.PendingE8s}); obs.t != want {
		t.Fatalf("totals once all is paid: %+v, want %+v", obs.t, want)
	}
}

// totalsSeen is a signer.Observer that keeps the last totals.
type totalsSeen struct {
	dao string
	t   signer.Totals
}

func (o *totalsSeen) LastGoodPass(time.Time)   {}
func (o *totalsSeen) PassDone(bool, time.Time) {}
func (o *totalsSeen) Payouts(dao string, t signer.Totals) {
	o.dao, o.t = dao, t
}
