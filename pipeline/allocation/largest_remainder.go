package allocation

import (
	"math/bits"
	"slices"

	"github.com/nodeshare/nodeshare/pipeline/money"
)

// splitProRata starts the split of x e8s between shares[i] (all i except
// skip) by their StakeE8s, whose sum is total (docs/allocation-rules.md step 6):
// each gets floor(x * s_i / total) in ShareE8s, and the leftover units go one
// each to the largest remainders (x * s_i) mod total, ties by smallest id.
// shares must be sorted by Sponsor. The units are handed out by
// finishShares, which walks the shares once more anyway to settle them
// (step 7): split.unit says whether share i gets one.
//
// Only the leftover-many largest remainders need ordering, so nothing big is
// sorted. The floor pass also builds a histogram of the remainders' top
// 11-bit digit; a radix select then narrows to the bucket holding the
// leftover-th largest remainder r*, digit by digit, and as soon as that
// bucket holds at most selectBuf remainders it copies them to a stack buffer
// and sorts only those. Walking the shares in id order, a unit goes to every
// remainder above r* and to the first takeEqual ones equal to r*: that is
// the "ties by smallest id" rule. Typical cost: one 128-bit multiply-divide
// per sponsor and one read-only pass besides the final one; worst case (all
// remainders in one bucket, e.g. equal stakes) ceil(bitlen(total)/11) + 1
// read-only passes. No heap allocation.
//
// Until finishShares runs, each participant's remainder is parked in its
// TransferE8s field (bit-cast from uint64; the remainder is < total <=
// 2^64-1) so the passes need no extra memory; finishShares overwrites it.
func splitProRata(shares []Share, skip int, x uint64, total uint64) (split, error) {
	sp := split{active: true, skip: skip}
	if x == 0 {
		return sp, nil // every floor is 0 and ShareE8s is still 0
	}
	if total == 0 {
		return sp, invariantErr("pro-rata split of %d e8s over a zero total stake", x)
	}
	digits := (bits.Len64(total-1) + radixBits - 1) / radixBits
	shift := uint(max(digits-1, 0) * radixBits)
	var counts [1 << radixBits]uint64
	var floors, participants uint64
	for i := range shares {
		if i == skip {
			continue
		}
		q, r, ok := money.MulDivFloor(x, uint64(shares[i].StakeE8s), total)
		if !ok {
			return sp, invariantErr("pro-rata quotient of sponsor %q overflows (stake %d > total %d?)", shares[i].Sponsor, shares[i].StakeE8s, total)
		}
		shares[i].ShareE8s = money.E8s(q)
		shares[i].TransferE8s = money.E8s(int64(r)) // parked remainder, see above
		counts[r>>shift]++
		floors += q
		participants++
	}
	if floors > x {
		return sp, invariantErr("pro-rata floors %d exceed the amount split %d", floors, x)
	}
	sp.left = x - floors
	if sp.left > 0 && sp.left >= participants {
		return sp, invariantErr("pro-rata leftover %d not below the %d participants", sp.left, participants)
	}
	if sp.left > 0 {
		sp.threshold, sp.takeEqual = selectThreshold(shares, skip, sp.left, &counts, shift)
	}
	return sp, nil
}

// split is a largest-remainder split between its floor pass and the pass
// that hands out the leftover units.
type split struct {
	active    bool   // a pro-rata split happened (not a refund)
	skip      int    // the whale when it took the premium, else -1
	left      uint64 // leftover units to hand out
	threshold uint64 // r*: remainders above it get a unit
	takeEqual uint64 // how many remainders equal to r* (smallest ids first) get one
	given     uint64
}

// unit reports whether share i, visited in id order, gets a leftover unit,
// reading its parked remainder.
func (sp *split) unit(i int, parked money.E8s) bool {
	if !sp.active || sp.left == 0 || i == sp.skip {
		return false
	}
	r := uint64(parked)
	if r > sp.threshold || (r == sp.threshold && sp.takeEqual > 0) {
		if r == sp.threshold {
			sp.takeEqual--
		}
		sp.given++
		return true
	}
	return false
}

// done checks that exactly the leftover units were handed out.
func (sp *split) done() error {
	if sp.active && (sp.given != sp.left || sp.takeEqual != 0) {
		return invariantErr("largest remainder handed out %d of %d leftover units", sp.given, sp.left)
	}
	return nil
}

const (
	radixBits = 11
	selectBuf = 1024
)

// selectThreshold returns the k-th largest parked remainder r* (k >= 1)
// among the participants and how many of the participants with remainder
// exactly r* are within the k largest. counts is the histogram of the digit
// at shift (the top digit) over all participants; it is reused as scratch.
func selectThreshold(shares []Share, skip int, k uint64, counts *[1 << radixBits]uint64, shift uint) (threshold uint64, takeEqual uint64) {
	var prefix uint64 // the digits chosen so far, in place
	for {
		var inBucket uint64
		for b := 1<<radixBits - 1; b >= 0; b-- {
			if counts[b] >= k {
				prefix |= uint64(b) << shift
				inBucket = counts[b]
				break
			}
			k -= counts[b]
		}
		if shift == 0 {
			return prefix, k
		}
		mask := ^uint64(0) << shift // the digits chosen so far
		if inBucket <= selectBuf {
			var buf [selectBuf]uint64
			m := 0
			for i := range shares {
				if r := uint64(shares[i].TransferE8s); i != skip && r&mask == prefix && m < selectBuf {
					buf[m] = r
					m++
				}
			}
			if k == 0 || k > uint64(m) {
				// Impossible when the histogram is right; never index out of
				// range: hand out nothing here and let split.done report the
				// mismatch as ErrInvariant.
				return ^uint64(0), 0
			}
			cand := buf[:m]
			slices.Sort(cand)
			slices.Reverse(cand)
			threshold = cand[k-1]
			for _, r := range cand[:k] {
				if r == threshold {
					takeEqual++
				}
			}
			return threshold, takeEqual
		}
		shift -= radixBits
		*counts = [1 << radixBits]uint64{}
		for i := range shares {
			if r := uint64(shares[i].TransferE8s); i != skip && r&mask == prefix {
				counts[(r>>shift)&(1<<radixBits-1)]++
			}
		}
	}
}
