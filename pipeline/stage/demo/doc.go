// Package demo is `nodeshare demo` as a stage: one DAO with two pools and
// one month's NNS reward (Build), run end to end through the other stages
// (the processor, the sink, the payout) behind its ports. It owns the order
// of the demo's steps and that a second run pays nobody twice; it decides
// no amount (the rules do) and opens no connection (cmd wires the ports to
// Kafka, ClickHouse, Vault and the IC simulator).
package demo
