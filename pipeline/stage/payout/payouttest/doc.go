// Package payouttest holds what the payout stage's tests and benchmarks
// share: an in-memory Store with fault injection (MemStore) and synthetic
// periods (SimPeriod). Never used by a command.
package payouttest
