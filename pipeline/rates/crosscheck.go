package rates

import (
	"fmt"
	"time"

	"github.com/shopspring/decimal"
)

// The cross-check of two rate sources: the certified CMC rate against the
// public dashboard's (docs/connectors.md, "Tolerances"). The dashboard is
// not certified, so it never decides a rate; a disagreement beyond the
// tolerance is a source_mismatch alarm for a person.

// Point is one uncertified observation (the dashboard's): a Unix time and
// the rate in XDR permyriad per ICP, fractions allowed (the dashboard is not
// bound to the CMC's integer).
type Point struct {
	TimestampSeconds   uint64
	XDRPermyriadPerICP decimal.Decimal
}

// Tolerance is how far the dashboard may be from the certified CMC rate
// before nodeshare raises a source_mismatch alarm.
type Tolerance struct {
	// MaxDiffBps is the largest accepted relative difference, in basis
	// points of the CMC rate (default 100 = 1%). The dashboard mirrors the
	// CMC, so any real difference means one of them is wrong or stale.
	MaxDiffBps int64
	// MaxSkew is the largest accepted distance between the two
	// observations' timestamps (default 1 h). Points further apart are not
	// compared (the rate moves); that is logged, not alarmed.
	MaxSkew time.Duration
}

// DefaultTolerance is used by `nodeshare connect` unless overridden.
var DefaultTolerance = Tolerance{MaxDiffBps: 100, MaxSkew: time.Hour}

// Comparison is the outcome of comparing one certified CMC rate with the
// dashboard's nearest point.
type Comparison struct {
	CMCTimestampSeconds       uint64
	CMCXDRPermyriadPerICP     uint64
	DashboardTimestampSeconds uint64
	DashboardXDRPermyriad     decimal.Decimal
	// DiffBps is |dashboard - cmc| / cmc in basis points, 2 decimals.
	DiffBps decimal.Decimal
	// Compared is false when no dashboard point lies within MaxSkew.
	Compared bool
	// Mismatch: compared and DiffBps > MaxDiffBps.
	Mismatch bool
	Reason   string
}

// Compare checks the certified CMC rate (cmcTs, cmcRate) against the
// dashboard point nearest to cmcTs.
func Compare(cmcTs, cmcRate uint64, dash []Point, tol Tolerance) Comparison {
	c := Comparison{CMCTimestampSeconds: cmcTs, CMCXDRPermyriadPerICP: cmcRate}
	p, ok := Nearest(dash, cmcTs)
	if !ok {
		c.Reason = "the dashboard returned no rate"
		return c
	}
	c.DashboardTimestampSeconds, c.DashboardXDRPermyriad = p.TimestampSeconds, p.XDRPermyriadPerICP
	skew := time.Duration(absDiff(p.TimestampSeconds, cmcTs)) * time.Second
	if skew > tol.MaxSkew {
		c.Reason = fmt.Sprintf("nearest dashboard point is %s away from the CMC's (max skew %s): not compared", skew, tol.MaxSkew)
		return c
	}
	c.Compared = true
	if cmcRate == 0 {
		c.Mismatch = !p.XDRPermyriadPerICP.IsZero()
		c.Reason = "the CMC rate is 0"
		return c
	}
	cmc := decimal.NewFromUint64(cmcRate)
	c.DiffBps = p.XDRPermyriadPerICP.Sub(cmc).Abs().Mul(decimal.NewFromInt(10_000)).DivRound(cmc, 2)
	c.Mismatch = c.DiffBps.GreaterThan(decimal.NewFromInt(tol.MaxDiffBps))
	if c.Mismatch {
		c.Reason = fmt.Sprintf("dashboard %s vs certified CMC %d XDR permyriad/ICP differ by %s bps (tolerance %d bps)",
			p.XDRPermyriadPerICP, cmcRate, c.DiffBps.StringFixed(2), tol.MaxDiffBps)
	}
	return c
}

func absDiff(a, b uint64) uint64 {
	if a > b {
		return a - b
	}
	return b - a
}

// Latest is the newest point, or false when there is none.
func Latest(pts []Point) (Point, bool) {
	if len(pts) == 0 {
		return Point{}, false
	}
	best := pts[0]
	for _, p := range pts[1:] {
		if p.TimestampSeconds > best.TimestampSeconds {
			best = p
		}
	}
	return best, true
}

// Nearest is the point whose timestamp is closest to ts (the newer one on a
// tie), or false when there is none.
func Nearest(pts []Point, ts uint64) (Point, bool) {
	var best Point
	found := false
	dist := func(p Point) uint64 {
		if p.TimestampSeconds > ts {
			return p.TimestampSeconds - ts
		}
		return ts - p.TimestampSeconds
	}
	for _, p := range pts {
		if !found || dist(p) < dist(best) || (dist(p) == dist(best) && p.TimestampSeconds > best.TimestampSeconds) {
			best, found = p, true
		}
	}
	return best, found
}
