// Package money owns nodeshare's units of value and is the only place in the
// repository that rounds.
//
// Amounts are integer e8s (E8s, 1 ICP = 100,000,000 e8s), fractions are basis
// points (Bps, 1/10,000) and exchange rates are the NNS's integer XDR
// permyriad per ICP (XDRPermyriadPerICP). There is no floating point anywhere.
//
// Every division in the allocation rules goes through MulDivFloor, which
// multiplies into 128 bits with math/bits and floors. A floor always returns
// its remainder as well, so the caller can hand the lost units out again
// (docs/allocation-rules.md, "Rounding rule": every rounding is a floor, and
// what a floor leaves over is handed out by the largest-remainder rule).
//
// shopspring/decimal is used only at the edge, to parse and format decimal
// text such as "12.3456789 ICP" (ParseICP, FormatICP); it never takes part in
// a computation whose result is paid.
//
// The package must never do I/O, read the clock, log, or keep state.
package money
