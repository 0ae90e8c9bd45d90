-- A sponsor's statement reads one recipient's entitlements: sorted by
-- recipient first, so the read goes through the sort key instead of
-- scanning `entitlements` (docs/finance.md, the statement benchmark). The
-- fields a statement shows are packed into one column, `line` (unit
-- separator 0x1F between them, in the order connectors/clickhouse
-- EntitlementsOf reads them), so the read decompresses two columns, not
-- thirteen. Kept in step by a materialized view on every insert into
-- `entitlements`; the rows already there are copied once. Small granules:
-- a statement reads a dozen rows, not 8,192.
CREATE TABLE IF NOT EXISTS entitlements_by_recipient (
    recipient String,
    dao       String,
    period    String,
    pool_id   String,
    role      LowCardinality(String),
    line      String
) ENGINE = ReplacingMergeTree
ORDER BY (recipient, dao, period, pool_id, role)
SETTINGS index_granularity = 1024;

CREATE MATERIALIZED VIEW IF NOT EXISTS entitlements_by_recipient_mv TO entitlements_by_recipient AS
SELECT recipient, dao, period, pool_id, role,
       concat(dao, char(31), period, char(31), pool_id, char(31), recipient, char(31), role, char(31), rules_version, char(31),
              toString(stake_e8s), char(31), toString(share_e8s), char(31), toString(carry_in_e8s), char(31), toString(owed_e8s), char(31),
              toString(transfer_e8s), char(31), toString(fee_e8s), char(31), toString(carry_out_e8s)) AS line
FROM entitlements;

INSERT INTO entitlements_by_recipient
SELECT recipient, dao, period, pool_id, role,
       concat(dao, char(31), period, char(31), pool_id, char(31), recipient, char(31), role, char(31), rules_version, char(31),
              toString(stake_e8s), char(31), toString(share_e8s), char(31), toString(carry_in_e8s), char(31), toString(owed_e8s), char(31),
              toString(transfer_e8s), char(31), toString(fee_e8s), char(31), toString(carry_out_e8s))
FROM entitlements;
