package schemas

import "time"

// Topic names. Each is named for what it holds and versioned.
const (
	TopicNodeRewards    = "ic.node-rewards.v1"
	TopicRates          = "ic.icp-xdr-rates.v1"
	TopicLedgerBlocks   = "ic.ledger-blocks.v1"
	TopicPools          = "dao.pools.v1"
	TopicContributions  = "dao.contributions.v1"
	TopicEntitlements   = "dao.entitlements.v1"
	TopicPayoutIntents  = "dao.payout-intents.v1"
	TopicPayoutResults  = "dao.payout-results.v1"
	TopicPayoutApproval = "dao.payout-approvals.v1"
	// TopicPayoutReleases holds the operators' releases of periods put on
	// hold by the sanity checks (schemas.PayoutRelease).
	TopicPayoutReleases = "dao.payout-releases.v1"
	// TopicChainTips holds the latest signed tips of the audit trail's
	// hash chains (pipeline/audit.SignedTips), key "tips".
	TopicChainTips = "dao.chain-tips.v1"
	TopicDLQ       = "dao.dlq.v1"
)

// TopicSpec is how a topic is created: partitions, and whether the log is
// compacted (latest value per key) or deleted after a retention time.
type TopicSpec struct {
	Name       string
	Partitions int
	// Compacted topics keep the latest record per key forever.
	Compacted bool
	// Retention applies to non-compacted topics; 0 means keep forever.
	Retention time.Duration
	// Key documents the record key, which is always deterministic so that
	// re-publishing the same fact never creates a second logical record.
	Key string
}

// Topics lists every topic nodeshare creates when missing. Money topics
// (entitlements, intents, results) are kept forever: they are the evidence.
func Topics() []TopicSpec {
	const year = 365 * 24 * time.Hour
	return append([]TopicSpec{
		{Name: TopicNodeRewards, Partitions: 1, Key: "<node provider principal>/<reward timestamp seconds>"},
		{Name: TopicRates, Partitions: 1, Retention: 2 * year, Key: "<source>/<kind>/<timestamp seconds>"},
		{Name: TopicLedgerBlocks, Partitions: 1, Key: "<ledger canister>/<block index>; the connector's cursor <ledger canister>/cursor/<next index>"},
		{Name: TopicPools, Partitions: 1, Compacted: true, Key: "<dao>/<pool id>"},
		{Name: TopicContributions, Partitions: 1, Key: "<dao>/<pool id>/<contribution id>"},
		{Name: TopicEntitlements, Partitions: 1, Key: "<dao>/<period>/<pool id>[/<recipient>]"},
		{Name: TopicPayoutIntents, Partitions: 1, Key: "<intent id>"},
		{Name: TopicPayoutResults, Partitions: 1, Key: "<intent id>"},
		{Name: TopicPayoutApproval, Partitions: 1, Key: "<manifest sha256>/<approver>"},
		{Name: TopicPayoutReleases, Partitions: 1, Key: "<dao>/<period>/<holds sha256>"},
		{Name: TopicChainTips, Partitions: 1, Compacted: true, Key: "tips"},
		{Name: TopicDLQ, Partitions: 1, Retention: 2 * year, Key: "<source topic>/<partition>/<offset>"},
	}, append(append(append(ICTopics(), PoolTopics()...), ExtTopics()...), MemberTopics()...)...)
}
