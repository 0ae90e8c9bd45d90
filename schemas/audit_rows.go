package schemas

import "time"

// The rows of the ClickHouse audit trail as the sink stage hands them to
// its store (pipeline/stage/sink): domain types, so that the stage names
// them without importing connectors/clickhouse, which turns them into
// columns (connectors/clickhouse/tables.go; the DDL is in
// schemas/clickhouse).

// Coord is a record's position in Kafka, stored with every row it produced.
type Coord struct {
	Topic     string
	Partition int
	Offset    int64
	Time      time.Time
}

// RawEvent is one Kafka record as stored in events_raw, with its place in
// the hash chain (chain.go).
type RawEvent struct {
	Coord
	Key           string
	EventID       string
	EventType     string
	SchemaVersion int
	Provenance    string
	Payload       string
	PrevHash      string
	RowHash       string
	// Digest is ChainDigest of the row when already computed (the sink
	// computes digests in parallel); it is not stored.
	Digest    [32]byte
	HasDigest bool
}

// ChainRow is the hashed part of the row (ChainHash).
func (e RawEvent) ChainRow() ChainRow {
	return ChainRow{Topic: e.Topic, Partition: e.Partition, Offset: e.Offset, Key: e.Key, EventID: e.EventID,
		EventType: e.EventType, SchemaVersion: e.SchemaVersion, Provenance: e.Provenance, Payload: e.Payload}
}

// EntitlementRow is an entitlement with the coordinates of its record
// (the entitlements table).
type EntitlementRow struct {
	Entitlement
	EventID string
	Coord
}

// PoolPeriodRow is a pool period with the coordinates of its record (the
// pool_periods table).
type PoolPeriodRow struct {
	PoolPeriod
	EventID string
	Coord
}

// ResultRow is a payout result and when it was recorded (the
// payout_results table).
type ResultRow struct {
	PayoutResult
	RecordedAt time.Time
}
