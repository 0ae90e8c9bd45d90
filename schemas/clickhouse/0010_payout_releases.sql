-- Releases of periods put on hold by the sanity checks (pipeline/sanity,
-- docs/payouts.md "Sanity holds"): written by `nodeshare payout release`
-- after the event log (dao.payout-releases.v1) holds them; read before a
-- plan. One row per release; a period may be released more than once
-- (other holds).
CREATE TABLE IF NOT EXISTS payout_releases (
    dao          String,
    period       String,
    holds_sha256 String,
    holds        String,
    reason       String,
    releaser     String,
    released_at  DateTime64(3, 'UTC'),
    recorded_at  DateTime64(3, 'UTC')
) ENGINE = ReplacingMergeTree
ORDER BY (dao, period, holds_sha256)
SETTINGS non_replicated_deduplication_window = 10000;
