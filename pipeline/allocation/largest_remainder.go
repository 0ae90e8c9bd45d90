package allocation

import (
	"math/bits"
	"slices"

	"github.com/nodeshare/nodeshare/pipeline/money"
)

// splitProRata splits x e8s between shares[i] (all i except skip) by their
// StakeE8s, whose sum is total (ALLOCATION_RULES step 6): each gets
// floor(x * s_i / total), and the leftover units go one each to the largest
// remainders (x * s_i) mod total, ties by smallest id. shares must be sorted
// by Sponsor. It writes ShareE8s and uses TransferE8s as scratch (below).
//
// Only the leftover-many largest remainders need ordering, so nothing big is
// sorted. The pass that computes the floors also builds a histogram of the
// remainders' top 11-bit digit; a radix select then narrows to the bucket
// holding the leftover-th largest remainder r*, digit by digit, and as soon
// as that bucket holds at most selectBuf remainders it copies them to a
// stack buffer and sorts only those. A last pass in id order gives a unit to
// every remainder above r* and to the first ones equal to r*, which is the
// "ties by smallest id" rule. Typical cost: one 128-bit multiply-divide per
// sponsor and three sequential passes; worst case (all remainders in one
// bucket, e.g. equal stakes) ceil(bitlen(total)/11) + 2 passes. No heap
// allocation.
//
// While it runs, each participant's remainder is parked in its TransferE8s
// field (bit-cast from uint64; the remainder is < total <= 2^64-1) so the
// passes need no extra memory. The caller must set TransferE8s afterwards,
// as settleShares does for every share: one pass fewer over 64 MB at 1M.
func splitProRata(shares []Share, skip int, x uint64, total uint64) error {
	if x == 0 {
		for i := range shares {
			if i != skip {
				shares[i].ShareE8s = 0
			}
		}
		return nil
	}
	if total == 0 {
		return invariantErr("pro-rata split of %d e8s over a zero total stake", x)
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
			return invariantErr("pro-rata quotient of sponsor %q overflows (stake %d > total %d?)", shares[i].Sponsor, shares[i].StakeE8s, total)
		}
		shares[i].ShareE8s = money.E8s(q)
		shares[i].TransferE8s = money.E8s(int64(r)) // parked remainder, see above
		counts[r>>shift]++
		floors += q
		participants++
	}
	if floors > x {
		return invariantErr("pro-rata floors %d exceed the amount split %d", floors, x)
	}
	left := x - floors
	if left > 0 && left >= participants {
		return invariantErr("pro-rata leftover %d not below the %d participants", left, participants)
	}
	if left > 0 {
		threshold, takeEqual := selectThreshold(shares, skip, left, &counts, shift)
		var given uint64
		for i := range shares {
			if i == skip {
				continue
			}
			r := uint64(shares[i].TransferE8s)
			shares[i].TransferE8s = 0
			if r > threshold || (r == threshold && takeEqual > 0) {
				if r == threshold {
					takeEqual--
				}
				shares[i].ShareE8s++
				given++
			}
		}
		if given != left || takeEqual != 0 {
			return invariantErr("largest remainder handed out %d of %d leftover units", given, left)
		}
	}
	// With no leftover the parked remainders stay in TransferE8s: the caller
	// (settleShares) overwrites that field for every share, and
	// CheckInvariants would catch a stale one (transfer + fee + carry-out
	// must equal owed).
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
				if r := uint64(shares[i].TransferE8s); i != skip && r&mask == prefix {
					buf[m] = r
					m++
				}
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
