//go:build race

package payout_test

// raceEnabled: the race detector slows the simulation about tenfold.
const raceEnabled = true
