package payout_test

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aviate-labs/agent-go/identity"

	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/ops/icsim"
	"github.com/nodeshare/nodeshare/pipeline/entitle"
	rules "github.com/nodeshare/nodeshare/pipeline/payout"
	"github.com/nodeshare/nodeshare/pipeline/stage"
	"github.com/nodeshare/nodeshare/pipeline/stage/payout"
	"github.com/nodeshare/nodeshare/pipeline/stage/payout/payouttest"
	"github.com/nodeshare/nodeshare/schemas"
)

// refusalWorld is an in-process simulator, a funded treasury identity and a
// planned, approved period in an in-memory store.
type refusalWorld struct {
	sim    *icsim.Server
	client *ic.Client
	id     identity.Identity
	store  *payouttest.MemStore
	m      rules.Manifest
	dao    string
	period string
}

func newRefusalWorld(t *testing.T, seed uint64, n int, fee int64, mint func(need int64) int64, approve bool) *refusalWorld {
	t.Helper()
	return newRefusalWorldWith(t, seed, n, fee, mint, approve, nil)
}

// newRefusalWorldWith is newRefusalWorld with the period's entitlements and
// pool periods edited before they are planned.
func newRefusalWorldWith(t *testing.T, seed uint64, n int, fee int64, mint func(need int64) int64, approve bool,
	edit func([]schemas.Entitlement, []schemas.PoolPeriod)) *refusalWorld {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed))
	dao, period := "refusal-dao", "2026-11-01T06:00:00Z"
	ents, pools := payouttest.SimPeriod(rng, dao, period, n, fee)
	if edit != nil {
		edit(ents, pools)
	}
	return newRefusalWorldOf(t, dao, period, ents, pools, mint, approve)
}

// newRefusalWorldOf plans the period of these entitlements and pool
// periods (approved by "demo" when approve), and mints what mint says.
func newRefusalWorldOf(t *testing.T, dao, period string, ents []schemas.Entitlement, pools []schemas.PoolPeriod, mint func(need int64) int64, approve bool) *refusalWorld {
	t.Helper()
	sim, err := icsim.New(icsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(sim.Handler())
	t.Cleanup(hs.Close)
	_, priv, _ := ed25519.GenerateKey(nil)
	id, err := identity.NewEd25519Identity(priv.Public().(ed25519.PublicKey), priv)
	if err != nil {
		t.Fatal(err)
	}
	client, err := ic.New(ic.Config{URL: hs.URL, Identity: id, FetchRootKey: true, PollDelay: 10 * time.Millisecond, PollTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	w := &refusalWorld{sim: sim, client: client, id: id, dao: dao, period: period}
	w.store = payouttest.NewMemStore(ents, pools)
	eng := w.engine(nil)
	if w.m, _, err = eng.Plan(context.Background(), w.dao, w.period, true); err != nil {
		t.Fatal(err)
	}
	if approve {
		if _, _, err := eng.Approve(context.Background(), w.dao, w.period, w.m.SHA256, "demo", demoApprover); err != nil {
			t.Fatal(err)
		}
	}
	if amt := mint(w.m.TotalAmountE8s + w.m.TotalFeeE8s); amt > 0 {
		if _, err := sim.Mint(ic.AccountText(ic.Account{Owner: id.Sender()}), uint64(amt)); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

func (w *refusalWorld) engine(ledger payout.Ledger) *payout.Engine {
	if ledger == nil {
		ledger = w.ledger()
	}
	return &payout.Engine{Store: w.store, Ledger: ledger, Approval: testApproval, Verifier: ic.Verifier{},
		Concurrency: 1, MaxTries: 3, RetryWait: time.Millisecond}
}

// ledger is the simulator's ledger behind the payout port, the treasury
// being the world's identity.
func (w *refusalWorld) ledger() payout.Ledger {
	return ic.PayoutLedger{Client: w.client, Treasury: ic.Account{Owner: w.id.Sender()}}
}

// demoApprover is the one approver, "demo", of testApproval (threshold 1).
var (
	demoApprover = payouttest.NewApprover("demo")
	testApproval = payouttest.Approval(1, demoApprover)
)

func (w *refusalWorld) transfers() int {
	n := 0
	for _, b := range w.sim.Ledger().Blocks {
		if b.Op == icsim.OpTransfer {
			n++
		}
	}
	return n
}

func exactly(need int64) int64 { return need }

// staleLedger reports a fee and balance other than the ledger's own (a
// fee changed, or funds moved, between the checks and the transfers).
type staleLedger struct {
	payout.Ledger
	fee     uint64
	balance uint64
}

func (s staleLedger) Fee(ctx context.Context) (uint64, error) { return s.fee, nil }
func (s staleLedger) TreasuryBalance(ctx context.Context) (uint64, error) {
	return s.balance, nil
}

// Every refusal before the first signature: the run stops with a reason and
// the ledger holds no transfer.
func TestPayoutRefusesBeforeSigning(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name string
		// setup returns the engine to run; the world is fresh
		setup func(t *testing.T) (*refusalWorld, *payout.Engine, payout.RunOptions)
		want  string
	}{
		{"unapproved", func(t *testing.T) (*refusalWorld, *payout.Engine, payout.RunOptions) {
			w := newRefusalWorld(t, 1, 4, 10_000, exactly, false)
			return w, w.engine(nil), payout.RunOptions{}
		}, "is not approved"},
		{"approval of another hash", func(t *testing.T) (*refusalWorld, *payout.Engine, payout.RunOptions) {
			w := newRefusalWorld(t, 2, 4, 10_000, exactly, false)
			_ = w.store.SaveApproval(ctx, schemas.PayoutApproval{DAO: w.dao, Period: w.period, ManifestSHA256: strings.Repeat("0", 64), Approver: "demo", ApprovedAt: "2026-11-01T00:00:00Z"})
			return w, w.engine(nil), payout.RunOptions{}
		}, "is not approved"},
		{"approver outside the set", func(t *testing.T) (*refusalWorld, *payout.Engine, payout.RunOptions) {
			w := newRefusalWorld(t, 3, 4, 10_000, exactly, false)
			_ = w.store.SaveApproval(ctx, schemas.PayoutApproval{DAO: w.dao, Period: w.period, ManifestSHA256: w.m.SHA256, Approver: "mallory", ApprovedAt: "2026-11-01T00:00:00Z"})
			return w, w.engine(nil), payout.RunOptions{}
		}, "is not approved"},
		{"approval by name only (unsigned)", func(t *testing.T) (*refusalWorld, *payout.Engine, payout.RunOptions) {
			w := newRefusalWorld(t, 12, 4, 10_000, exactly, false)
			_ = w.store.SaveApproval(ctx, schemas.PayoutApproval{DAO: w.dao, Period: w.period, ManifestSHA256: w.m.SHA256, Approver: "demo", ApprovedAt: "2026-11-01T00:00:00Z"})
			return w, w.engine(nil), payout.RunOptions{}
		}, "approval by \"demo\" is not signed"},
		{"approval signed by a key outside the set", func(t *testing.T) (*refusalWorld, *payout.Engine, payout.RunOptions) {
			w := newRefusalWorld(t, 13, 4, 10_000, exactly, false)
			sig, _ := payouttest.NewApprover("mallory").Sign(ctx, schemas.PayoutApprovalMessage(w.dao, w.period, w.m.SHA256))
			_ = w.store.SaveApproval(ctx, schemas.PayoutApproval{DAO: w.dao, Period: w.period, ManifestSHA256: w.m.SHA256, Approver: "demo", ApprovedAt: "2026-11-01T00:00:00Z", Signature: hex.EncodeToString(sig)})
			return w, w.engine(nil), payout.RunOptions{}
		}, "signature not by the configured key of \"demo\""},
		{"expected hash differs", func(t *testing.T) (*refusalWorld, *payout.Engine, payout.RunOptions) {
			w := newRefusalWorld(t, 4, 4, 10_000, exactly, true)
			return w, w.engine(nil), payout.RunOptions{ExpectSHA256: strings.Repeat("a", 64)}
		}, "not the"},
		{"entitlements changed after planning", func(t *testing.T) (*refusalWorld, *payout.Engine, payout.RunOptions) {
			w := newRefusalWorld(t, 5, 4, 10_000, exactly, true)
			w.store.Ents[1].TransferE8s++
			w.store.Ents[1].OwedE8s++
			w.store.Ents[1].ShareE8s++
			w.store.Pools[0].GrossE8s++
			return w, w.engine(nil), payout.RunOptions{}
		}, "entitlements changed"},
		{"conservation", func(t *testing.T) (*refusalWorld, *payout.Engine, payout.RunOptions) {
			w := newRefusalWorld(t, 6, 4, 10_000, exactly, true)
			w.store.Pools[0].GrossE8s += 7
			return w, w.engine(nil), payout.RunOptions{}
		}, "conservation"},
		{"unknown recipient", func(t *testing.T) (*refusalWorld, *payout.Engine, payout.RunOptions) {
			w := newRefusalWorld(t, 7, 4, 10_000, exactly, true)
			w.store.Pools[0].InputJSON = `{"hoster":{"account":"aaaaa-aa"},"contributions":[]}`
			return w, w.engine(nil), payout.RunOptions{}
		}, "refusing to pay an unknown account"},
		{"per-recipient cap", func(t *testing.T) (*refusalWorld, *payout.Engine, payout.RunOptions) {
			w := newRefusalWorld(t, 8, 4, 10_000, exactly, true)
			e := w.engine(nil)
			e.Caps.MaxRecipientE8s = 1
			return w, e, payout.RunOptions{}
		}, "per-recipient cap"},
		{"per-run cap", func(t *testing.T) (*refusalWorld, *payout.Engine, payout.RunOptions) {
			w := newRefusalWorld(t, 9, 4, 10_000, exactly, true)
			e := w.engine(nil)
			e.Caps.MaxRunE8s = w.m.TotalAmountE8s
			return w, e, payout.RunOptions{}
		}, "per-run cap"},
		{"treasury short", func(t *testing.T) (*refusalWorld, *payout.Engine, payout.RunOptions) {
			w := newRefusalWorld(t, 10, 4, 10_000, func(need int64) int64 { return need - 1 }, true)
			return w, w.engine(nil), payout.RunOptions{}
		}, "pending transfers need"},
		{"fee changed since planning", func(t *testing.T) (*refusalWorld, *payout.Engine, payout.RunOptions) {
			// Planned when the fee was 20,000 e8s; the ledger now charges 10,000.
			w := newRefusalWorld(t, 11, 4, 20_000, exactly, true)
			return w, w.engine(nil), payout.RunOptions{}
		}, "the ledger fee is now 10000"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w, e, opt := c.setup(t)
			sum, err := e.Run(ctx, w.dao, w.period, opt)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want an error containing %q, got %v", c.want, err)
			}
			if !strings.Contains(err.Error(), "nothing signed") {
				t.Errorf("the error must say nothing was signed: %v", err)
			}
			if n := w.transfers(); n != 0 || sum.Sent != 0 {
				t.Fatalf("%d transfers on the ledger, %d sent: a refused run must sign nothing", n, sum.Sent)
			}
		})
	}
}

// InsufficientFunds at the ledger (the balance moved after the check):
// the intent is failed (nothing moved), the run stops signing, and a resume
// after a top-up pays everything once.
func TestPayoutInsufficientFundsStopsThenResumes(t *testing.T) {
	ctx := context.Background()
	w := newRefusalWorld(t, 20, 5, 10_000, func(need int64) int64 { return need / 3 }, true)
	e := w.engine(staleLedger{Ledger: w.ledger(), fee: 10_000, balance: 1 << 62})
	sum, err := e.Run(ctx, w.dao, w.period, payout.RunOptions{})
	if err == nil || !errors.Is(err, payout.ErrStopRun) || !strings.Contains(err.Error(), "InsufficientFunds") {
		t.Fatalf("want a stop on InsufficientFunds, got %v", err)
	}
	if sum.Failed != 1 || sum.Paid+sum.Failed+sum.Pending != len(w.m.Intents) {
		t.Fatalf("want exactly one failed intent and the rest untouched: %+v", sum)
	}
	paidBefore := sum.Paid
	if _, err := w.sim.Mint(ic.AccountText(ic.Account{Owner: w.id.Sender()}), uint64(w.m.TotalAmountE8s+w.m.TotalFeeE8s)); err != nil {
		t.Fatal(err)
	}
	sum, err = w.engine(nil).Run(ctx, w.dao, w.period, payout.RunOptions{})
	if err != nil || sum.Paid != len(w.m.Intents) || sum.Skipped != paidBefore {
		t.Fatalf("resume after top-up: %v %+v", err, sum)
	}
	if n := w.transfers(); n != len(w.m.Intents) {
		t.Fatalf("%d transfers for %d intents", n, len(w.m.Intents))
	}
}

// Throttling (TemporarilyUnavailable): retried with the same arguments a
// few times, then left pending (nothing moved); resume pays.
func TestPayoutThrottlingLeavesPending(t *testing.T) {
	ctx := context.Background()
	w := newRefusalWorld(t, 21, 3, 10_000, exactly, true)
	w.sim.SetFaults(icsim.Faults{TemporarilyUnavailableNext: 1000})
	sum, err := w.engine(nil).Run(ctx, w.dao, w.period, payout.RunOptions{})
	if err == nil || sum.Paid != 0 || sum.Pending != len(w.m.Intents) || sum.Failed != 0 {
		t.Fatalf("want every intent pending under throttling: %v %+v", err, sum)
	}
	if r := w.store.ResultsBy[w.m.Intents[0].IntentID]; r.Status != schemas.PayoutPending || !strings.Contains(r.Error, "TemporarilyUnavailable") {
		t.Fatalf("result: %+v", r)
	}
	w.sim.SetFaults(icsim.Faults{})
	sum, err = w.engine(nil).Run(ctx, w.dao, w.period, payout.RunOptions{})
	if err != nil || sum.Paid != len(w.m.Intents) || w.transfers() != len(w.m.Intents) {
		t.Fatalf("resume: %v %+v, %d transfers", err, sum, w.transfers())
	}
}

// BadFee at the ledger (the fee changed between the check and the
// transfer): the intent is failed with the expected fee, nothing moved,
// the run stops; a resume refuses before signing until the period is
// re-planned with the new fee.
func TestPayoutBadFeeStops(t *testing.T) {
	ctx := context.Background()
	w := newRefusalWorld(t, 22, 3, 20_000, exactly, true)
	sum, err := w.engine(staleLedger{Ledger: w.ledger(), fee: 20_000, balance: 1 << 62}).Run(ctx, w.dao, w.period, payout.RunOptions{})
	if err == nil || !errors.Is(err, payout.ErrStopRun) || !strings.Contains(err.Error(), "BadFee") || sum.Failed != 1 || sum.Sent != 1 {
		t.Fatalf("want a stop after one BadFee: %v %+v", err, sum)
	}
	if w.transfers() != 0 {
		t.Fatal("a BadFee moved money")
	}
	_, err = w.engine(nil).Run(ctx, w.dao, w.period, payout.RunOptions{})
	if err == nil || !strings.Contains(err.Error(), "the ledger fee is now 10000") || !strings.Contains(err.Error(), "nothing signed") {
		t.Fatalf("resume must refuse before signing: %v", err)
	}
}

// A lost reply (executed, 503) is never recorded as failed: it is retried
// with the same created_at_time and memo and the ledger's Duplicate names
// the block; with no retries left it stays pending, and resume settles it.
func TestPayoutLostReplyIsPendingNotFailed(t *testing.T) {
	ctx := context.Background()
	w := newRefusalWorld(t, 23, 2, 10_000, func(need int64) int64 { return 2 * need }, true)
	w.sim.SetFaults(icsim.Faults{FailAfterExecuteNext: 1})
	e := w.engine(nil)
	e.MaxTries = 1
	sum, err := e.Run(ctx, w.dao, w.period, payout.RunOptions{})
	if err == nil || sum.Pending != 1 || sum.Failed != 0 || sum.Paid != 1 {
		t.Fatalf("want one pending (outcome unknown) and one paid: %v %+v", err, sum)
	}
	sum, err = w.engine(nil).Run(ctx, w.dao, w.period, payout.RunOptions{})
	if err != nil || sum.Paid != 2 || w.transfers() != 2 {
		t.Fatalf("resume: %v %+v, %d transfers", err, sum, w.transfers())
	}
	dups := 0
	for _, r := range w.store.ResultsBy {
		if r.Duplicate {
			dups++
		}
	}
	if dups != 1 {
		t.Fatalf("want the lost reply settled by the ledger's Duplicate, got %d duplicates", dups)
	}
}

// Re-planning returns the stored manifest: same hash, same created_at_time.
func TestPayoutPlanIsWrittenOnce(t *testing.T) {
	ctx := context.Background()
	w := newRefusalWorld(t, 24, 3, 10_000, exactly, false)
	e := w.engine(nil)
	e.Clock = stage.ClockFunc(func() time.Time { return time.Now().Add(time.Hour) })
	again, created, err := e.Plan(ctx, w.dao, w.period, true)
	if err != nil || created || again.SHA256 != w.m.SHA256 || again.Intents[0].CreatedAtNanos != w.m.Intents[0].CreatedAtNanos {
		t.Fatalf("re-plan: %v created=%v %s vs %s", err, created, again.SHA256, w.m.SHA256)
	}
	if len(again.InputHashes) != 1 || again.RulesVersion != "v1" {
		t.Fatalf("manifest lacks inputs: %+v", again.InputHashes)
	}
}

// A plan stored before manifest headers existed (v1: intents only) is
// still approved by its hash and paid.
func TestPayoutLegacyV1Plan(t *testing.T) {
	ctx := context.Background()
	w := newRefusalWorld(t, 25, 3, 10_000, exactly, false)
	// Replace the stored v2 plan by the v1 plan of the same entitlements.
	v1, err := rules.Plan(w.dao, w.period, w.store.Ents, w.m.CreatedAtNanos)
	if err != nil {
		t.Fatal(err)
	}
	delete(w.store.Manifests, payouttest.Key(w.dao, w.period))
	w.store.IntentsBy[payouttest.Key(w.dao, w.period)] = v1.Intents
	e := w.engine(nil)
	again, created, err := e.Plan(ctx, w.dao, w.period, true)
	if err != nil || created || again.SHA256 != v1.SHA256 {
		t.Fatalf("re-plan of a v1 plan: %v created=%v", err, created)
	}
	if _, _, err := e.Approve(ctx, w.dao, w.period, v1.SHA256, "demo", demoApprover); err != nil {
		t.Fatal(err)
	}
	sum, err := e.Run(ctx, w.dao, w.period, payout.RunOptions{ExpectSHA256: v1.SHA256})
	if err != nil || sum.Paid != len(v1.Intents) {
		t.Fatalf("run: %v %+v", err, sum)
	}
}

// Sponsors known only by the legacy account identifier their deposit came
// from are paid back to it with the ledger's legacy transfer method: the
// block carries the intent's memo folded into a nat64, the ledger
// de-duplicates a resend, and a run past the 24 h window that lost its
// results finds every such transfer in the blocks instead of paying twice.
func TestPayoutToLegacyAccountIDs(t *testing.T) {
	ctx := context.Background()
	legacy := map[string]bool{}
	w := newRefusalWorldWith(t, 31, 5, 10_000, func(need int64) int64 { return 2 * need }, true, func(ents []schemas.Entitlement, pools []schemas.PoolPeriod) {
		for i := range ents {
			if ents[i].Role != entitle.RoleSponsor || i%2 == 0 {
				continue
			}
			id, err := ic.PayoutLedger{}.AccountID(ents[i].Recipient)
			if err != nil {
				t.Fatal(err)
			}
			hexID := hex.EncodeToString(id[:])
			pools[0].InputJSON = strings.ReplaceAll(pools[0].InputJSON, ents[i].Recipient, hexID)
			ents[i].Recipient = hexID
			legacy[hexID] = true
		}
	})
	if len(legacy) == 0 {
		t.Fatal("test bug: no legacy recipient")
	}
	sum, err := w.engine(nil).Run(ctx, w.dao, w.period, payout.RunOptions{})
	if err != nil || sum.Paid != len(w.m.Intents) {
		t.Fatalf("run: %v %+v", err, sum)
	}
	byIntent := map[string]icsim.Block{}
	for _, in := range w.m.Intents {
		memo, _ := hex.DecodeString(in.MemoHex)
		for _, b := range w.sim.Ledger().Blocks {
			if b.Op != icsim.OpTransfer || b.AmountE8s != uint64(in.AmountE8s) {
				continue
			}
			if legacy[in.Recipient] && b.MemoHex == nil && b.LegacyMemo == rules.LegacyMemo(memo) && b.To == in.Recipient {
				byIntent[in.IntentID] = b
			}
			if !legacy[in.Recipient] && b.MemoHex != nil && *b.MemoHex == in.MemoHex {
				byIntent[in.IntentID] = b
			}
		}
		if _, ok := byIntent[in.IntentID]; !ok {
			t.Fatalf("intent %s to %s (legacy %v) is not on the ledger as expected", in.IntentID, in.Recipient, legacy[in.Recipient])
		}
	}
	// Lose every result, move past the window: the blocks settle them all.
	w.store.Mu.Lock()
	w.store.ResultsBy = map[string]schemas.PayoutResult{}
	w.store.Mu.Unlock()
	w.sim.AdvanceClock(25 * time.Hour)
	e := w.engine(nil)
	e.Clock = stage.ClockFunc(func() time.Time { return time.Now().Add(25 * time.Hour) })
	before := w.transfers()
	sum, err = e.Run(ctx, w.dao, w.period, payout.RunOptions{})
	if err != nil || sum.Paid != len(w.m.Intents) || sum.Reconciled != len(w.m.Intents) || w.transfers() != before {
		t.Fatalf("after the window: %v %+v, transfers %d -> %d", err, sum, before, w.transfers())
	}
}

// A result that cannot be made durable (the event log or the tables down)
// stops the run: nothing more is signed; a resume once the store is back
// settles the transfer from the ledger (Duplicate) and pays the rest, each
// once.
func TestPayoutStopsWhenAResultCannotBeRecorded(t *testing.T) {
	ctx := context.Background()
	w := newRefusalWorld(t, 41, 12, 10_000, func(need int64) int64 { return 2 * need }, true)
	w.store.Mu.Lock()
	w.store.FailWrite = func(kind string) (bool, bool) { return kind == "result", false }
	w.store.Mu.Unlock()
	e := w.engine(nil) // one transfer in flight at a time
	sum, err := e.Run(ctx, w.dao, w.period, payout.RunOptions{})
	if err == nil || !errors.Is(err, payout.ErrStopRun) || !strings.Contains(err.Error(), "not durable") || sum.Sent != 1 {
		t.Fatalf("want a stop after the first unrecorded result: %v %+v", err, sum)
	}
	if n := w.transfers(); n != 1 {
		t.Fatalf("%d transfers signed and sent while results could not be recorded, want 1", n)
	}
	w.store.Mu.Lock()
	w.store.FailWrite = nil
	w.store.Mu.Unlock()
	sum, err = w.engine(nil).Run(ctx, w.dao, w.period, payout.RunOptions{})
	if err != nil || sum.Paid != len(w.m.Intents) || w.transfers() != len(w.m.Intents) {
		t.Fatalf("resume: %v %+v, %d transfers for %d intents", err, sum, w.transfers(), len(w.m.Intents))
	}
}
