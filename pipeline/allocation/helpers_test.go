package allocation

import (
	"reflect"
	"testing"
	"time"

	"github.com/nodeshare/nodeshare/pipeline/money"
)

var day0 = time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)

// pool returns a pool with no fees, so a test sets only what it is about.
func pool(gross money.E8s, cs ...Contribution) PoolPeriod {
	return PoolPeriod{
		PoolID: "pool-a", Period: "2026-07", GrossE8s: gross,
		RateXDRPermyriadPerICP: 35_000,
		Hoster:                 HosterTerms{Account: "hoster"},
		Contributions:          cs,
	}
}

func contrib(id, sponsor string, amount money.E8s, day int) Contribution {
	return Contribution{ID: id, Sponsor: sponsor, AmountE8s: amount, At: day0.AddDate(0, 0, day)}
}

func mustAllocate(t testing.TB, in PoolPeriod) PoolResult {
	t.Helper()
	r, err := Allocate("v1", in)
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	return r
}

func shareOf(t testing.TB, r PoolResult, sponsor string) Share {
	t.Helper()
	for _, s := range r.Shares {
		if s.Sponsor == sponsor {
			return s
		}
	}
	t.Fatalf("no share for %q", sponsor)
	return Share{}
}

// sharesByID maps sponsor -> ShareE8s, for compact expectations.
func sharesByID(r PoolResult) map[string]money.E8s {
	m := map[string]money.E8s{}
	for _, s := range r.Shares {
		m[s.Sponsor] = s.ShareE8s
	}
	return m
}

func wantShares(t testing.TB, r PoolResult, want map[string]money.E8s) {
	t.Helper()
	if got := sharesByID(r); !reflect.DeepEqual(got, want) {
		t.Fatalf("shares = %v, want %v", got, want)
	}
}
