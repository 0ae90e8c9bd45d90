package money

import "fmt"

// XDRPermyriad is an amount of XDR in 1/10,000 units (the NNS's unit for
// node-provider rewards and the hoster's fixed fee).
type XDRPermyriad int64

// XDRPermyriadPerICP is an ICP/XDR rate as the NNS reports it: how many XDR
// permyriad one ICP is worth.
type XDRPermyriadPerICP int64

// Validate reports whether x is usable (not negative).
func (x XDRPermyriad) Validate() error {
	if x < 0 {
		return fmt.Errorf("must be >= 0, got %d", int64(x))
	}
	return nil
}

// Validate reports whether the rate is usable: a rate of zero would make
// every XDR amount infinitely many e8s, so it is invalid input.
func (r XDRPermyriadPerICP) Validate() error {
	if r <= 0 {
		return fmt.Errorf("must be > 0, got %d", int64(r))
	}
	return nil
}

// XDRToE8s converts an XDR amount to e8s at rate, flooring:
// floor(x * 1e8 / rate) (docs/allocation-rules.md step 2). fits is false when the
// result exceeds MaxE8s (possible only for absurd inputs); callers that cap
// the result, such as the hoster fee, treat that as "more than any cap".
// x must be >= 0 and rate > 0.
func XDRToE8s(x XDRPermyriad, rate XDRPermyriadPerICP) (e E8s, fits bool) {
	if x < 0 || rate <= 0 {
		return 0, false
	}
	q, _, ok := MulDivFloor(uint64(x), uint64(E8sPerICP), uint64(rate))
	if !ok || q > uint64(MaxE8s) {
		return 0, false
	}
	return E8s(q), true
}
