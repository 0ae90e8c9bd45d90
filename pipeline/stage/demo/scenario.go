package demo

import (
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/nodeshare/nodeshare/pipeline/money"
	"github.com/nodeshare/nodeshare/schemas"
)

// Scenario is one DAO with two pools and one month's reward. Every
// account is derived from the DAO name, so two DAOs never share an account
// and the same DAO always gets the same ones.
type Scenario struct {
	DAO           string
	NodeProvider  string
	Pools         []schemas.Pool
	Contributions []schemas.Contribution
	Reward        schemas.NodeReward
	Rates         []schemas.Rate
}

// account is the demo account of what in dao.
func account(dao, what string) string {
	h := sha256.Sum256([]byte("nodeshare-demo/" + dao + "/" + what))
	// An opaque principal (suffix 0x01) made from the hash: a valid ledger
	// owner that nobody holds a key for, as a sponsor's wallet is to us.
	return schemas.OpaqueAccountText([28]byte(h[:28]))
}

// Build is the demo scenario of dao: pool-a has a whale with 30% of the stake and 50 small
// sponsors (0.5 to 2 ICP each, 70 ICP in all) and a 35% whale premium;
// pool-b has 20 equal sponsors and no premium. One NNS reward pays both
// nodes at 3.5 XDR per ICP.
func Build(dao string, rewardAt time.Time, treasury string) Scenario {
	s := Scenario{DAO: dao, NodeProvider: account(dao, "node-provider")}
	hoster := account(dao, "hoster")
	funded := rewardAt.AddDate(0, -2, 0).UTC()
	s.Pools = []schemas.Pool{
		{DAO: dao, PoolID: "pool-a", NodeProvider: s.NodeProvider,
			Nodes:     []schemas.Node{{NodeID: "node-a1", WeightXDRPermyriad: 15_000_000}},
			Hoster:    schemas.HosterTerms{Account: hoster, FixedXDRPermyriad: 2_000_000, Bps: 500},
			DAOFeeBps: 200, WhalePremiumBps: 3500, MinPayoutE8s: 1_000_000, RulesVersion: "v1", ProposalStatus: "adopted"},
		{DAO: dao, PoolID: "pool-b", NodeProvider: s.NodeProvider,
			Nodes:     []schemas.Node{{NodeID: "node-b1", WeightXDRPermyriad: 12_500_000}},
			Hoster:    schemas.HosterTerms{Account: hoster, FixedXDRPermyriad: 2_000_000, Bps: 500},
			DAOFeeBps: 200, WhalePremiumBps: 0, MinPayoutE8s: 1_000_000, RulesVersion: "v1", ProposalStatus: "adopted"},
	}
	add := func(pool string, i int, sponsor string, amount int64) {
		s.Contributions = append(s.Contributions, schemas.Contribution{DAO: dao, PoolID: pool,
			ContributionID: fmt.Sprintf("%s-c%03d", pool, i), Sponsor: sponsor, AmountE8s: amount,
			At: funded.Add(time.Duration(i) * time.Hour).Format(time.RFC3339)})
	}
	add("pool-a", 0, account(dao, "pool-a/whale"), int64(30*money.E8sPerICP))
	var small int64
	for i := 1; i <= 50; i++ {
		amt := int64(50_000_000 + (i*37%16)*10_000_000) // 0.5 to 2.0 ICP
		if i == 50 {
			amt = int64(70*money.E8sPerICP) - small // the 50 small stakes sum to 70 ICP
		}
		small += amt
		add("pool-a", i, account(dao, fmt.Sprintf("pool-a/sponsor-%02d", i)), amt)
	}
	for i := 1; i <= 20; i++ {
		add("pool-b", i, account(dao, fmt.Sprintf("pool-b/sponsor-%02d", i)), int64(5*money.E8sPerICP))
	}
	const rate = 35_000 // 3.5 XDR per ICP, in permyriad
	xdr := money.XDRPermyriad(15_000_000 + 12_500_000)
	amount, _ := money.XDRToE8s(xdr, rate) // the NNS formula: floor(xdr * 1e8 / rate)
	s.Reward = schemas.NodeReward{NodeProvider: s.NodeProvider, TimestampSeconds: uint64(rewardAt.Unix()),
		AmountE8s: int64(amount), XDRPermyriadPerICP: rate, RewardAccount: treasury}
	for d := 0; d < 3; d++ {
		ts := uint64(rewardAt.Add(-time.Duration(d) * 24 * time.Hour).Unix())
		s.Rates = append(s.Rates, schemas.Rate{Kind: "spot", TimestampSeconds: ts, XDRPermyriadPerICP: 34_800 + int64(d)*100})
	}
	s.Rates = append(s.Rates, schemas.Rate{Kind: "avg30", TimestampSeconds: uint64(rewardAt.Unix()), XDRPermyriadPerICP: rate})
	return s
}
