package lifecycle

import "slices"

// blockSet is the set of ledger block indices a pool has seen
// (docs/pool-rules.md "Invalid input": a repeated block_index is invalid).
// Deposits arrive almost always in ledger order, so the set keeps an ascending run that such deposits
// simply extend (8 bytes each, no hashing), and a map for the few that
// arrive out of order. Either way a lookup is O(log n) at worst and an
// insert never moves the run.
type blockSet struct {
	run   []uint64 // ascending
	other map[uint64]struct{}
}

func (s *blockSet) has(b uint64) bool {
	if _, ok := slices.BinarySearch(s.run, b); ok {
		return true
	}
	_, ok := s.other[b]
	return ok
}

// add records b, which must not be in the set.
func (s *blockSet) add(b uint64) {
	if len(s.run) == 0 || b > s.run[len(s.run)-1] {
		s.run = append(s.run, b)
		return
	}
	if s.other == nil {
		s.other = make(map[uint64]struct{})
	}
	s.other[b] = struct{}{}
}
