package payout_test

import (
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aviate-labs/agent-go/identity"

	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/ops/icsim"
	rules "github.com/nodeshare/nodeshare/pipeline/payout"
	"github.com/nodeshare/nodeshare/pipeline/stage"
	"github.com/nodeshare/nodeshare/pipeline/stage/payout"
	"github.com/nodeshare/nodeshare/pipeline/stage/payout/payouttest"
	"github.com/nodeshare/nodeshare/schemas"
)

// lifecycleWorld is an in-process simulator, the DAO's treasury identity
// and one pool whose deposit and bond subaccounts hold ICP, with the
// pool's lifecycle transfers in an in-memory store.
type lifecycleWorld struct {
	sim            *icsim.Server
	client         *ic.Client
	id             identity.Identity
	store          *payouttest.MemStore
	dao, pool      string
	deposit, bond  ic.Account
	depositID, bID string
	sponsors       []string // 64-hex account ids
	purchaser      string
}

func newLifecycleWorld(t *testing.T) *lifecycleWorld {
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
	w := &lifecycleWorld{sim: sim, client: client, id: id, dao: "lc-dao", pool: "pool-a", store: payouttest.NewMemStore(nil, nil)}
	dsub, bsub := schemas.DepositSubaccount(w.dao, w.pool), schemas.BondSubaccount(w.dao, w.pool)
	w.deposit, w.bond = ic.Account{Owner: id.Sender(), SubAccount: &dsub}, ic.Account{Owner: id.Sender(), SubAccount: &bsub}
	w.depositID, w.bID = accountID(t, ic.AccountText(w.deposit)), accountID(t, ic.AccountText(w.bond))
	for i := byte(1); i <= 3; i++ {
		_, pk, _ := ed25519.GenerateKey(nil)
		sid, _ := identity.NewEd25519Identity(pk.Public().(ed25519.PublicKey), pk)
		w.sponsors = append(w.sponsors, accountID(t, ic.AccountText(ic.Account{Owner: sid.Sender()})))
	}
	w.purchaser = w.sponsors[0]
	if _, err := sim.Mint(ic.AccountText(w.deposit), 100_000_000_000); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.Mint(ic.AccountText(w.bond), 10_000_000_000); err != nil {
		t.Fatal(err)
	}
	return w
}

func accountID(t *testing.T, text string) string {
	t.Helper()
	id, err := ic.PayoutLedger{}.AccountID(text)
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(id[:])
}

// transfer is one lifecycle transfer of the world's pool.
func (w *lifecycleWorld) transfer(seq int, kind, from, to string, gross int64) schemas.PoolTransfer {
	t := schemas.PoolTransfer{DAO: w.dao, PoolID: w.pool, Seq: seq, Kind: kind, From: from, To: to, GrossE8s: gross,
		Cause: "7", At: "2026-03-01T00:00:00Z", TermsVersion: 1}
	if gross > 10_000 {
		t.TransferE8s, t.FeeE8s = gross-10_000, 10_000
	}
	return t
}

func (w *lifecycleWorld) engine(from ic.Account) *payout.Engine {
	return &payout.Engine{Store: w.store, Ledger: ic.PayoutLedger{Client: w.client, Treasury: from}, Approval: testApproval, Verifier: ic.Verifier{},
		Concurrency: 2, MaxTries: 3, RetryWait: time.Millisecond}
}

// paidFrom returns the transfer blocks from account id fromID by legacy
// memo.
func (w *lifecycleWorld) paidFrom(fromID string) map[uint64]icsim.Block {
	out := map[uint64]icsim.Block{}
	for _, b := range w.sim.Ledger().Blocks {
		if b.Op == icsim.OpTransfer && b.From == fromID {
			out[b.LegacyMemo] = b
		}
	}
	return out
}

func TestLifecycleTransfersArePaidOnceFromThePoolAccounts(t *testing.T) {
	ctx := context.Background()
	w := newLifecycleWorld(t)
	w.store.Transfers = []schemas.PoolTransfer{
		w.transfer(0, "refund", w.depositID, w.sponsors[1], 30_000_000), // over target
		w.transfer(1, "refund", w.depositID, w.sponsors[2], 5_000),      // dust: nothing sent
		w.transfer(2, "refund", w.bID, w.sponsors[2], 1_000_000),        // not the purchaser's bond
		w.transfer(3, "settlement", w.depositID, w.purchaser, 50_000_000_000),
	}
	dep := w.engine(w.deposit)
	m, created, err := dep.PlanLifecycle(ctx, w.dao, w.pool, rules.SourceDeposit, w.depositID, true)
	if err != nil || !created {
		t.Fatalf("plan: %v %v", created, err)
	}
	if want := rules.LifecyclePeriod(w.pool, rules.SourceDeposit, 0); m.Period != want || len(m.Intents) != 2 ||
		m.TotalAmountE8s != 30_000_000-10_000+50_000_000_000-10_000 || m.TotalFeeE8s != 20_000 || m.RulesVersion != rules.LifecycleRulesVersion {
		t.Fatalf("manifest %s: %d intents, %d + %d, rules %s", m.Period, len(m.Intents), m.TotalAmountE8s, m.TotalFeeE8s, m.RulesVersion)
	}
	// Nothing more to plan from the deposit account; planning is no run.
	if _, _, err := dep.PlanLifecycle(ctx, w.dao, w.pool, rules.SourceDeposit, w.depositID, true); !errors.Is(err, rules.ErrNothingToPlan) {
		t.Fatalf("second plan: %v", err)
	}
	// Not approved: nothing signed.
	if _, err := dep.Run(ctx, w.dao, m.Period, payout.RunOptions{}); err == nil || !strings.Contains(err.Error(), "not approved") {
		t.Fatalf("unapproved run: %v", err)
	}
	if _, _, err := dep.Approve(ctx, w.dao, m.Period, m.SHA256, "demo", demoApprover); err != nil {
		t.Fatal(err)
	}
	// Signed from the bond account, the deposit manifest is refused.
	if _, err := w.engine(w.bond).Run(ctx, w.dao, m.Period, payout.RunOptions{}); err == nil || !strings.Contains(err.Error(), "the run signs from "+w.bID) {
		t.Fatalf("run from the wrong account: %v", err)
	}
	sum, err := dep.Run(ctx, w.dao, m.Period, payout.RunOptions{})
	if err != nil || sum.Paid != 2 || sum.Sent != 2 {
		t.Fatalf("run: %v %+v", err, sum)
	}
	paid := w.paidFrom(w.depositID)
	for _, in := range m.Intents {
		memo, _ := hex.DecodeString(in.MemoHex)
		b, ok := paid[rules.LegacyMemo(memo)]
		if !ok || b.To != in.Recipient || b.AmountE8s != uint64(in.AmountE8s) || b.FeeE8s != uint64(in.FeeE8s) {
			t.Fatalf("intent %s (%s %d to %s): block %+v", in.IntentID, in.Role, in.AmountE8s, in.Recipient, b)
		}
	}
	if len(paid) != 2 {
		t.Fatalf("%d transfers from the deposit account, want 2", len(paid))
	}

	// A later refund is a new manifest, starting at its seq; the bond
	// account's transfer is its own manifest, signed from the bond account.
	w.store.Mu.Lock()
	w.store.Transfers = append(w.store.Transfers, w.transfer(4, "refund", w.depositID, w.sponsors[2], 2_000_000),
		w.transfer(5, "bond_return", w.bID, w.purchaser, 5_000_000_000))
	w.store.Mu.Unlock()
	m2, _, err := dep.PlanLifecycle(ctx, w.dao, w.pool, rules.SourceDeposit, w.depositID, true)
	if err != nil || m2.Period != rules.LifecyclePeriod(w.pool, rules.SourceDeposit, 4) || len(m2.Intents) != 1 {
		t.Fatalf("later plan: %v %+v", err, m2)
	}
	bondEng := w.engine(w.bond)
	mb, _, err := bondEng.PlanLifecycle(ctx, w.dao, w.pool, rules.SourceBond, w.bID, true)
	if err != nil || mb.Period != rules.LifecyclePeriod(w.pool, rules.SourceBond, 2) || len(mb.Intents) != 2 {
		t.Fatalf("bond plan: %v %+v", err, mb)
	}
	for _, x := range []struct {
		e *payout.Engine
		m rules.Manifest
	}{{dep, m2}, {bondEng, mb}} {
		if _, _, err := x.e.Approve(ctx, w.dao, x.m.Period, x.m.SHA256, "demo", demoApprover); err != nil {
			t.Fatal(err)
		}
	}
	// A transfer changed after planning (the store rewritten): refused.
	w.store.Mu.Lock()
	saved := w.store.Transfers[4]
	w.store.Transfers[4].TransferE8s++
	w.store.Transfers[4].GrossE8s++
	w.store.Mu.Unlock()
	if _, err := dep.Run(ctx, w.dao, m2.Period, payout.RunOptions{}); err == nil || !strings.Contains(err.Error(), "transfer 4 changed since it was planned") {
		t.Fatalf("changed transfer: %v", err)
	}
	w.store.Mu.Lock()
	w.store.Transfers[4] = saved
	w.store.Mu.Unlock()
	if sum, err := dep.Run(ctx, w.dao, m2.Period, payout.RunOptions{}); err != nil || sum.Paid != 1 {
		t.Fatalf("run 2: %v %+v", err, sum)
	}
	if sum, err := bondEng.Run(ctx, w.dao, mb.Period, payout.RunOptions{}); err != nil || sum.Paid != 2 {
		t.Fatalf("bond run: %v %+v", err, sum)
	}
	if n := len(w.paidFrom(w.bID)); n != 2 {
		t.Fatalf("%d transfers from the bond account, want 2", n)
	}

	// Lose every result and move past the ledger's window: the runs
	// settle from the blocks and send nothing again.
	before := len(w.sim.Ledger().Blocks)
	w.store.Mu.Lock()
	w.store.ResultsBy = map[string]schemas.PayoutResult{}
	w.store.Mu.Unlock()
	w.sim.AdvanceClock(25 * time.Hour)
	for _, x := range []struct {
		from ic.Account
		m    rules.Manifest
	}{{w.deposit, m}, {w.deposit, m2}, {w.bond, mb}} {
		e := w.engine(x.from)
		e.Clock = stage.ClockFunc(func() time.Time { return time.Now().Add(25 * time.Hour) })
		sum, err := e.Run(ctx, w.dao, x.m.Period, payout.RunOptions{})
		if err != nil || sum.Paid != len(x.m.Intents) || sum.Reconciled != len(x.m.Intents) {
			t.Fatalf("resume %s: %v %+v", x.m.Period, err, sum)
		}
	}
	if after := len(w.sim.Ledger().Blocks); after != before {
		t.Fatalf("resume wrote %d blocks", after-before)
	}
	// Conservation on the ledger: each account paid out exactly its
	// transfers' gross (amount + fee).
	var gotDeposit, gotBond uint64
	for _, b := range w.sim.Ledger().Blocks {
		if b.Op != icsim.OpTransfer {
			continue
		}
		switch b.From {
		case w.depositID:
			gotDeposit += b.AmountE8s + b.FeeE8s
		case w.bID:
			gotBond += b.AmountE8s + b.FeeE8s
		}
	}
	if gotDeposit != 30_000_000+50_000_000_000+2_000_000 || gotBond != 1_000_000+5_000_000_000 {
		t.Fatalf("debited deposit %d, bond %d", gotDeposit, gotBond)
	}
}

func TestLifecyclePeriods(t *testing.T) {
	p := rules.LifecyclePeriod("pool:x", rules.SourceBond, 12)
	if pool, src, seq, ok := rules.ParseLifecyclePeriod(p); !ok || pool != "pool:x" || src != rules.SourceBond || seq != 12 {
		t.Fatalf("%s -> %q %q %d %v", p, pool, src, seq, ok)
	}
	for _, bad := range []string{"2026-01-01", "lifecycle:stake:1:p", "lifecycle:bond:01:p", "lifecycle:bond:-1:p", "lifecycle:bond:1:", "lifecycle:bond:1"} {
		if rules.IsLifecyclePeriod(bad) {
			t.Errorf("%q parsed as a lifecycle period", bad)
		}
	}
}
