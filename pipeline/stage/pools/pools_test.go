package pools

import (
	"context"
	"strings"
	"testing"

	"github.com/nodeshare/nodeshare/pipeline/lifecycle"
	"github.com/nodeshare/nodeshare/schemas"
)

// memLog is the event log in memory: every record, in order.
type memLog struct{ msgs []schemas.Message }

func (m *memLog) Publish(_ context.Context, recs ...schemas.Record) error {
	for _, r := range recs {
		m.msgs = append(m.msgs, schemas.Message{Topic: r.Topic, Offset: int64(len(m.msgs)), Key: r.Key, Value: r.Value})
	}
	return nil
}

func (m *memLog) PublishOnce(ctx context.Context, facts []schemas.Fact) (schemas.PublishStats, error) {
	var st schemas.PublishStats
	for _, f := range facts {
		found := false
		for _, msg := range m.msgs {
			if msg.Topic == f.Topic && string(msg.Key) == f.Key {
				found = true
			}
		}
		if found {
			st.Present++
			continue
		}
		b, err := f.Envelope.Marshal()
		if err != nil {
			return st, err
		}
		_ = m.Publish(ctx, schemas.Record{Topic: f.Topic, Key: []byte(f.Key), Value: b})
		st.Published++
	}
	return st, nil
}

func (m *memLog) ReadAll(_ context.Context, topic string) ([]schemas.Message, error) {
	var out []schemas.Message
	for _, msg := range m.msgs {
		if msg.Topic == topic {
			out = append(out, msg)
		}
	}
	return out, nil
}

// The DAO treasury: the anonymous-free test principal of the simulator's
// documentation (any valid principal text does).
const treasury = "rrkah-fqaaa-aaaaa-aaaaq-cai"

const purchaser = "80f07c75e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1"

func pool() schemas.Pool {
	return schemas.Pool{DAO: "dao", PoolID: "pool-a", NodeProvider: "np", Nodes: []schemas.Node{{NodeID: "n1", WeightXDRPermyriad: 1}},
		Hoster: schemas.HosterTerms{Account: "h", Bps: 500}, RulesVersion: "v1",
		Terms: &schemas.PoolTerms{TargetE8s: 100_0000_0000, MinContributionE8s: 1000_0000, MaxSponsorBps: 4000,
			FundingDeadline: "2027-01-31T00:00:00Z", Purchaser: purchaser, SlashBps: 500, BondE8s: 10_0000_0000,
			LockupUntil: "2028-01-31T00:00:00Z", MaxVotingBps: 3000, LedgerFeeE8s: 10_000}}
}

func TestCreateDerivesAccountsAndIsIdempotent(t *testing.T) {
	ctx := context.Background()
	log := &memLog{}
	got, outcome, err := Create(ctx, log, pool(), treasury)
	if err != nil || outcome != Created {
		t.Fatalf("create: %v %s", err, outcome)
	}
	dep, _ := schemas.AccountOf(treasury, schemas.DepositSubaccount("dao", "pool-a"))
	bond, _ := schemas.AccountOf(treasury, schemas.BondSubaccount("dao", "pool-a"))
	if got.Terms.DepositAccount != dep.ID || got.Deposit != dep || got.Terms.BondAccount != bond.ID || dep.ID == bond.ID {
		t.Fatalf("accounts: %+v / %+v", got.Deposit, got.Bond)
	}
	if err := lifecycle.ValidateAccount(dep.ID); err != nil {
		t.Fatalf("the deposit account is not a valid account identifier: %v", err)
	}
	if !strings.HasPrefix(dep.ICRC1, treasury+"-") {
		t.Fatalf("ICRC-1 text %q is not a subaccount of the treasury", dep.ICRC1)
	}
	// Another pool or DAO gets another account.
	other, _ := schemas.AccountOf(treasury, schemas.DepositSubaccount("dao", "pool-b"))
	otherDAO, _ := schemas.AccountOf(treasury, schemas.DepositSubaccount("dao2", "pool-a"))
	if other == dep || otherDAO == dep {
		t.Fatal("deposit accounts collide")
	}
	// The same terms again: nothing new on the topic.
	if _, outcome, err := Create(ctx, log, pool(), treasury); err != nil || outcome != Unchanged || len(log.msgs) != 1 {
		t.Fatalf("again: %v %s, %d records", err, outcome, len(log.msgs))
	}
	shown, ok, err := Show(ctx, log, "dao", "pool-a")
	if err != nil || !ok || shown.Terms.TermsVersion != 1 || shown.Deposit != dep {
		t.Fatalf("show: %v %v %+v", err, ok, shown)
	}
}

func TestChangeBeforeAndAfterTheFirstAcceptedDeposit(t *testing.T) {
	ctx := context.Background()
	log := &memLog{}
	created, _, err := Create(ctx, log, pool(), treasury)
	if err != nil {
		t.Fatal(err)
	}
	p := pool()
	p.Terms.TargetE8s = 120_0000_0000
	if got, outcome, err := Create(ctx, log, p, treasury); err != nil || outcome != Changed || got.Terms.TermsVersion != 2 {
		t.Fatalf("change before deposits: %v %s %+v", err, outcome, got.Terms)
	}
	all, _ := List(ctx, log, "dao")
	if len(all) != 1 || all[0].Terms.TargetE8s != 120_0000_0000 || len(log.msgs) != 2 {
		t.Fatalf("list after a change: %+v (%d records: nothing edited in place)", all, len(log.msgs))
	}
	// Any block to the pool's accounts fixes the terms, even a deposit the
	// rules refund on arrival (stricter than the rules: no published
	// transfer can be recomputed under other terms).
	deposit := func(index, amount uint64) {
		f, err := schemas.NewFact(schemas.TopicLedgerBlocks, schemas.TypeLedgerBlock, schemas.LedgerBlockKey("ledger", index), schemas.Provenance{Source: "test"},
			schemas.LedgerBlock{Ledger: "ledger", Index: index, Time: "2027-01-02T00:00:00Z", Op: "transfer", From: purchaser, To: created.Terms.DepositAccount, AmountE8s: amount, FeeE8s: 10_000})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := log.PublishOnce(ctx, []schemas.Fact{f}); err != nil {
			t.Fatal(err)
		}
	}
	deposit(7, 100) // below the minimum: refunded
	p.Terms.TargetE8s = 110_0000_0000
	if _, _, err := Create(ctx, log, p, treasury); err == nil || !strings.Contains(err.Error(), "its terms are fixed: 1 ledger block(s)") {
		t.Fatalf("change after a deposit: %v", err)
	}
	// The same terms as stored are still "unchanged", not refused.
	same := pool()
	same.Terms.TargetE8s = 120_0000_0000
	if _, outcome, err := Create(ctx, log, same, treasury); err != nil || outcome != Unchanged {
		t.Fatalf("same terms after a deposit: %v %s", err, outcome)
	}
	if got, _, _ := Show(ctx, log, "dao", "pool-a"); got.Terms.TargetE8s != 120_0000_0000 || got.Terms.TermsVersion != 2 {
		t.Fatalf("refused change was written: %+v", got.Terms)
	}
}

func TestBadTermsNameTheFieldAndValue(t *testing.T) {
	for _, c := range []struct {
		edit func(*schemas.Pool)
		want string
	}{
		{func(p *schemas.Pool) { p.Terms.TargetE8s = 0 }, "terms.target_e8s"},
		{func(p *schemas.Pool) { p.Terms.MaxSponsorBps = 10_001 }, "terms.max_sponsor_bps"},
		{func(p *schemas.Pool) { p.Terms.FundingDeadline = "next week" }, "terms.funding_deadline"},
		{func(p *schemas.Pool) { p.Terms.Purchaser = "not-an-account" }, "terms.purchaser"},
		{func(p *schemas.Pool) { p.Terms.SlashBps = -1 }, "terms.slash_bps"},
		{func(p *schemas.Pool) { p.ProposalStatus = "adopted" }, `proposal_status must be empty for a crowdfunded pool (its lifecycle follows the NNS proposal), got "adopted"`},
		{func(p *schemas.Pool) { p.Hoster.Account = "" }, "hoster.account is empty"},
		{func(p *schemas.Pool) { p.Terms = nil }, "terms are required"},
	} {
		p := pool()
		c.edit(&p)
		log := &memLog{}
		if _, _, err := Create(context.Background(), log, p, treasury); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("want an error naming %q, got %v", c.want, err)
		}
		if len(log.msgs) != 0 {
			t.Errorf("%q: refused terms were written", c.want)
		}
	}
	if _, _, err := Create(context.Background(), &memLog{}, pool(), "not a principal"); err == nil || !strings.Contains(err.Error(), "treasury") {
		t.Errorf("bad treasury: %v", err)
	}
}
