package rates

import (
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"
)

func TestCompare(t *testing.T) {
	pts := []Point{{TimestampSeconds: 1000, XDRPermyriadPerICP: decimal.NewFromInt(36_500)}, {TimestampSeconds: 100_000, XDRPermyriadPerICP: decimal.NewFromInt(1)}}
	tol := Tolerance{MaxDiffBps: 100, MaxSkew: time.Hour}
	// 500 / 36000 = 138.89 bps > 100.
	c := Compare(1200, 36_000, pts, tol)
	if !c.Compared || !c.Mismatch || c.DiffBps.StringFixed(2) != "138.89" || c.DashboardTimestampSeconds != 1000 {
		t.Fatalf("mismatch %+v", c)
	}
	// Within tolerance.
	if c := Compare(1200, 36_200, pts, tol); !c.Compared || c.Mismatch || c.DiffBps.StringFixed(2) != "82.87" {
		t.Fatalf("within tolerance %+v", c)
	}
	// Exactly at the tolerance is accepted.
	if c := Compare(1000, 10_000, []Point{{1000, decimal.NewFromInt(10_100)}}, tol); c.Mismatch {
		t.Fatalf("at tolerance %+v", c)
	}
	// Too far apart in time: not compared, no alarm.
	if c := Compare(50_000, 36_000, pts[:1], tol); c.Compared || c.Mismatch || !strings.Contains(c.Reason, "not compared") {
		t.Fatalf("skew %+v", c)
	}
	if c := Compare(1, 1, nil, tol); c.Compared || c.Mismatch {
		t.Fatalf("empty %+v", c)
	}
	// A CMC rate of 0 against a non-zero dashboard rate is a mismatch.
	if c := Compare(1000, 0, pts[:1], tol); !c.Compared || !c.Mismatch {
		t.Fatalf("zero cmc rate %+v", c)
	}
}

func TestLatestAndNearest(t *testing.T) {
	pts := []Point{{TimestampSeconds: 10}, {TimestampSeconds: 30}, {TimestampSeconds: 20}}
	if p, ok := Latest(pts); !ok || p.TimestampSeconds != 30 {
		t.Fatalf("latest %+v %v", p, ok)
	}
	if _, ok := Latest(nil); ok {
		t.Fatal("latest of nothing")
	}
	// 25 is as far from 20 as from 30: the newer one wins.
	if p, ok := Nearest(pts, 25); !ok || p.TimestampSeconds != 30 {
		t.Fatalf("nearest tie %+v", p)
	}
	if p, _ := Nearest(pts, 12); p.TimestampSeconds != 10 {
		t.Fatalf("nearest %+v", p)
	}
	if _, ok := Nearest(nil, 1); ok {
		t.Fatal("nearest of nothing")
	}
}
