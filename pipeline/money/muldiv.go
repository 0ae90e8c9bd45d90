package money

import "math/bits"

// MulDivFloor returns q = floor(a*b/c) and r = (a*b) mod c, computing a*b in
// 128 bits. ok is false when c is zero or when q does not fit in 64 bits; the
// caller decides what that means (it is never silently truncated).
//
// This is the one floor in nodeshare: every share, fee and conversion is
// built on it, and the remainder r is what the largest-remainder rule ranks.
func MulDivFloor(a, b, c uint64) (q, r uint64, ok bool) {
	if c == 0 {
		return 0, 0, false
	}
	hi, lo := bits.Mul64(a, b)
	if hi >= c {
		// The quotient needs more than 64 bits (bits.Div64 would panic).
		return 0, 0, false
	}
	q, r = bits.Div64(hi, lo, c)
	return q, r, true
}
