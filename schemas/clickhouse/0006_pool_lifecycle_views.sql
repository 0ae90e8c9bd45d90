-- The pool lifecycle's records, typed for auditors and for the payout of
-- lifecycle transfers (docs/pools.md, docs/payouts.md): the ledger blocks of
-- the pools' accounts, the proposal and node facts, each pool's states and
-- every transfer its lifecycle owes. Over events_raw, hash-chained like
-- every topic (docs/auditing.md). Selected by event type, so a topic prefix
-- (tests) does not matter.
CREATE VIEW IF NOT EXISTS raw_ledger_blocks_v1 AS
SELECT topic, partition, offset, event_id, kafka_time,
       JSONExtractString(payload, 'ledger') AS ledger,
       JSONExtractUInt(payload, 'index') AS block_index,
       JSONExtractString(payload, 'time') AS block_time,
       JSONExtractUInt(payload, 'timestamp_nanos') AS timestamp_nanos,
       JSONExtractString(payload, 'op') AS op,
       JSONExtractString(payload, 'from') AS from_account,
       JSONExtractString(payload, 'to') AS to_account,
       JSONExtractUInt(payload, 'amount_e8s') AS amount_e8s,
       JSONExtractUInt(payload, 'fee_e8s') AS fee_e8s,
       JSONExtractUInt(payload, 'legacy_memo') AS legacy_memo,
       JSONExtractUInt(payload, 'created_at_nanos') AS created_at_nanos,
       JSONExtractString(payload, 'parent_hash_hex') AS parent_hash_hex,
       JSONExtractString(payload, 'hash_hex') AS hash_hex,
       JSONExtractUInt(provenance, 'cert_time_nanos') AS cert_time_nanos
FROM events_raw FINAL WHERE event_type = 'ledger_block';

CREATE VIEW IF NOT EXISTS raw_pool_facts_v1 AS
SELECT topic, partition, offset, event_id, kafka_time,
       JSONExtractString(payload, 'dao') AS dao,
       JSONExtractString(payload, 'pool_id') AS pool_id,
       JSONExtractString(payload, 'type') AS fact_type,
       JSONExtractString(payload, 'at') AS at,
       JSONExtractUInt(payload, 'proposal_id') AS proposal_id,
       JSONExtractString(payload, 'status') AS status,
       JSONExtractString(payload, 'node_id') AS node_id,
       JSONExtractString(provenance, 'source') AS source,
       JSONExtractString(provenance, 'method') AS method
FROM events_raw FINAL WHERE event_type = 'pool_fact';

CREATE VIEW IF NOT EXISTS raw_pool_states_v1 AS
SELECT topic, partition, offset, event_id, kafka_time,
       JSONExtractString(payload, 'dao') AS dao,
       JSONExtractString(payload, 'pool_id') AS pool_id,
       JSONExtractInt(payload, 'terms_version') AS terms_version,
       JSONExtractString(payload, 'as_of') AS as_of,
       JSONExtractInt(payload, 'facts') AS facts,
       JSONExtractString(payload, 'state') AS state,
       JSONExtractString(payload, 'settled_at') AS settled_at,
       JSONExtractString(payload, 'retired_at') AS retired_at,
       JSONExtractString(JSONExtractString(payload, 'output'), 'lifecycle_sha256') AS lifecycle_sha256,
       JSONExtractString(payload, 'output') AS output
FROM events_raw FINAL WHERE event_type = 'pool_state';

CREATE VIEW IF NOT EXISTS raw_pool_transfers_v1 AS
SELECT topic, partition, offset, event_id, kafka_time,
       JSONExtractString(payload, 'dao') AS dao,
       JSONExtractString(payload, 'pool_id') AS pool_id,
       JSONExtractInt(payload, 'seq') AS seq,
       JSONExtractString(payload, 'kind') AS kind,
       JSONExtractString(payload, 'from') AS from_account,
       JSONExtractString(payload, 'to') AS to_account,
       JSONExtractInt(payload, 'gross_e8s') AS gross_e8s,
       JSONExtractInt(payload, 'transfer_e8s') AS transfer_e8s,
       JSONExtractInt(payload, 'fee_e8s') AS fee_e8s,
       JSONExtractString(payload, 'reason') AS reason,
       JSONExtractString(payload, 'cause') AS cause,
       JSONExtractString(payload, 'at') AS at,
       JSONExtractInt(payload, 'terms_version') AS terms_version,
       payload
FROM events_raw FINAL WHERE event_type = 'pool_transfer';
