-- Raw copy of every Kafka record nodeshare reads, keyed by its coordinates.
-- ReplacingMergeTree + insert de-duplication tokens make redelivered batches
-- harmless; exact reads use FINAL (PITFALLS C5, C7).
CREATE TABLE IF NOT EXISTS events_raw (
    topic          LowCardinality(String),
    partition      UInt32,
    offset         UInt64,
    key            String,
    event_id       String,
    event_type     LowCardinality(String),
    schema_version UInt16,
    provenance     String,
    payload        String,
    kafka_time     DateTime64(3, 'UTC'),
    ingested_at    DateTime64(3, 'UTC')
) ENGINE = ReplacingMergeTree
ORDER BY (topic, partition, offset)
SETTINGS non_replicated_deduplication_window = 10000;

-- One row per recipient per pool period: the decision and its explanation.
CREATE TABLE IF NOT EXISTS entitlements (
    dao             String,
    period          String,
    pool_id         String,
    recipient       String,
    role            LowCardinality(String),
    rules_version   LowCardinality(String),
    stake_e8s       Int64,
    share_e8s       Int64,
    carry_in_e8s    Int64,
    owed_e8s        Int64,
    transfer_e8s    Int64,
    fee_e8s         Int64,
    carry_out_e8s   Int64,
    manifest_sha256 String,
    explanation     String,
    event_id        String,
    kafka_partition UInt32,
    kafka_offset    UInt64
) ENGINE = ReplacingMergeTree
ORDER BY (dao, period, pool_id, role, recipient)
SETTINGS non_replicated_deduplication_window = 10000;

-- One row per pool period: totals, rule version, hashes, and the exact
-- allocation input and output so the period can be recomputed.
CREATE TABLE IF NOT EXISTS pool_periods (
    dao               String,
    period            String,
    pool_id           String,
    rules_version     LowCardinality(String),
    reward_event_id   String,
    gross_e8s         Int64,
    hoster_fee_e8s    Int64,
    dao_fee_e8s       Int64,
    distributable_e8s Int64,
    whale             String,
    recipients        UInt32,
    inputs_sha256     String,
    manifest_sha256   String,
    input_json        String,
    allocation_json   String,
    event_id          String,
    kafka_partition   UInt32,
    kafka_offset      UInt64
) ENGINE = ReplacingMergeTree
ORDER BY (dao, period, pool_id)
SETTINGS non_replicated_deduplication_window = 10000;

-- Payout intents, written before any signature.
CREATE TABLE IF NOT EXISTS payout_intents (
    intent_id        String,
    dao              String,
    period           String,
    pool_id          String,
    recipient        String,
    role             LowCardinality(String),
    amount_e8s       Int64,
    fee_e8s          Int64,
    memo_hex         String,
    created_at_nanos UInt64,
    manifest_sha256  String
) ENGINE = ReplacingMergeTree
ORDER BY intent_id
SETTINGS non_replicated_deduplication_window = 10000;

-- Verified payout outcomes. A later result for the same intent replaces an
-- earlier one (failed, then paid on resume); version is the record time.
CREATE TABLE IF NOT EXISTS payout_results (
    intent_id   String,
    status      LowCardinality(String),
    block_index UInt64,
    duplicate   Bool,
    verified_by LowCardinality(String),
    error       String,
    amount_e8s  Int64,
    recipient   String,
    recorded_at DateTime64(9, 'UTC')
) ENGINE = ReplacingMergeTree(recorded_at)
ORDER BY intent_id
SETTINGS non_replicated_deduplication_window = 10000;

-- Records that could not be processed, with the reason and the raw bytes.
CREATE TABLE IF NOT EXISTS dead_letters (
    source_topic LowCardinality(String),
    partition    UInt32,
    offset       UInt64,
    key          String,
    reason       String,
    raw_base64   String,
    recorded_at  DateTime64(3, 'UTC')
) ENGINE = ReplacingMergeTree
ORDER BY (source_topic, partition, offset)
SETTINGS non_replicated_deduplication_window = 10000;
