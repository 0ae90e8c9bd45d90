// Package schemas holds nodeshare's wire contracts: the event envelope, every
// event payload, the Kafka topics with their keys and configs, and the
// ClickHouse DDL (embedded migrations).
//
// Compatibility rules. Every topic name carries a major version (".v1"); an
// incompatible change is a new topic, never an edit. Inside a version,
// payloads may gain optional fields only. Every event carries SchemaVersion;
// a consumer that meets a version it does not know sends the record to the
// dead-letter topic with the reason, it never guesses. Event types are
// append-only strings.
//
// Amounts are integer e8s (int64 JSON numbers), rates integer XDR permyriad
// per ICP, fractions basis points. No floats anywhere on the wire.
//
// This package never does I/O.
package schemas
