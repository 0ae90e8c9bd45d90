-- ICP's fiat prices from the public price API (ext.icp-fiat-prices.v1,
-- docs/connectors.md "Fiat prices"), typed for the reports that value
-- transfers in fiat at their block time, and for auditors. Over events_raw, hash-chained like every topic
-- (docs/auditing.md). Selected by event type, so a topic prefix (tests)
-- does not matter. price_micros is fiat micro-units per 1 ICP; source is
-- the price source of the key (coingecko), fetched_from the API's host.
CREATE VIEW IF NOT EXISTS raw_icp_fiat_prices_v1 AS
SELECT topic, partition, offset, event_id, kafka_time,
       JSONExtractString(payload, 'source') AS source,
       JSONExtractString(payload, 'currency') AS currency,
       JSONExtractUInt(payload, 'timestamp_seconds') AS timestamp_seconds,
       JSONExtractInt(payload, 'price_micros') AS price_micros,
       JSONExtractString(provenance, 'source') AS fetched_from,
       JSONExtractString(provenance, 'method') AS method,
       JSONExtractString(provenance, 'fetch_time') AS fetch_time,
       JSONExtractString(provenance, 'content_sha256') AS content_sha256
FROM events_raw FINAL WHERE event_type = 'icp_fiat_price';
