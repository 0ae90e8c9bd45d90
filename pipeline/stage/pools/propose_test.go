package pools

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nodeshare/nodeshare/schemas"
)

// sponsorAccount is a sponsor's account identifier (any principal's
// subaccount n will do).
func sponsorAccount(t *testing.T, n byte) string {
	t.Helper()
	a, err := schemas.AccountOf(treasury, [32]byte{31: n})
	if err != nil {
		t.Fatal(err)
	}
	return a.ID
}

// deposit publishes ledger block index: amount from sponsor n to the
// pool's account to, at at.
func deposit(t *testing.T, log *memLog, index uint64, n byte, to string, amount uint64, at string) {
	t.Helper()
	f, err := schemas.NewFact(schemas.TopicLedgerBlocks, schemas.TypeLedgerBlock, schemas.LedgerBlockKey("ledger", index), schemas.Provenance{Source: "ic"},
		schemas.LedgerBlock{Ledger: "ledger", Index: index, Time: at, Op: "transfer", From: sponsorAccount(t, n), To: to, AmountE8s: amount, FeeE8s: 10_000})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := log.PublishOnce(context.Background(), []schemas.Fact{f}); err != nil {
		t.Fatal(err)
	}
}

func submissionsOn(t *testing.T, log *memLog) []schemas.PoolFact {
	t.Helper()
	out, err := submissions(context.Background(), log, "dao", "pool-a")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestProposeOnceForAFundedPool(t *testing.T) {
	ctx := context.Background()
	log := &memLog{}
	now := time.Date(2026, 7, 1, 12, 30, 15, 500, time.UTC)

	if _, _, err := Propose(ctx, log, "dao", "pool-a", 42, "", now); err == nil || !strings.Contains(err.Error(), "no pool with terms") {
		t.Fatalf("no pool: %v", err)
	}
	p, _, err := Create(ctx, log, pool(), treasury)
	if err != nil {
		t.Fatal(err)
	}
	dep := p.Terms.DepositAccount

	// 40 + 40 ICP of a 100 ICP target: still funding.
	deposit(t, log, 10, 1, dep, 40_0000_0000, "2026-06-01T00:00:00Z")
	deposit(t, log, 11, 2, dep, 40_0000_0000, "2026-06-02T00:00:00Z")
	if _, _, err := Propose(ctx, log, "dao", "pool-a", 42, "", now); err == nil || !strings.Contains(err.Error(), "funding") || !strings.Contains(err.Error(), "only in state funded") {
		t.Fatalf("funding pool: %v", err)
	}
	// A deposit below the minimum is refunded, and one to another account
	// is not the pool's: still funding.
	deposit(t, log, 12, 3, dep, 1, "2026-06-03T00:00:00Z")
	deposit(t, log, 13, 3, sponsorAccount(t, 9), 20_0000_0000, "2026-06-03T00:00:00Z")
	if _, _, err := Propose(ctx, log, "dao", "pool-a", 42, "", now); err == nil || !strings.Contains(err.Error(), "funding") {
		t.Fatalf("funding pool after a refunded deposit: %v", err)
	}
	// The deposit that funds it, and a bond deposit.
	deposit(t, log, 14, 3, dep, 20_0000_0000, "2026-06-04T00:00:00Z")
	deposit(t, log, 15, 4, p.Terms.BondAccount, 5_0000_0000, "2026-06-05T00:00:00Z")

	// A submission dated before the funding deposit is refused too.
	if _, _, err := Propose(ctx, log, "dao", "pool-a", 42, "2026-06-03T23:59:59Z", now); err == nil || !strings.Contains(err.Error(), "funding") {
		t.Fatalf("before funded: %v", err)
	}
	if _, _, err := Propose(ctx, log, "dao", "pool-a", 42, "2026-06-10", now); err == nil || !strings.Contains(err.Error(), "--at") {
		t.Fatalf("bad --at: %v", err)
	}
	if n := len(submissionsOn(t, log)); n != 0 {
		t.Fatalf("%d submissions after refusals", n)
	}

	f, outcome, err := Propose(ctx, log, "dao", "pool-a", 42, "2026-06-10T02:00:00+02:00", now)
	if err != nil || outcome != Submitted {
		t.Fatalf("propose: %v %s", err, outcome)
	}
	if f.Type != "proposal_submitted" || f.At != "2026-06-10T00:00:00Z" || *f.ProposalID != 42 || f.DAO != "dao" || f.PoolID != "pool-a" {
		t.Fatalf("fact %+v", f)
	}

	// The same submission again, or the same proposal without --at:
	// unchanged, nothing written.
	for _, at := range []string{"2026-06-10T00:00:00Z", ""} {
		if _, outcome, err := Propose(ctx, log, "dao", "pool-a", 42, at, now); err != nil || outcome != Unchanged {
			t.Fatalf("again (at %q): %v %s", at, err, outcome)
		}
	}
	// Another time for the same proposal, or another proposal: refused.
	if _, _, err := Propose(ctx, log, "dao", "pool-a", 42, "2026-06-11T00:00:00Z", now); err == nil || !strings.Contains(err.Error(), "already submitted at 2026-06-10T00:00:00Z") {
		t.Fatalf("other time: %v", err)
	}
	if _, _, err := Propose(ctx, log, "dao", "pool-a", 43, "", now); err == nil || !strings.Contains(err.Error(), "a second submission (proposal 43) is refused") {
		t.Fatalf("second proposal: %v", err)
	}
	subs := submissionsOn(t, log)
	if len(subs) != 1 || *subs[0].ProposalID != 42 {
		t.Fatalf("submissions %+v", subs)
	}
	msgs, _ := log.ReadAll(ctx, schemas.TopicPoolFacts)
	if len(msgs) != 1 || string(msgs[0].Key) != "dao/pool-a/proposal_submitted/42" {
		t.Fatalf("records %+v", msgs)
	}
	env, err := schemas.DecodeEnvelope(msgs[0].Value)
	if err != nil || env.Provenance.Source != "dao-admin" || env.Provenance.Method != "nodeshare pools propose" {
		t.Fatalf("provenance %+v %v", env.Provenance, err)
	}
}

// Without --at the submission is dated now, to the second.
func TestProposeDefaultsToNow(t *testing.T) {
	ctx := context.Background()
	log := &memLog{}
	p, _, err := Create(ctx, log, pool(), treasury)
	if err != nil {
		t.Fatal(err)
	}
	for i, n := range []byte{1, 2, 3} {
		deposit(t, log, uint64(i), n, p.Terms.DepositAccount, []uint64{40_0000_0000, 40_0000_0000, 20_0000_0000}[i], "2026-06-01T00:00:00Z")
	}
	f, outcome, err := Propose(ctx, log, "dao", "pool-a", 7, "", time.Date(2026, 7, 1, 12, 30, 15, 999, time.FixedZone("x", 3600)))
	if err != nil || outcome != Submitted || f.At != "2026-07-01T11:30:15Z" {
		t.Fatalf("%+v %s %v", f, outcome, err)
	}
}
