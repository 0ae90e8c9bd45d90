package payout_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aviate-labs/agent-go/identity"
	"github.com/aviate-labs/agent-go/principal"

	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/ops/icsim"
	rules "github.com/nodeshare/nodeshare/pipeline/payout"
	"github.com/nodeshare/nodeshare/pipeline/stage"
	"github.com/nodeshare/nodeshare/pipeline/stage/payout"
	"github.com/nodeshare/nodeshare/pipeline/stage/payout/payouttest"
	"github.com/nodeshare/nodeshare/schemas"
)

// simWorld is one schedule's world: the simulator in-process, a treasury,
// an in-memory store, and a clock the engine reads.
type simWorld struct {
	sim      *icsim.Server
	hs       *httptest.Server
	priv     ed25519.PrivateKey
	treasury ic.Account
	store    *payouttest.MemStore
	clock    atomic.Int64 // engine clock offset, ns
	dao      string
	period   string
	m        rules.Manifest
}

// dyingLedger refuses every call once its process is dead (after a crash
// point): a killed process sends nothing more.
type dyingLedger struct {
	payout.Ledger
	dead *atomic.Bool
}

var errDead = errors.New("process killed (simulated)")

func (d dyingLedger) Fee(ctx context.Context) (uint64, error) {
	if d.dead.Load() {
		return 0, &rules.CallError{Err: errDead}
	}
	return d.Ledger.Fee(ctx)
}

func (d dyingLedger) TreasuryBalance(ctx context.Context) (uint64, error) {
	if d.dead.Load() {
		return 0, &rules.CallError{Err: errDead}
	}
	return d.Ledger.TreasuryBalance(ctx)
}

func (d dyingLedger) Transfer(ctx context.Context, r rules.TransferRequest) (uint64, error) {
	if d.dead.Load() {
		return 0, &rules.CallError{Err: errDead}
	}
	return d.Ledger.Transfer(ctx, r)
}

func (d dyingLedger) QueryBlocks(ctx context.Context, start, length uint64) (rules.BlocksPage, error) {
	if d.dead.Load() {
		return rules.BlocksPage{}, &rules.CallError{Err: errDead}
	}
	return d.Ledger.QueryBlocks(ctx, start, length)
}

// crashIdentity signs with the treasury key; at the planned hit of
// after-sign it kills the process and fails the signature, so the signed
// request is never sent.
type crashIdentity struct {
	identity.Identity
	armed *atomic.Bool
	kill  func(point string) bool
}

func (c crashIdentity) Sign(msg []byte) ([]byte, error) {
	if c.armed.Load() && c.kill(payout.CrashAfterSign) {
		return nil, errDead
	}
	return c.Identity.Sign(msg)
}

// process runs one engine "process" against the world: crashPoint/crashAt
// say where it is killed (empty: never). It returns what the engine said.
func (w *simWorld) process(rng *rand.Rand, crashPoint string, crashAt int, maxTries int) error {
	var dead, armed atomic.Bool
	var hits atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	kill := func(p string) bool {
		if p == payout.PhaseSending {
			armed.Store(true)
		}
		if crashPoint == "" || p != crashPoint || dead.Load() {
			return dead.Load()
		}
		if hits.Add(1) == int64(crashAt) {
			dead.Store(true)
			w.store.Mu.Lock()
			w.store.Dead = true
			w.store.Mu.Unlock()
			cancel()
			return true
		}
		return false
	}
	pub := w.priv.Public().(ed25519.PublicKey)
	base, err := identity.NewEd25519Identity(pub, w.priv)
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	id := crashIdentity{Identity: base, armed: &armed, kill: kill}
	client, err := ic.New(ic.Config{URL: w.hs.URL, Identity: id, FetchRootKey: true, PollDelay: 5 * time.Millisecond, PollTimeout: 300 * time.Millisecond})
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	eng := &payout.Engine{
		Store: w.store, Ledger: dyingLedger{Ledger: ic.PayoutLedger{Client: client, Treasury: w.treasury}, dead: &dead}, Approval: testApproval, Verifier: ic.Verifier{},
		Concurrency: 1, MaxTries: maxTries, RetryWait: time.Millisecond,
		Clock: stage.ClockFunc(func() time.Time { return time.Now().Add(time.Duration(w.clock.Load())) }),
		Crash: func(p string) { kill(p) },
	}
	_, err = eng.Run(ctx, w.dao, w.period, payout.RunOptions{})
	w.store.Mu.Lock()
	w.store.Dead = false
	w.store.Mu.Unlock()
	return err
}

// checkLedger asserts the invariants that must hold at every moment: no
// intent is on the ledger twice, and every recorded "paid" names a block
// that moved exactly the intent. With final it also asserts that every
// intent is paid and the ledger moved exactly the manifest's totals.
func (w *simWorld) checkLedger(final bool) error {
	d := w.sim.Ledger()
	from := ic.LegacyAccountID(w.treasury).String()
	byMemo := map[string][]icsim.Block{}
	var amount, fee int64
	for _, b := range d.Blocks {
		if b.Op != icsim.OpTransfer || b.From != from {
			continue
		}
		if b.MemoHex == nil {
			return fmt.Errorf("block %d from the treasury without a memo", b.Index)
		}
		byMemo[*b.MemoHex] = append(byMemo[*b.MemoHex], b)
		amount += int64(b.AmountE8s)
		fee += int64(b.FeeE8s)
	}
	results, _ := w.store.Results(context.Background(), w.dao, w.period)
	for _, in := range w.m.Intents {
		bs := byMemo[in.MemoHex]
		if len(bs) > 1 {
			return fmt.Errorf("intent %s paid %d times on the ledger (blocks %d and %d)", in.IntentID, len(bs), bs[0].Index, bs[1].Index)
		}
		r, ok := results[in.IntentID]
		if ok && r.Status == schemas.PayoutPaid {
			if len(bs) != 1 || bs[0].Index != r.BlockIndex || bs[0].AmountE8s != uint64(in.AmountE8s) || bs[0].ToAccount != in.Recipient {
				return fmt.Errorf("intent %s recorded paid in block %d (%s), the ledger has %v", in.IntentID, r.BlockIndex, r.VerifiedBy, bs)
			}
		}
		if final && (!ok || r.Status != schemas.PayoutPaid) {
			return fmt.Errorf("intent %s not paid after the final resume: %+v", in.IntentID, r)
		}
	}
	if final && (amount != w.m.TotalAmountE8s || fee != w.m.TotalFeeE8s) {
		return fmt.Errorf("the ledger moved %d + fees %d, the manifest says %d + %d", amount, fee, w.m.TotalAmountE8s, w.m.TotalFeeE8s)
	}
	return nil
}

var simCrashPoints = []string{"", payout.CrashAfterAttempt, payout.CrashAfterSign, payout.CrashAfterSend, payout.CrashAfterResult}

// runSchedule runs one seeded schedule: a plan, then rounds of runs, each
// killed at a random point with random simulator and store faults and
// sometimes the ledger clock moved past the 24 h window, then fault-free
// resumes. It returns the first invariant violation.
func runSchedule(seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	sim, err := icsim.New(icsim.Options{CallMode: []icsim.CallMode{icsim.CallModeSync, icsim.CallModeAsync}[rng.IntN(2)]})
	if err != nil {
		return err
	}
	hs := httptest.NewServer(sim.Handler())
	defer hs.Close()
	keySeed := make([]byte, ed25519.SeedSize)
	for i := range keySeed {
		keySeed[i] = byte(rng.IntN(256))
	}
	w := &simWorld{sim: sim, hs: hs, priv: ed25519.NewKeyFromSeed(keySeed), dao: "sim-dao", period: "2026-11-01T06:00:00Z"}
	der := append(append([]byte{}, 0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00), w.priv.Public().(ed25519.PublicKey)...)
	w.treasury = ic.Account{Owner: principal.NewSelfAuthenticating(der)}
	ents, pools := payouttest.SimPeriod(rng, w.dao, w.period, 2+rng.IntN(5), int64(icsim.LedgerFeeE8s))
	w.store = payouttest.NewMemStore(ents, pools)
	eng := &payout.Engine{Store: w.store, Approval: testApproval, Verifier: ic.Verifier{}}
	if w.m, _, err = eng.Plan(context.Background(), w.dao, w.period, true); err != nil {
		return err
	}
	if _, _, err := eng.Approve(context.Background(), w.dao, w.period, w.m.SHA256, "demo", demoApprover); err != nil {
		return err
	}
	if _, err := sim.Mint(ic.AccountText(w.treasury), uint64(w.m.TotalAmountE8s+w.m.TotalFeeE8s)); err != nil {
		return err
	}
	rounds := 1 + rng.IntN(4)
	for r := 0; r < rounds; r++ {
		sim.SetFaults(icsim.Faults{
			FailAfterExecuteNext:       rng.IntN(3),
			FailBeforeExecuteNext:      rng.IntN(2),
			RejectNext:                 rng.IntN(2),
			TemporarilyUnavailableNext: rng.IntN(3),
		})
		p := rng.Float64()
		w.store.FailWrite = func(kind string) (bool, bool) {
			x := rng.Float64()
			return x < p*0.1, x > 1-p*0.1
		}
		if rng.IntN(4) == 0 {
			// The ledger's clock passes the window of every attempt so far;
			// the engine's clock follows it or not.
			sim.AdvanceClock(25 * time.Hour)
			if rng.IntN(2) == 0 {
				w.clock.Add(int64(25 * time.Hour))
			}
		}
		point := simCrashPoints[rng.IntN(len(simCrashPoints))]
		_ = w.process(rng, point, 1+rng.IntN(3), 1+rng.IntN(3))
		if err := w.checkLedger(false); err != nil {
			return fmt.Errorf("round %d (crash %q): %w", r, point, err)
		}
	}
	// Resume without faults, with the engine's clock in step with the
	// ledger's, until done (a bounded number of resumes).
	sim.SetFaults(icsim.Faults{})
	w.store.FailWrite = nil
	w.clock.Store(int64(sim.Ledger().NowNanos) - time.Now().UnixNano())
	var last error
	for i := 0; i < 3; i++ {
		if last = w.process(rng, "", 0, 5); last == nil {
			break
		}
	}
	if last != nil {
		return fmt.Errorf("final resume: %w", last)
	}
	return w.checkLedger(true)
}

// TestPayoutSimulation is the deterministic simulation: many seeded
// schedules of crashes (kill points: after a new attempt is durable, after
// signing, after the ledger answered before the result is recorded,
// mid-batch after a result), simulator faults (reply lost after execution,
// 503 before execution, transient rejects, throttling), store writes that
// fail before or after they apply, sync and async (poll) replies, and the
// ledger clock jumping past the 24 h window with or without the engine's
// clock. Invariants: no intent twice on the ledger at any time, every
// recorded payment matches its block, and after resuming everything is
// paid and the ledger moved exactly the manifest's totals.
//
// NODESHARE_SIM_SCHEDULES (default 1000; 200 under -race, 100 with -short) and
// NODESHARE_SIM_SEED (the first seed) reproduce a run; a failure prints
// its seed.
func TestPayoutSimulation(t *testing.T) {
	n := 1000
	if testing.Short() {
		n = 100
	} else if raceEnabled {
		// Under the race detector a schedule is about ten times slower; run
		// the full 1,000 without it: go test -run TestPayoutSimulation.
		n = 200
	}
	if v, err := strconv.Atoi(os.Getenv("NODESHARE_SIM_SCHEDULES")); err == nil && v > 0 {
		n = v
	}
	base := uint64(20261125)
	if v, err := strconv.ParseUint(os.Getenv("NODESHARE_SIM_SEED"), 10, 64); err == nil {
		base = v
	}
	// Schedules are independent (each has its own simulator, store and
	// random source), so they run on every core; one schedule is itself
	// sequential, so a seed replays the same way.
	start := time.Now()
	var failures atomic.Int64
	seeds := make(chan uint64)
	var wg sync.WaitGroup
	for w := 0; w < runtime.GOMAXPROCS(0); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seed := range seeds {
				if err := runSchedule(seed); err != nil {
					failures.Add(1)
					t.Errorf("seed %d: %v (replay: NODESHARE_SIM_SEED=%d NODESHARE_SIM_SCHEDULES=1 go test -run TestPayoutSimulation ./pipeline/stage/payout)", seed, err, seed)
				}
			}
		}()
	}
	for i := 0; i < n && failures.Load() < 5; i++ {
		seeds <- base + uint64(i)
	}
	close(seeds)
	wg.Wait()
	t.Logf("%d schedules from seed %d in %s", n, base, time.Since(start).Round(time.Millisecond))
}
