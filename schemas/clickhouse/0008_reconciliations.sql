-- Four-way reconciliations (pipeline/reconcile, docs/finance.md): each run
-- of `nodeshare reconcile` (or `report`, or a payout run) stores one row per
-- manifest with its state, and one row per difference. Rows are kept per
-- check (checked_at): the history shows when a period became reconciled.
CREATE TABLE IF NOT EXISTS reconciliations (
    dao             String,
    period          String,
    manifest_sha256 String,
    state           LowCardinality(String),
    intents         UInt32,
    matched         UInt32,
    pending         UInt32,
    differences     UInt32,
    checked_at      DateTime64(3, 'UTC')
) ENGINE = ReplacingMergeTree
ORDER BY (dao, period, checked_at)
SETTINGS non_replicated_deduplication_window = 10000;

CREATE TABLE IF NOT EXISTS reconciliation_differences (
    dao         String,
    period      String,
    checked_at  DateTime64(3, 'UTC'),
    seq         UInt32,
    kind        LowCardinality(String),
    intent_id   String,
    block_index Nullable(UInt64),
    expected    String,
    actual      String,
    detail      String
) ENGINE = ReplacingMergeTree
ORDER BY (dao, period, checked_at, seq)
SETTINGS non_replicated_deduplication_window = 10000;
