-- One view per input topic over events_raw, with the payload's fields as
-- typed columns: what auditors query instead of raw JSON.
CREATE VIEW IF NOT EXISTS raw_node_rewards_v1 AS
SELECT partition, offset, event_id, kafka_time,
       JSONExtractString(payload, 'node_provider') AS node_provider,
       JSONExtractUInt(payload, 'timestamp_seconds') AS timestamp_seconds,
       JSONExtractInt(payload, 'amount_e8s') AS amount_e8s,
       JSONExtractInt(payload, 'xdr_permyriad_per_icp') AS xdr_permyriad_per_icp,
       JSONExtractString(payload, 'reward_account') AS reward_account,
       JSONExtractString(provenance, 'source') AS source,
       JSONExtractString(provenance, 'canister') AS canister,
       JSONExtractString(provenance, 'method') AS method,
       JSONExtractUInt(provenance, 'cert_time_nanos') AS cert_time_nanos,
       JSONExtractString(provenance, 'fetch_time') AS fetch_time,
       JSONExtractString(provenance, 'content_sha256') AS content_sha256
FROM events_raw FINAL WHERE topic = 'ic.node-rewards.v1' AND event_type = 'node_reward';

CREATE VIEW IF NOT EXISTS raw_icp_xdr_rates_v1 AS
SELECT partition, offset, event_id, kafka_time,
       JSONExtractString(payload, 'kind') AS kind,
       JSONExtractUInt(payload, 'timestamp_seconds') AS timestamp_seconds,
       JSONExtractInt(payload, 'xdr_permyriad_per_icp') AS xdr_permyriad_per_icp,
       JSONExtractString(provenance, 'source') AS source,
       JSONExtractString(provenance, 'method') AS method,
       JSONExtractString(provenance, 'content_sha256') AS content_sha256
FROM events_raw FINAL WHERE topic = 'ic.icp-xdr-rates.v1' AND event_type = 'icp_xdr_rate';

CREATE VIEW IF NOT EXISTS raw_contributions_v1 AS
SELECT partition, offset, event_id, kafka_time,
       JSONExtractString(payload, 'dao') AS dao,
       JSONExtractString(payload, 'pool_id') AS pool_id,
       JSONExtractString(payload, 'contribution_id') AS contribution_id,
       JSONExtractString(payload, 'sponsor') AS sponsor,
       JSONExtractInt(payload, 'amount_e8s') AS amount_e8s,
       JSONExtractString(payload, 'at') AS at,
       JSONExtractString(provenance, 'source') AS source
FROM events_raw FINAL WHERE topic = 'dao.contributions.v1' AND event_type = 'contribution';

CREATE VIEW IF NOT EXISTS raw_pools_v1 AS
SELECT partition, offset, event_id, kafka_time,
       JSONExtractString(payload, 'dao') AS dao,
       JSONExtractString(payload, 'pool_id') AS pool_id,
       JSONExtractString(payload, 'node_provider') AS node_provider,
       JSONExtractString(payload, 'rules_version') AS rules_version,
       JSONExtractInt(payload, 'dao_fee_bps') AS dao_fee_bps,
       JSONExtractInt(payload, 'whale_premium_bps') AS whale_premium_bps,
       JSONExtractInt(payload, 'min_payout_e8s') AS min_payout_e8s,
       JSONExtractRaw(payload, 'hoster') AS hoster,
       JSONExtractRaw(payload, 'nodes') AS nodes
FROM events_raw FINAL WHERE topic = 'dao.pools.v1' AND event_type = 'pool';

CREATE VIEW IF NOT EXISTS raw_dead_letters_v1 AS
SELECT partition, offset, event_id, kafka_time,
       JSONExtractString(payload, 'source_topic') AS source_topic,
       JSONExtractInt(payload, 'partition') AS source_partition,
       JSONExtractInt(payload, 'offset') AS source_offset,
       JSONExtractString(payload, 'reason') AS reason
FROM events_raw FINAL WHERE topic = 'dao.dlq.v1' AND event_type = 'dead_letter';
