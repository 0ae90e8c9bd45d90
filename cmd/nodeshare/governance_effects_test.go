package main

import (
	"context"
	"encoding/hex"
	"math/big"
	"testing"
	"time"

	"github.com/aviate-labs/agent-go/identity"

	"github.com/nodeshare/nodeshare/connectors/ic"
	"github.com/nodeshare/nodeshare/ops/icsim"
	"github.com/nodeshare/nodeshare/pipeline/entitle"
	"github.com/nodeshare/nodeshare/pipeline/stage/votes"
	"github.com/nodeshare/nodeshare/schemas"
)

// TestTerminateHosterVoteEndToEnd: on the real stack (Kafka, ClickHouse,
// Vault transit as the treasury, the IC simulator's ledger), a funded and
// active pool is paid a first reward under v1. Its sponsors then vote,
// with ballots signed by their own keys, to terminate the hoster; the vote
// closes mid-period, a tick after it fires the close, and the next reward is allocated with rules v2: the
// hoster is paid exactly floor(fee * o / L) for the seconds it was engaged
// and the sponsors share the rest, to the e8s, on the ledger. The pool
// period names the vote. The reward after that pays no hoster at all.
func TestTerminateHosterVoteEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	w, _ := newYearWorld(t, ctx, "it-effects")
	sim, start := w.sim, w.sim.Now()
	day := 24 * time.Hour
	w.nodeJoins(yearOtherNP, yearOther, start.Add(-5*day))

	whale, s1, s2 := w.sponsor(100*icp), w.sponsor(100*icp), w.sponsor(100*icp)
	purchaser := w.sponsor(50 * icp)
	w.createPool("pool-gov", accountIDOf(purchaser), start.Add(20*day), start.Add(2*365*day))
	dep, bond := w.poolAccounts("pool-gov")
	w.deposit(whale, dep, 35*icp, false)
	w.deposit(s1, dep, 35*icp, false)
	w.deposit(s2, dep, 30*icp, false)
	w.deposit(purchaser, bond, 10*icp, false)
	w.connect()
	w.process()
	sim.AdvanceClock(day)
	prop := w.propose("pool-gov")
	sim.AdvanceClock(2 * day)
	w.decide(prop, icsim.ProposalExecuted)
	w.nodeJoins(yearNP, yearNode, w.now().Add(day))
	w.connect()
	sim.AdvanceClock(2 * day)
	w.connect()
	w.process()
	w.payPool("pool-gov") // the settlement to the purchaser

	hoster := poolHoster(t, w, "pool-gov")
	hosterID, err := schemas.AccountOf(hoster, [32]byte{})
	if err != nil {
		t.Fatal(err)
	}

	// Month 1: one engagement covers the period: rules v1.
	sim.AdvanceClock(30 * day)
	w.connect()
	t1 := w.now().Unix()
	p1 := w.reward(50 * icp)
	if pp, _ := periodOf(t, w, p1); pp.RulesVersion != "v1" || pp.Votes != nil {
		t.Fatalf("month 1: %+v", pp)
	}

	// The vote, on the simulator's clock (the pool's facts are in its
	// time): opened a day into month 2, closing 10 days and 12,345 s in.
	sim.AdvanceClock(day)
	box := &votes.Box{Log: w.evlog, Verifier: ic.Verifier{}, Clock: w.clock}
	closes := time.Unix(t1, 0).Add(10*day + 12_345*time.Second).UTC()
	subject := `{"hoster":"` + hoster + `"}`
	if _, created, err := box.Open(ctx, w.dao, "pool-gov", votes.Spec{VoteID: "fire-h", Kind: "terminate_hoster", Subject: subject,
		ClosesAt: closes, ThresholdBps: 5001}); err != nil || !created {
		t.Fatalf("open: %v %v", created, err)
	}
	w.process()
	sim.AdvanceClock(day)
	for _, v := range []struct {
		id     identity.Identity
		choice string
	}{{whale, "yes"}, {s1, "yes"}, {s2, "no"}} {
		if _, err := box.Cast(ctx, w.dao, "pool-gov", ballotOf(t, v.id, w.dao, "pool-gov", "fire-h", v.choice)); err != nil {
			t.Fatalf("cast: %v", err)
		}
	}
	w.process()

	// Month 2: the close passed; the connector's tick fires it, then the
	// reward is decided.
	sim.AdvanceClock(28 * day)
	w.connect()
	t2 := w.now().Unix()
	// The close fires with the pool's first fact after it: a tick, as
	// connect publishes one a second after the close once the ledger's
	// certified time passed it (TestTicksFollowTheCertifiedTime). The
	// simulator certifies with the wall clock, not the canister clock this
	// test moves, so the test publishes that tick itself.
	tick := schemas.PoolFact{DAO: w.dao, PoolID: "pool-gov", Type: "tick", At: closes.Add(time.Second).Format(time.RFC3339)}
	tf, err := schemas.NewFact(schemas.TopicPoolFacts, schemas.TypePoolFact, schemas.PoolFactKey(tick), schemas.Provenance{Source: "test", Method: "connect pool clock"}, tick)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.evlog.PublishOnce(ctx, []schemas.Fact{tf}); err != nil {
		t.Fatal(err)
	}
	const g2 = 61*icp + 7_654_321
	p2 := w.reward(g2)
	pp, ents := periodOf(t, w, p2)

	// Independently: fee = floor(G * 500 / 10000) (no fixed part),
	// o = close - t1, L = t2 - t1, H = floor(fee * o / L).
	o, l := closes.Unix()-t1, t2-t1
	fee := big.NewInt(int64(g2) * 500 / 10_000)
	h := new(big.Int).Quo(new(big.Int).Mul(fee, big.NewInt(o)), big.NewInt(l)).Int64()
	daoFee := (int64(g2) - h) * 200 / 10_000
	d := int64(g2) - h - daoFee
	t.Logf("month 2: G %d, o %d s of L %d s, hoster fee %d of %d, DAO fee %d, sponsors %d", g2, o, l, h, fee.Int64(), daoFee, d)
	if pp.RulesVersion != "v2" || pp.HosterFeeE8s != h || pp.DAOFeeE8s != daoFee || pp.DistributableE8s != d {
		t.Fatalf("month 2 pool period %+v, want v2, hoster %d, dao %d, distributable %d", pp, h, daoFee, d)
	}
	if len(pp.Votes) != 1 || pp.Votes[0].VoteID != "fire-h" || pp.Votes[0].EffectiveUnixSeconds != closes.Unix() {
		t.Fatalf("month 2 evidence %+v", pp.Votes)
	}
	he := ents["hoster/"+hoster]
	if he.ShareE8s != h || he.TransferE8s != h-10_000 || he.RulesVersion != "v2" {
		t.Fatalf("hoster entitlement %+v, want %d - fee", he, h)
	}
	var sponsorTotal int64
	for k, e := range ents {
		if e.Role == entitle.RoleSponsor {
			sponsorTotal += e.ShareE8s
		} else if k != "hoster/"+hoster {
			t.Fatalf("unexpected entitlement %s", k)
		}
	}
	if sponsorTotal != d {
		t.Fatalf("sponsors share %d, want %d", sponsorTotal, d)
	}

	// On the ledger: the hoster's last transfer is H less the ledger fee;
	// the sponsors got their shares less the fee, to the e8s.
	led := sim.Ledger()
	got := map[string][]uint64{}
	for _, b := range led.Blocks {
		if b.Op == icsim.OpTransfer {
			got[b.To] = append(got[b.To], b.AmountE8s)
		}
	}
	if hs := got[hosterID.ID]; len(hs) != 2 || hs[1] != uint64(h-10_000) {
		t.Fatalf("hoster's transfers on the ledger %v, want month 1's and %d", hs, h-10_000)
	}
	var sponsorsPaid int64
	for _, id := range []identity.Identity{whale, s1, s2} {
		tr := got[accountIDOf(id)]
		e := ents["sponsor/"+accountIDOf(id)]
		if len(tr) == 0 || tr[len(tr)-1] != uint64(e.TransferE8s) || e.TransferE8s != e.ShareE8s-10_000 {
			t.Fatalf("sponsor %s: ledger %v, entitlement %+v", accountIDOf(id), tr, e)
		}
		sponsorsPaid += int64(tr[len(tr)-1]) + 10_000
	}
	if sponsorsPaid != d {
		t.Fatalf("sponsors paid %d with fees, want %d", sponsorsPaid, d)
	}

	// Month 3: no hoster is engaged: nothing goes to a hoster.
	sim.AdvanceClock(30 * day)
	w.connect()
	p3 := w.reward(40 * icp)
	pp3, ents3 := periodOf(t, w, p3)
	if pp3.RulesVersion != "v2" || pp3.HosterFeeE8s != 0 || len(ents3) != 3 {
		t.Fatalf("month 3 %+v, %d entitlements", pp3, len(ents3))
	}
	if n := len(sim.Ledger().Blocks); n == 0 || len(got[hosterID.ID]) != 2 {
		t.Fatal("the hoster was paid after its termination")
	}
	hs := 0
	for _, b := range sim.Ledger().Blocks {
		if b.Op == icsim.OpTransfer && b.To == hosterID.ID {
			hs++
		}
	}
	if hs != 2 {
		t.Fatalf("hoster transfers %d after month 3, want 2", hs)
	}
}

// poolHoster is the hoster account of pool's latest record.
func poolHoster(t *testing.T, w *yearWorld, pool string) string {
	t.Helper()
	msgs, err := w.evlog.ReadAll(context.Background(), schemas.TopicPools)
	if err != nil {
		t.Fatal(err)
	}
	var hoster string
	for _, m := range msgs {
		env, err := schemas.DecodeEnvelope(m.Value)
		if err != nil {
			continue
		}
		var p schemas.Pool
		if env.DecodePayload(schemas.TypePool, &p) == nil && p.PoolID == pool && p.DAO == w.dao {
			hoster = p.Hoster.Account
		}
	}
	if hoster == "" {
		t.Fatalf("no pool %s", pool)
	}
	return hoster
}

// periodOf reads period's pool period and entitlements (by role/recipient)
// from the entitlements topic.
func periodOf(t *testing.T, w *yearWorld, period string) (schemas.PoolPeriod, map[string]schemas.Entitlement) {
	t.Helper()
	msgs, err := w.evlog.ReadAll(context.Background(), schemas.TopicEntitlements)
	if err != nil {
		t.Fatal(err)
	}
	var pp schemas.PoolPeriod
	ents := map[string]schemas.Entitlement{}
	for _, m := range msgs {
		env, err := schemas.DecodeEnvelope(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		switch env.Type {
		case schemas.TypePoolPeriod:
			var p schemas.PoolPeriod
			if env.DecodePayload(env.Type, &p) == nil && p.Period == period {
				pp = p
			}
		case schemas.TypeEntitlement:
			var e schemas.Entitlement
			if env.DecodePayload(env.Type, &e) == nil && e.Period == period {
				ents[e.Role+"/"+e.Recipient] = e
			}
		}
	}
	return pp, ents
}

// ballotOf is id's ballot, signed by id's own key, for its default
// account.
func ballotOf(t *testing.T, id identity.Identity, dao, pool, vote, choice string) schemas.SignedBallot {
	t.Helper()
	b := schemas.SignedBallot{VoteID: vote, Voter: accountIDOf(id), Choice: choice, Nonce: uint64(time.Now().UnixNano()),
		PublicKeyDER: hex.EncodeToString(id.PublicKey())}
	sig, err := id.Sign(b.Message(dao, pool))
	if err != nil {
		t.Fatal(err)
	}
	b.Signature = hex.EncodeToString(sig)
	return b
}
