package money

import "fmt"

// Bps is a fraction in basis points: 10,000 bps = 100%.
type Bps int64

// BpsDenominator is the number of basis points in a whole.
const BpsDenominator Bps = 10_000

// Validate reports whether b is a fraction between 0 and 100% inclusive.
func (b Bps) Validate() error {
	if b < 0 {
		return fmt.Errorf("must be >= 0, got %d", int64(b))
	}
	if b > BpsDenominator {
		return fmt.Errorf("must be <= %d, got %d", int64(BpsDenominator), int64(b))
	}
	return nil
}

// ApplyBps returns floor(amount * b / 10,000). amount must be valid (>= 0) and
// b must be within 0..10,000; the product is taken in 128 bits, and the
// result never exceeds amount.
func ApplyBps(amount E8s, b Bps) E8s {
	if amount <= 0 || b <= 0 {
		return 0
	}
	if b >= BpsDenominator {
		return amount
	}
	q, _, _ := MulDivFloor(uint64(amount), uint64(b), uint64(BpsDenominator))
	return E8s(q) // q <= amount, so it fits.
}
