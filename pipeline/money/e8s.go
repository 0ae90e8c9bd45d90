package money

import (
	"fmt"
	"math"
)

// E8s is an amount of ICP in e8s (1 ICP = E8sPerICP e8s). Valid amounts are
// 0..MaxE8s: the allocation contract says every amount fits a signed 64-bit
// integer, and a negative amount is always invalid input.
type E8s int64

const (
	// E8sPerICP is the number of e8s in one ICP.
	E8sPerICP E8s = 100_000_000
	// MaxE8s is the largest representable amount (2^63 - 1 e8s).
	MaxE8s E8s = math.MaxInt64
)

// Validate reports whether e is a usable amount (not negative).
func (e E8s) Validate() error {
	if e < 0 {
		return fmt.Errorf("must be >= 0, got %d", int64(e))
	}
	return nil
}

// AddE8s returns a+b, or ok=false if either is negative or the sum exceeds
// MaxE8s. Sums of amounts are checked, never wrapped.
func AddE8s(a, b E8s) (sum E8s, ok bool) {
	if a < 0 || b < 0 || a > MaxE8s-b {
		return 0, false
	}
	return a + b, true
}

// SubE8s returns a-b, or ok=false if the result would be negative.
func SubE8s(a, b E8s) (diff E8s, ok bool) {
	if a < 0 || b < 0 || b > a {
		return 0, false
	}
	return a - b, true
}

// MinE8s returns the smaller of a and b.
func MinE8s(a, b E8s) E8s {
	if a < b {
		return a
	}
	return b
}
