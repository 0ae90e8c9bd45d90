package money

import (
	"fmt"
	"strings"

	"github.com/shopspring/decimal"
)

// ParseICP parses decimal ICP text such as "12.3456789" or "12.3456789 ICP"
// into e8s. More than eight decimal places, negative values and values above
// MaxE8s are errors: text from outside is never rounded.
func ParseICP(s string) (E8s, error) {
	t := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "ICP"))
	d, err := decimal.NewFromString(t)
	if err != nil {
		return 0, fmt.Errorf("ICP amount %q: %w", s, err)
	}
	if d.IsNegative() {
		return 0, fmt.Errorf("ICP amount %q: must be >= 0", s)
	}
	e := d.Shift(8)
	if !e.IsInteger() {
		return 0, fmt.Errorf("ICP amount %q: more than 8 decimal places", s)
	}
	if e.GreaterThan(decimal.NewFromInt(int64(MaxE8s))) {
		return 0, fmt.Errorf("ICP amount %q: exceeds %d e8s", s, int64(MaxE8s))
	}
	return E8s(e.IntPart()), nil
}

// FormatICP formats e8s as ICP with exactly eight decimals and no rounding,
// e.g. 1234567890 -> "12.34567890".
func FormatICP(e E8s) string {
	return decimal.New(int64(e), -8).StringFixed(8)
}

// FormatPercent formats num/den as a percentage with the given number of
// decimals, truncated (floored) toward zero, e.g. (1, 3, 2) -> "33.33".
// It is for people only: nothing paid depends on it. den must be > 0.
func FormatPercent(num, den uint64, decimals int32) string {
	if den == 0 {
		return "n/a"
	}
	// Exact: floor(num * 100 * 10^decimals / den), then place the point.
	scaled := decimal.NewFromUint64(num).Shift(2 + decimals).BigInt()
	q := scaled.Quo(scaled, decimal.NewFromUint64(den).BigInt())
	return decimal.NewFromBigInt(q, -decimals).StringFixed(decimals)
}

// FormatXDRPermyriad formats an XDR permyriad amount as XDR with four
// decimals, e.g. 35000 -> "3.5000".
func FormatXDRPermyriad(x int64) string {
	return decimal.New(x, -4).StringFixed(4)
}

// FormatBps formats basis points as a percentage with two decimals, e.g.
// 3500 -> "35.00%".
func FormatBps(b Bps) string {
	return decimal.New(int64(b), -2).StringFixed(2) + "%"
}

// FormatICPUint64 is FormatICP for totals that may exceed MaxE8s (such as a
// pool's total stake, which is kept as uint64).
func FormatICPUint64(e uint64) string {
	return decimal.NewFromUint64(e).Shift(-8).StringFixed(8)
}
