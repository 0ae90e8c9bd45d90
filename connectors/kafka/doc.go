// Package kafka is nodeshare's only door to Kafka, built on
// github.com/segmentio/kafka-go.
//
// It owns: creating topics from schemas.Topics (through the controller, with
// per-topic errors read back), a synchronous producer that waits for all
// in-sync replicas (docs/pitfalls.md K1, K2, K4, K5), the consume loop shared by every
// processor and sink (FetchMessage, hand a batch to a handler, commit the last
// offset of every partition only after the handler's outputs were
// acknowledged: docs/pitfalls.md K8), and reading a topic from its first offset to
// the high-water mark seen at the start (state rebuilds, replays, audits;
// a topic that is not ready yet is waited for through retry.Do). Log fills
// the stages' ports to the event log (stage.Publisher, process.Log); the
// consume loop runs a stage's handler (stage.BatchHandler, converted to
// Stage) and never decides what a record means.
//
// It never decides anything about money; delivery is at-least-once and every
// consumer downstream is idempotent by deterministic keys (docs/pitfalls.md K3, K10).
package kafka
