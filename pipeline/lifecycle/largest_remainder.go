package lifecycle

import (
	"cmp"
	"slices"

	"github.com/nodeshare/nodeshare/pipeline/money"
)

// largestRemainder splits amount by weights (whose sum is total) with the
// largest-remainder rule: each part is floor(amount * w_i / total), and the
// units the floors left over go one each to the largest remainders
// (amount * w_i) mod total, ties to the smaller index. Callers pass the
// weights in account byte order, so "smaller index" is "smallest account"
// (docs/pool-rules.md "Lock-up and retirement"). The parts always sum to amount.
//
// Every floor is money.MulDivFloor's (128-bit product); the function only
// hands the remainders out.
func largestRemainder(amount money.E8s, weights []money.E8s, total money.E8s) ([]money.E8s, error) {
	parts := make([]money.E8s, len(weights))
	if amount == 0 {
		return parts, nil
	}
	if total <= 0 || amount < 0 {
		return nil, invariantErr("largest remainder of %d over a total weight of %d", amount, total)
	}
	rems := make([]uint64, len(weights))
	var sum money.E8s
	for i, w := range weights {
		q, r, ok := money.MulDivFloor(uint64(amount), uint64(w), uint64(total))
		if !ok || w < 0 || w > total {
			return nil, invariantErr("largest remainder: weight %d outside 0..%d", w, total)
		}
		parts[i], rems[i] = money.E8s(q), r
		sum += money.E8s(q)
	}
	left := amount - sum
	if left < 0 || int64(left) > int64(len(weights)) {
		return nil, invariantErr("largest remainder: %d units left over for %d parts", left, len(weights))
	}
	order := make([]int, len(weights))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		if c := cmp.Compare(rems[b], rems[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	for _, i := range order[:left] {
		parts[i]++
	}
	return parts, nil
}
