// Package stage is the floor between the pure rules (pipeline/...) and the
// outside systems (connectors/...): one package per stage (connect,
// process, sink, payout, signer) owns the orchestration of its work: the
// order of its steps, its retries (package retry), and "durable before
// effect". Each stage declares the ports it needs as small interfaces that
// cmd/nodeshare fills with connectors; a stage never imports a connector,
// a driver, net/http, os or database/sql (ops/arch checks it), and never
// decides money: the rule packages do.
//
// This package holds what every stage shares: the clock, the crash hook
// the kill tests use, the keyed facts stages publish once, and for the
// stream stages (process, sink) the batch handler they hand the consume
// loop (BatchHandler) and the pure per-record work spread over the cores
// (Parallel).
package stage
