-- Payout workflow: manifest headers, approvals and re-attempts.

-- One row per planned DAO period: totals, rules version, the pool periods'
-- manifest hashes it was computed from, and the manifest hash approvals bind
-- to. Written once (re-planning returns the stored row).
CREATE TABLE IF NOT EXISTS payout_manifests (
    dao              String,
    period           String,
    manifest_sha256  String,
    rules_version    String,
    input_hashes     String,
    intents          UInt32,
    total_amount_e8s Int64,
    total_fee_e8s    Int64,
    carried_e8s      Int64,
    created_at_nanos UInt64,
    planned_at       DateTime64(3, 'UTC')
) ENGINE = ReplacingMergeTree
ORDER BY (dao, period)
SETTINGS non_replicated_deduplication_window = 10000;

-- Approvals of a manifest hash, one row per approver.
CREATE TABLE IF NOT EXISTS payout_approvals (
    manifest_sha256 String,
    approver        String,
    dao             String,
    period          String,
    approved_at     DateTime64(3, 'UTC')
) ENGINE = ReplacingMergeTree
ORDER BY (manifest_sha256, approver)
SETTINGS non_replicated_deduplication_window = 10000;

-- New created_at_time attempts of an intent, each written before it is
-- signed, after the earlier attempts were proven absent from the ledger.
CREATE TABLE IF NOT EXISTS payout_attempts (
    intent_id        String,
    attempt          UInt32,
    created_at_nanos UInt64,
    reason           String,
    recorded_at      DateTime64(3, 'UTC')
) ENGINE = ReplacingMergeTree
ORDER BY (intent_id, attempt)
SETTINGS non_replicated_deduplication_window = 10000;
