-- A sponsor's statement reads one recipient's entitlements: the same rows
-- as `entitlements`, sorted by recipient first so that the read goes
-- through the sort key instead of scanning the table (docs/finance.md,
-- the statement benchmark). Kept in step by a materialized view on every
-- insert into `entitlements`; the rows already there are copied once.
-- Small granules: a statement reads a dozen rows, not 8,192.
CREATE TABLE IF NOT EXISTS entitlements_by_recipient AS entitlements
ENGINE = ReplacingMergeTree
ORDER BY (recipient, dao, period, pool_id, role)
SETTINGS index_granularity = 1024;

CREATE MATERIALIZED VIEW IF NOT EXISTS entitlements_by_recipient_mv TO entitlements_by_recipient
AS SELECT * FROM entitlements;

INSERT INTO entitlements_by_recipient SELECT * FROM entitlements;
