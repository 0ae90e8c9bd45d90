//go:build !race

package payout_test

const raceEnabled = false
