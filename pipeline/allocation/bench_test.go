package allocation

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/nodeshare/nodeshare/pipeline/money"
)

// benchPool builds n sponsors with one contribution each and stakes of
// 0.5-2 ICP plus a 30-ICP-per-100 whale, ids zero-padded so that the list is
// already sorted by sponsor and by contribution id: the fast path a processor
// gets when it keeps its state sorted. BenchmarkAllocateUnsorted measures the
// fallback (the same pool, reversed).
func benchPool(n int) PoolPeriod {
	in := pool(1_234_567_890_123, make([]Contribution, 0, n)...)
	in.Hoster.FeeBps, in.DAOFeeBps, in.WhalePremiumBps = 1000, 200, 3500
	in.LedgerFeeE8s, in.MinPayoutE8s = 10_000, 1_000_000
	var others money.E8s
	for i := 1; i < n; i++ {
		amt := money.E8s(50_000_000 + (i*7919)%150_000_001)
		others += amt
		in.Contributions = append(in.Contributions, Contribution{
			ID: fmt.Sprintf("c%08d", i), Sponsor: fmt.Sprintf("acct-%08d", i), AmountE8s: amt, At: day0,
		})
	}
	whale := Contribution{ID: "c00000000", Sponsor: "acct-00000000", AmountE8s: others * 30 / 70, At: day0}
	in.Contributions = append([]Contribution{whale}, in.Contributions...)
	in.CarryIn = map[string]money.E8s{"acct-00000007": 123}
	return in
}

var benchSizes = []struct {
	name string
	n    int
}{{"1k", 1_000}, {"100k", 100_000}, {"1M", 1_000_000}}

func BenchmarkAllocate(b *testing.B) {
	for _, s := range benchSizes {
		in := benchPool(s.n)
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r, err := Allocate("v1", in)
				if err != nil || r.Whale == "" {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAllocateUnsorted: input in reverse order, so Allocate must sort
// an index by id and by sponsor (two sorts of n strings).
func BenchmarkAllocateUnsorted(b *testing.B) {
	for _, s := range benchSizes {
		in := benchPool(s.n)
		slices.Reverse(in.Contributions)
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Allocate("v1", in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAllocateDecimalBaseline is the same rules written the
// straightforward way (shopspring/decimal, a map, full sorts): the baseline
// the targets are measured against.
func BenchmarkAllocateDecimalBaseline(b *testing.B) {
	for _, s := range benchSizes {
		in := benchPool(s.n)
		b.Run(s.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if r := referenceAllocate(in); r.Whale == "" {
					b.Fatal("no whale")
				}
			}
		})
	}
}

// BenchmarkSortRemainders1M is one full sort of the 1M (remainder, id) pairs
// by (remainder desc, id asc): what largest remainder costs if it sorts.
// Allocate should beat it end to end.
func BenchmarkSortRemainders1M(b *testing.B) {
	type pair struct {
		rem uint64
		id  string
	}
	in := benchPool(1_000_000)
	src := make([]pair, len(in.Contributions))
	for i, c := range in.Contributions {
		_, r, _ := money.MulDivFloor(777_777_777_777, uint64(c.AmountE8s), 70_000_000_000_000)
		src[i] = pair{r, c.Sponsor}
	}
	work := make([]pair, len(src))
	b.ReportAllocs()
	for b.Loop() {
		copy(work, src)
		slices.SortFunc(work, func(x, y pair) int {
			switch {
			case x.rem > y.rem:
				return -1
			case x.rem < y.rem:
				return 1
			}
			return strings.Compare(x.id, y.id)
		})
	}
}
