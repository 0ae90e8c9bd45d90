-- Hash chain per stream: every raw row carries the hash of the previous row
-- of its (topic, partition) in offset order and its own hash
-- (schemas.ChainHash). `nodeshare audit verify` recomputes it.
ALTER TABLE events_raw ADD COLUMN IF NOT EXISTS prev_hash String;
ALTER TABLE events_raw ADD COLUMN IF NOT EXISTS row_hash String;

-- Who got what for a period, and why: one row per recipient, with the
-- intent and the verified ledger result when there is one.
CREATE VIEW IF NOT EXISTS v_period_payouts AS
SELECT e.dao AS dao, e.period AS period, e.pool_id AS pool_id, e.role AS role, e.recipient AS recipient,
       e.rules_version AS rules_version, e.stake_e8s AS stake_e8s, e.share_e8s AS share_e8s,
       e.carry_in_e8s AS carry_in_e8s, e.owed_e8s AS owed_e8s, e.transfer_e8s AS transfer_e8s,
       e.fee_e8s AS fee_e8s, e.carry_out_e8s AS carry_out_e8s, e.explanation AS explanation,
       e.manifest_sha256 AS allocation_manifest_sha256,
       i.intent_id AS intent_id, i.memo_hex AS memo_hex, i.created_at_nanos AS created_at_nanos,
       i.manifest_sha256 AS payout_manifest_sha256,
       r.status AS status, r.block_index AS block_index, r.duplicate AS duplicate, r.verified_by AS verified_by
FROM (SELECT * FROM entitlements FINAL) AS e
LEFT JOIN (SELECT * FROM payout_intents FINAL) AS i
  ON i.dao = e.dao AND i.period = e.period AND i.pool_id = e.pool_id AND i.role = e.role AND i.recipient = e.recipient
LEFT JOIN (SELECT * FROM payout_results FINAL) AS r ON r.intent_id = i.intent_id;

-- Anything unmatched: an entitlement with a transfer but no intent, an
-- intent without a paid result, a result without an intent.
CREATE VIEW IF NOT EXISTS v_unmatched AS
SELECT 'entitlement without intent' AS problem, e.dao AS dao, e.period AS period, e.pool_id AS pool_id,
       e.recipient AS recipient, e.transfer_e8s AS amount_e8s, '' AS intent_id
FROM (SELECT * FROM entitlements FINAL) AS e
LEFT ANTI JOIN (SELECT * FROM payout_intents FINAL) AS i
  ON i.dao = e.dao AND i.period = e.period AND i.pool_id = e.pool_id AND i.role = e.role AND i.recipient = e.recipient
WHERE e.transfer_e8s > 0 AND (e.dao, e.period) IN (SELECT dao, period FROM payout_intents FINAL)
UNION ALL
SELECT 'intent not paid', i.dao, i.period, i.pool_id, i.recipient, i.amount_e8s, i.intent_id
FROM (SELECT * FROM payout_intents FINAL) AS i
LEFT ANTI JOIN (SELECT * FROM payout_results FINAL WHERE status = 'paid') AS r ON r.intent_id = i.intent_id
UNION ALL
SELECT 'result without intent', '', '', '', r.recipient, r.amount_e8s, r.intent_id
FROM (SELECT * FROM payout_results FINAL) AS r
LEFT ANTI JOIN (SELECT * FROM payout_intents FINAL) AS i ON i.intent_id = r.intent_id;

-- Dead letters per topic and reason: the counter the stream keeps.
CREATE VIEW IF NOT EXISTS v_dead_letter_counts AS
SELECT source_topic, reason, count() AS records, max(recorded_at) AS last_seen
FROM dead_letters FINAL GROUP BY source_topic, reason;
