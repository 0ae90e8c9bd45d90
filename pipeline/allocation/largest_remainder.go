package allocation

import (
	"math/bits"

	"github.com/nodeshare/nodeshare/pipeline/money"
)

// splitProRata splits x e8s between shares[i] (all i except skip) by their
// StakeE8s, whose sum is total (ALLOCATION_RULES step 6): each gets
// floor(x * s_i / total), and the leftover units go one each to the largest
// remainders (x * s_i) mod total, ties by smallest id. shares must be sorted
// by Sponsor. It writes ShareE8s and leaves the other fields as they were.
//
// Only the leftover-many largest remainders need ordering, and leftover is
// below the number of participants, so nothing is sorted: a radix select
// (11-bit digits, most significant first, histograms on the stack) finds the
// threshold remainder r* and how many sponsors with exactly r* still get a
// unit; one final pass in id order then hands the units out, which applies
// the "ties by smallest id" rule for free. Cost: one 128-bit multiply-divide
// per sponsor plus ceil(bitlen(total)/11) read-only passes, no allocation.
//
// While it runs, each participant's remainder is parked in its TransferE8s
// field (bit-cast from uint64; the remainder is < total <= 2^64-1) so the
// passes need no extra memory; the field is zeroed again before returning.
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
	var floors uint64
	participants := uint64(0)
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
		floors += q
		participants++
	}
	if floors > x {
		return invariantErr("pro-rata floors %d exceed the amount split %d", floors, x)
	}
	left := x - floors
	if left >= participants && left > 0 {
		return invariantErr("pro-rata leftover %d not below the %d participants", left, participants)
	}
	if left > 0 {
		threshold, takeEqual := selectThreshold(shares, skip, left, total-1)
		var given uint64
		for i := range shares {
			if i == skip {
				continue
			}
			r := uint64(shares[i].TransferE8s)
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
	for i := range shares {
		if i != skip {
			shares[i].TransferE8s = 0
		}
	}
	return nil
}

const radixBits = 11

// selectThreshold returns the k-th largest parked remainder r* (k >= 1) among
// the participants and how many participants with remainder exactly r* are
// within the k largest (the ones with the smallest ids get the units).
// maxRem bounds every remainder.
func selectThreshold(shares []Share, skip int, k uint64, maxRem uint64) (threshold uint64, takeEqual uint64) {
	width := bits.Len64(maxRem)
	digits := (width + radixBits - 1) / radixBits
	if digits == 0 {
		digits = 1
	}
	var prefix uint64 // the digits chosen so far, in place
	for d := digits - 1; d >= 0; d-- {
		shift := uint(d * radixBits)
		var highMask uint64 // bits above the current digit
		if shift+radixBits < 64 {
			highMask = ^uint64(0) << (shift + radixBits)
		}
		var counts [1 << radixBits]uint64
		for i := range shares {
			if i == skip {
				continue
			}
			r := uint64(shares[i].TransferE8s)
			if r&highMask != prefix {
				continue
			}
			counts[(r>>shift)&(1<<radixBits-1)]++
		}
		for b := 1<<radixBits - 1; b >= 0; b-- {
			if counts[b] >= k {
				prefix |= uint64(b) << shift
				break
			}
			k -= counts[b]
		}
	}
	return prefix, k
}
