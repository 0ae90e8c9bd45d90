package demo

import (
	"context"
	"log/slog"
	"time"

	"github.com/nodeshare/nodeshare/pipeline/entitle"
	rules "github.com/nodeshare/nodeshare/pipeline/payout"
	"github.com/nodeshare/nodeshare/pipeline/stage"
	"github.com/nodeshare/nodeshare/pipeline/stage/payout"
	"github.com/nodeshare/nodeshare/schemas"
)

// Approval is the demo's documented approver set: one approver, "demo",
// threshold 1 (docs/payouts.md). Production configures its own.
var Approval = rules.Approval{Approvers: []string{"demo"}, Threshold: 1}

// Ports are what the demo drives: the event log, the simulator's mint
// (the NNS minting the reward to the DAO), and the processor and the sink,
// each run until it has consumed everything on its topics.
type Ports struct {
	Log     stage.Publisher
	Mint    func(ctx context.Context, account string, e8s int64) error
	Process func(ctx context.Context) error
	Sink    func(ctx context.Context) error
}

// Result is what one demo run did.
type Result struct {
	DAO, Period, Treasury string
	// Minted: this run saw the reward first and minted it.
	Minted bool
	Payout payout.Summary
}

var (
	admin     = schemas.Provenance{Source: "dao-admin", Method: "nodeshare demo"}
	simulated = schemas.Provenance{Source: "demo", Canister: "rrkah-fqaaa-aaaaa-aaaaq-cai" /* NNS governance */, Method: "get_most_recent_monthly_node_provider_rewards (simulated)"}
)

// Allocate publishes the scenario's facts (pools, contributions, rates and
// the NNS reward; only those not yet on their topics), mints the reward
// when it is new, and runs the processor and the sink until ClickHouse
// holds the period's entitlements.
func Allocate(ctx context.Context, p Ports, dao string, rewardAt time.Time, treasury string, log *slog.Logger) (period string, minted bool, err error) {
	sc := Build(dao, rewardAt, treasury)
	period = entitle.PeriodOf(sc.Reward.TimestampSeconds)
	var facts []schemas.Fact
	add := func(topic, typ, key string, prov schemas.Provenance, v any) {
		f, ferr := schemas.NewFact(topic, typ, key, prov, v)
		if ferr != nil && err == nil {
			err = ferr
		}
		facts = append(facts, f)
	}
	for _, pl := range sc.Pools {
		add(schemas.TopicPools, schemas.TypePool, schemas.PoolKey(pl.DAO, pl.PoolID), admin, pl)
	}
	for _, c := range sc.Contributions {
		add(schemas.TopicContributions, schemas.TypeContribution, schemas.ContributionKey(c.DAO, c.PoolID, c.ContributionID), admin, c)
	}
	for _, r := range sc.Rates {
		add(schemas.TopicRates, schemas.TypeRate, schemas.RateKey("demo", r.Kind, r.TimestampSeconds), simulated, r)
	}
	if err != nil {
		return period, false, err
	}
	st, err := p.Log.PublishOnce(ctx, facts)
	if err != nil {
		return period, false, err
	}
	reward, err := schemas.NewFact(schemas.TopicNodeRewards, schemas.TypeNodeReward, entitle.RewardEventID(sc.Reward), simulated, sc.Reward)
	if err != nil {
		return period, false, err
	}
	rst, err := p.Log.PublishOnce(ctx, []schemas.Fact{reward})
	if err != nil {
		return period, false, err
	}
	log.Info("facts published", "new", st.Published+rst.Published, "total", len(facts)+1)
	if rst.Published == 1 {
		// The NNS mints the reward to the DAO's account once, when the
		// reward is first seen.
		if err := p.Mint(ctx, treasury, sc.Reward.AmountE8s); err != nil {
			return period, false, err
		}
		minted = true
	}
	if err := p.Process(ctx); err != nil {
		return period, minted, err
	}
	return period, minted, p.Sink(ctx)
}

// Run is the whole demo: Allocate, then the payout (planned once, approved
// by the demo's approver, run), then the sink again so the intents and
// results are in the audit trail too. Run twice, it pays nobody twice.
func Run(ctx context.Context, p Ports, eng *payout.Engine, dao string, rewardAt time.Time, log *slog.Logger) (Result, error) {
	out := Result{DAO: dao, Treasury: eng.Ledger.TreasuryText()}
	var err error
	if out.Period, out.Minted, err = Allocate(ctx, p, dao, rewardAt, out.Treasury, log); err != nil {
		return out, err
	}
	m, _, err := eng.Plan(ctx, dao, out.Period, true)
	if err != nil {
		return out, err
	}
	if _, _, err := eng.Approve(ctx, dao, out.Period, m.SHA256, "demo"); err != nil {
		return out, err
	}
	if out.Payout, err = eng.Run(ctx, dao, out.Period, payout.RunOptions{ExpectSHA256: m.SHA256}); err != nil {
		return out, err
	}
	return out, p.Sink(ctx)
}
