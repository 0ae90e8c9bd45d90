package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"time"

	"github.com/nodeshare/nodeshare/connectors/clickhouse"
	"github.com/nodeshare/nodeshare/connectors/kafka"
	"github.com/nodeshare/nodeshare/pipeline/entitle"
	"github.com/nodeshare/nodeshare/pipeline/money"
	"github.com/nodeshare/nodeshare/pipeline/stage/process"
	"github.com/nodeshare/nodeshare/pipeline/stage/sink"
	"github.com/nodeshare/nodeshare/schemas"
)

// A configured period for the payout tests: two pools whose NNS proposal
// is recorded as adopted and whose contributions are typed onto
// dao.contributions.v1 (the inputs the entitlement processor takes for a
// pool without lifecycle terms), one NNS reward minted to the treasury,
// run through the processor and the sink. 73 transfers: 51 + 20 sponsors
// and the two pools' hoster.

// legacyAccount is the test account of what in dao: an opaque principal.
func legacyAccount(dao, what string) string {
	h := sha256.Sum256([]byte("nodeshare-test/" + dao + "/" + what))
	return schemas.OpaqueAccountText([28]byte(h[:28]))
}

// allocateLegacyPeriod publishes the period's facts (those not yet on
// their topics), mints the reward when it is new, and drains the processor
// and the sink.
func allocateLegacyPeriod(ctx context.Context, cfg config, store *clickhouse.Store, producer *kafka.Producer, dao string, rewardAt time.Time,
	treasury string, fee uint64, log *slog.Logger) (period string, minted bool, err error) {
	np := legacyAccount(dao, "node-provider")
	hoster := legacyAccount(dao, "hoster")
	funded := rewardAt.AddDate(0, -2, 0).UTC()
	pools := []schemas.Pool{
		{DAO: dao, PoolID: "pool-a", NodeProvider: np, Nodes: []schemas.Node{{NodeID: "node-a1", WeightXDRPermyriad: 15_000_000}},
			Hoster: schemas.HosterTerms{Account: hoster, FixedXDRPermyriad: 2_000_000, Bps: 500}, DAOFeeBps: 200, WhalePremiumBps: 3500,
			MinPayoutE8s: 1_000_000, RulesVersion: "v1", ProposalStatus: "adopted"},
		{DAO: dao, PoolID: "pool-b", NodeProvider: np, Nodes: []schemas.Node{{NodeID: "node-b1", WeightXDRPermyriad: 12_500_000}},
			Hoster: schemas.HosterTerms{Account: hoster, FixedXDRPermyriad: 2_000_000, Bps: 500}, DAOFeeBps: 200,
			MinPayoutE8s: 1_000_000, RulesVersion: "v1", ProposalStatus: "adopted"},
	}
	admin := schemas.Provenance{Source: "dao-admin", Method: "test"}
	var facts []schemas.Fact
	add := func(topic, typ, key string, prov schemas.Provenance, v any) {
		f, ferr := schemas.NewFact(topic, typ, key, prov, v)
		if ferr != nil && err == nil {
			err = ferr
		}
		facts = append(facts, f)
	}
	for _, p := range pools {
		add(schemas.TopicPools, schemas.TypePool, schemas.PoolKey(p.DAO, p.PoolID), admin, p)
	}
	contribution := func(pool string, i int, sponsor string, amount int64) {
		c := schemas.Contribution{DAO: dao, PoolID: pool, ContributionID: fmt.Sprintf("%s-c%03d", pool, i), Sponsor: sponsor, AmountE8s: amount,
			At: funded.Add(time.Duration(i) * time.Hour).Format(time.RFC3339)}
		add(schemas.TopicContributions, schemas.TypeContribution, schemas.ContributionKey(c.DAO, c.PoolID, c.ContributionID), admin, c)
	}
	contribution("pool-a", 0, legacyAccount(dao, "pool-a/whale"), int64(30*money.E8sPerICP))
	var small int64
	for i := 1; i <= 50; i++ {
		amt := int64(50_000_000 + (i*37%16)*10_000_000)
		if i == 50 {
			amt = int64(70*money.E8sPerICP) - small
		}
		small += amt
		contribution("pool-a", i, legacyAccount(dao, fmt.Sprintf("pool-a/sponsor-%02d", i)), amt)
	}
	for i := 1; i <= 20; i++ {
		contribution("pool-b", i, legacyAccount(dao, fmt.Sprintf("pool-b/sponsor-%02d", i)), int64(5*money.E8sPerICP))
	}
	const rate = 35_000
	amount, _ := money.XDRToE8s(money.XDRPermyriad(15_000_000+12_500_000), rate)
	reward := schemas.NodeReward{NodeProvider: np, TimestampSeconds: uint64(rewardAt.Unix()), AmountE8s: int64(amount), XDRPermyriadPerICP: rate, RewardAccount: treasury}
	if err != nil {
		return "", false, err
	}
	evlog := &kafka.Log{Brokers: cfg.brokers(), Producer: producer}
	if _, err := evlog.PublishOnce(ctx, facts); err != nil {
		return "", false, err
	}
	rf, err := schemas.NewFact(schemas.TopicNodeRewards, schemas.TypeNodeReward, entitle.RewardEventID(reward), schemas.Provenance{Source: "test"}, reward)
	if err != nil {
		return "", false, err
	}
	st, err := evlog.PublishOnce(ctx, []schemas.Fact{rf})
	if err != nil {
		return "", false, err
	}
	if st.Published == 1 {
		if err := simMint(ctx, cfg.ICURL, treasury, reward.AmountE8s); err != nil {
			return "", false, err
		}
		minted = true
	}
	pc := process.Config{Group: process.DefaultGroup, EntitlementsTopic: schemas.TopicEntitlements, Params: entitle.Params{LedgerFeeE8s: int64(fee)}, Logger: log}
	if err := runProcessor(ctx, cfg.brokers(), kafka.TopicOptions{}, "", pc, true); err != nil {
		return "", minted, err
	}
	sc := sink.Config{Group: sink.DefaultGroup, MaxBatch: 50000, MaxWait: 200 * time.Millisecond, Logger: log}
	return entitle.PeriodOf(reward.TimestampSeconds), minted, runSinkStage(ctx, cfg.brokers(), kafka.TopicOptions{}, "", store, sc, true)
}
