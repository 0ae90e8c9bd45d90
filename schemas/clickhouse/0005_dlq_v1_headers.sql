-- Dead letters are DLQ v1 records: the rejected value exactly as it arrived,
-- with the reason and the source coordinates in Kafka headers, which the sink
-- keeps as JSON in the provenance column (payload = the rejected value).
-- Dead letters written before (an envelope whose payload held them) still read.
CREATE OR REPLACE VIEW raw_dead_letters_v1 AS
SELECT partition, offset, event_id, kafka_time,
       if(JSONHas(provenance, 'reason'), JSONExtractString(provenance, 'source_topic'), JSONExtractString(payload, 'source_topic')) AS source_topic,
       if(JSONHas(provenance, 'reason'), JSONExtractInt(provenance, 'partition'), JSONExtractInt(payload, 'partition')) AS source_partition,
       if(JSONHas(provenance, 'reason'), JSONExtractInt(provenance, 'offset'), JSONExtractInt(payload, 'offset')) AS source_offset,
       if(JSONHas(provenance, 'reason'), JSONExtractString(provenance, 'reason'), JSONExtractString(payload, 'reason')) AS reason
FROM events_raw FINAL WHERE topic = 'dao.dlq.v1' AND event_type = 'dead_letter';
