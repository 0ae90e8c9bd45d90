package demo

import (
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/nodeshare/nodeshare/pipeline/money"
	"github.com/nodeshare/nodeshare/schemas"
)

// Scenario is one DAO crowdfunding two nodes. Every account and node is
// derived from the DAO name, so two DAOs never share one and the same DAO
// always gets the same ones; the sponsors are named, and the Wallets port
// holds each name's own key.
type Scenario struct {
	DAO          string
	NodeProvider string
	Pools        []schemas.Pool
	// Deposits are the sponsors' transfers to the pools' deposit accounts,
	// in the order they are sent.
	Deposits []Deposit
	// Purchaser buys the hardware: it posts each pool's bond and is paid
	// the stake at settlement.
	Purchaser string
}

// Deposit is one sponsor's transfer to a pool's deposit account (Legacy:
// with the ledger's legacy transfer, so the sponsor is known by its account
// identifier and paid back with it).
type Deposit struct {
	Pool, Sponsor string
	AmountE8s     int64
	Legacy        bool
}

// The demo pools' terms: a 100 ICP node, 0.5 ICP minimum, no identity
// above 35%, a 5% slash on rejection, a 10 ICP bond from the purchaser.
const (
	targetE8s = int64(100 * money.E8sPerICP)
	bondE8s   = int64(10 * money.E8sPerICP)
)

// principalOf is the demo principal of what in dao: an opaque principal
// (suffix 0x01) made from a hash, a valid owner nobody holds a key for.
func principalOf(dao, what string) string {
	h := sha256.Sum256([]byte("nodeshare-demo/" + dao + "/" + what))
	return schemas.OpaqueAccountText([28]byte(h[:28]))
}

// NodeOf is the node id of pool's node in dao's scenario.
func NodeOf(dao, pool string) string { return principalOf(dao, pool+"/node") }

// Build is the demo scenario of dao, its deadlines counted from now (the
// IC's time when the pools are first created): pool-a is funded by a whale
// with 30 ICP and 50 small sponsors (0.5 to 2 ICP, 70 ICP in all) and pays
// a 35% whale premium; pool-b by 20 equal sponsors, half of them through
// the legacy transfer, with no premium.
func Build(dao string, now time.Time, purchaserAccountID string) Scenario {
	s := Scenario{DAO: dao, NodeProvider: principalOf(dao, "node-provider"), Purchaser: "hardware-vendor"}
	hoster := principalOf(dao, "hoster")
	terms := func() *schemas.PoolTerms {
		return &schemas.PoolTerms{TargetE8s: targetE8s, MinContributionE8s: int64(money.E8sPerICP / 2), MaxSponsorBps: 3500,
			FundingDeadline: now.Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339), Purchaser: purchaserAccountID, SlashBps: 500,
			BondE8s: bondE8s, LockupUntil: now.AddDate(2, 0, 0).UTC().Format(time.RFC3339), MaxVotingBps: 3500, LedgerFeeE8s: 10_000}
	}
	s.Pools = []schemas.Pool{
		{DAO: dao, PoolID: "pool-a", NodeProvider: s.NodeProvider,
			Nodes:     []schemas.Node{{NodeID: NodeOf(dao, "pool-a"), WeightXDRPermyriad: 15_000_000}},
			Hoster:    schemas.HosterTerms{Account: hoster, FixedXDRPermyriad: 2_000_000, Bps: 500},
			DAOFeeBps: 200, WhalePremiumBps: 3500, MinPayoutE8s: 1_000_000, RulesVersion: "v1", Terms: terms()},
		{DAO: dao, PoolID: "pool-b", NodeProvider: s.NodeProvider,
			Nodes:     []schemas.Node{{NodeID: NodeOf(dao, "pool-b"), WeightXDRPermyriad: 12_500_000}},
			Hoster:    schemas.HosterTerms{Account: hoster, FixedXDRPermyriad: 2_000_000, Bps: 500},
			DAOFeeBps: 200, WhalePremiumBps: 0, MinPayoutE8s: 1_000_000, RulesVersion: "v1", Terms: terms()},
	}
	s.Deposits = append(s.Deposits, Deposit{Pool: "pool-a", Sponsor: "pool-a/whale", AmountE8s: int64(30 * money.E8sPerICP)})
	var small int64
	for i := 1; i <= 50; i++ {
		amt := int64(50_000_000 + (i*37%16)*10_000_000) // 0.5 to 2.0 ICP
		if i == 50 {
			amt = targetE8s - int64(30*money.E8sPerICP) - small // the 50 small stakes sum to 70 ICP
		}
		small += amt
		s.Deposits = append(s.Deposits, Deposit{Pool: "pool-a", Sponsor: fmt.Sprintf("pool-a/sponsor-%02d", i), AmountE8s: amt})
	}
	for i := 1; i <= 20; i++ {
		s.Deposits = append(s.Deposits, Deposit{Pool: "pool-b", Sponsor: fmt.Sprintf("pool-b/sponsor-%02d", i),
			AmountE8s: int64(5 * money.E8sPerICP), Legacy: i%2 == 0})
	}
	return s
}

// rewardOf is the NNS reward of the scenario's node provider minted at:
// both nodes' XDR at 3.5 XDR per ICP, the NNS formula floor(xdr * 1e8 /
// rate).
func rewardOf(s Scenario, at time.Time, treasury string) schemas.NodeReward {
	const rate = 35_000 // 3.5 XDR per ICP, in permyriad
	xdr := money.XDRPermyriad(15_000_000 + 12_500_000)
	amount, _ := money.XDRToE8s(xdr, rate)
	return schemas.NodeReward{NodeProvider: s.NodeProvider, TimestampSeconds: uint64(at.Unix()),
		AmountE8s: int64(amount), XDRPermyriadPerICP: rate, RewardAccount: treasury}
}
