package allocation

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nodeshare/nodeshare/pipeline/money"
)

// SplitReward implements level 1 of v1: the NP reward is split between pools
// by weight with the largest-remainder rule, ties by pool id. The result is
// sorted by pool id. A DAO runs a handful of pools, so this path sorts.
func (rulesV1) SplitReward(grossE8s money.E8s, weights []PoolWeight) ([]PoolGross, error) {
	if err := grossE8s.Validate(); err != nil {
		return nil, inputErr("", "gross_e8s", "%v", err)
	}
	if len(weights) == 0 {
		return nil, inputErr("", "weights", "must not be empty")
	}
	ws := slices.Clone(weights)
	for i, w := range weights {
		path := "weights[" + strconv.Itoa(i) + "] (pool " + strconv.Quote(w.PoolID) + ")"
		if w.PoolID == "" || !utf8.ValidString(w.PoolID) {
			return nil, inputErr(path, "pool_id", "must be a non-empty UTF-8 string, got %q", w.PoolID)
		}
		if err := w.WeightXDRPermyriad.Validate(); err != nil {
			return nil, inputErr(path, "weight_xdr_permyriad", "%v", err)
		}
	}
	slices.SortFunc(ws, func(a, b PoolWeight) int { return strings.Compare(a.PoolID, b.PoolID) })
	var total uint64
	for i, w := range ws {
		if i > 0 && ws[i-1].PoolID == w.PoolID {
			return nil, inputErr("weights", "pool_id", "must be unique, got %q twice", w.PoolID)
		}
		t := total + uint64(w.WeightXDRPermyriad)
		if t < total {
			return nil, inputErr("weights", "weight_xdr_permyriad", "sum to more than 2^64-1")
		}
		total = t
	}
	if total == 0 {
		return nil, inputErr("weights", "weight_xdr_permyriad", "sum to 0: no pool earned anything, got %d pools", len(ws))
	}
	out := make([]PoolGross, len(ws))
	rems := make([]uint64, len(ws))
	var floors uint64
	for i, w := range ws {
		q, r, ok := money.MulDivFloor(uint64(grossE8s), uint64(w.WeightXDRPermyriad), total)
		if !ok {
			return nil, invariantErr("level-1 quotient overflows for pool %q", w.PoolID)
		}
		out[i] = PoolGross{PoolID: w.PoolID, GrossE8s: money.E8s(q)}
		rems[i] = r
		floors += q
	}
	left := uint64(grossE8s) - floors
	if left > uint64(len(ws)) {
		return nil, invariantErr("level-1 leftover %d exceeds %d pools", left, len(ws))
	}
	idx := make([]int, len(ws))
	for i := range idx {
		idx[i] = i
	}
	// Largest remainder first; equal remainders by pool id (idx is in id order).
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case rems[a] > rems[b]:
			return -1
		case rems[a] < rems[b]:
			return 1
		}
		return 0
	})
	for _, i := range idx[:left] {
		out[i].GrossE8s++
	}
	var sum uint64
	for _, p := range out {
		sum += uint64(p.GrossE8s)
	}
	if sum != uint64(grossE8s) {
		return nil, invariantErr("level-1 split sums to %d, want %d", sum, grossE8s)
	}
	return out, nil
}
