package schemas

import "strconv"

// Record keys, one function per topic: every producer builds a topic's key
// here, so a key has one documented form (TopicSpec.Key in topics.go and
// ic_events.go says the same). Keys are deterministic: publishing the same
// fact twice finds its key and adds nothing.

// NodeRewardKey is the key (and event id) of an NNS node-provider reward
// on ic.node-rewards.v1: <node provider principal>/<reward timestamp seconds>.
func NodeRewardKey(nodeProvider string, timestampSeconds uint64) string {
	return nodeProvider + "/" + strconv.FormatUint(timestampSeconds, 10)
}

// RateKey is the key of a rate on ic.icp-xdr-rates.v1:
// <source>/<kind>/<timestamp seconds>. Source is "cmc", "dashboard",
// "nodeshare" (the rates the processor derives: avg30, nns) or "demo".
func RateKey(source, kind string, timestampSeconds uint64) string {
	return source + "/" + kind + "/" + strconv.FormatUint(timestampSeconds, 10)
}

// LedgerBlockKey is the key of a ledger block on ic.ledger-blocks.v1:
// <ledger canister>/<block index>.
func LedgerBlockKey(ledgerCanister string, index uint64) string {
	return ledgerCanister + "/" + strconv.FormatUint(index, 10)
}

// PoolKey is the key of a pool's terms on the compacted dao.pools.v1:
// <dao>/<pool id>.
func PoolKey(dao, poolID string) string { return dao + "/" + poolID }

// ContributionKey is the key of a contribution on dao.contributions.v1:
// <dao>/<pool id>/<contribution id>.
func ContributionKey(dao, poolID, contributionID string) string {
	return dao + "/" + poolID + "/" + contributionID
}

// PoolPeriodKey is the key of a pool period on dao.entitlements.v1:
// <dao>/<period>/<pool id>.
func PoolPeriodKey(dao, period, poolID string) string { return dao + "/" + period + "/" + poolID }

// EntitlementKey is the key of one recipient's entitlement on
// dao.entitlements.v1: <dao>/<period>/<pool id>/<role>/<recipient>.
func EntitlementKey(dao, period, poolID, role, recipient string) string {
	return PoolPeriodKey(dao, period, poolID) + "/" + role + "/" + recipient
}

// PayoutIntentKey is the key of an intent on dao.payout-intents.v1: the
// intent id.
func PayoutIntentKey(intentID string) string { return intentID }

// PayoutAttemptKey is the event id of a new attempt (a new
// created_at_time) of an intent, published on dao.payout-intents.v1
// under the intent's key so it follows its intent:
// <intent id>/attempt/<n>.
func PayoutAttemptKey(intentID string, attempt int) string {
	return intentID + "/attempt/" + strconv.Itoa(attempt)
}

// PayoutResultKey is the key of a result on dao.payout-results.v1: the
// intent id (every result of an intent follows it on one partition).
func PayoutResultKey(intentID string) string { return intentID }

// PayoutResultID is the event id of one recorded result:
// <intent id>/<status>/<recorded at, ns>.
func PayoutResultID(intentID, status string, recordedAtNanos int64) string {
	return intentID + "/" + status + "/" + strconv.FormatInt(recordedAtNanos, 10)
}

// PayoutApprovalKey is the key of an approval on dao.payout-approvals.v1:
// <manifest sha256>/<approver>.
func PayoutApprovalKey(manifestSHA256, approver string) string {
	return manifestSHA256 + "/" + approver
}

// DeadLetterKey (dlq.go) is the key of a dead letter on dao.dlq.v1:
// <source topic>/<partition>/<offset>.

// NodeDailyRewardKey is the key on ic.node-daily-rewards.v1:
// <node provider principal>/<node id>/<YYYY-MM-DD>.
func NodeDailyRewardKey(nodeProvider, nodeID, day string) string {
	return nodeProvider + "/" + nodeID + "/" + day
}

// NodePeriodWeightKey is the key on ic.node-period-weights.v1:
// <node provider principal>/<reward timestamp seconds>/<node id>.
func NodePeriodWeightKey(nodeProvider string, rewardTimestampSeconds uint64, nodeID string) string {
	return NodeRewardKey(nodeProvider, rewardTimestampSeconds) + "/" + nodeID
}

// SourceAlarmKey is the key on ic.source-alarms.v1:
// <kind>/<cmc timestamp seconds>/<dashboard timestamp seconds>.
func SourceAlarmKey(kind string, cmcSeconds, dashboardSeconds uint64) string {
	return kind + "/" + strconv.FormatUint(cmcSeconds, 10) + "/" + strconv.FormatUint(dashboardSeconds, 10)
}

// FiatPriceKey is the key of a fiat price of ICP on ext.icp-fiat-prices.v1
// (fiat_price.go): <source>/<currency>/<timestamp seconds>, e.g.
// coingecko/usd/1760000000.
func FiatPriceKey(source, currency string, timestampSeconds uint64) string {
	return source + "/" + currency + "/" + strconv.FormatUint(timestampSeconds, 10)
}
