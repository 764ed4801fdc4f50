package rule

import "slices"

// smallSet is how many hashes a hashSet keeps in its slice before it moves
// them into a map: up to here a linear scan of one or two cache lines is
// cheaper than hashing into a map, and most groups of a window see only a
// few distinct values (buyers of one product in one minute).
const smallSet = 16

// hashSet is count_distinct's exact set of 64-bit value hashes.
type hashSet struct {
	small []uint64
	big   map[uint64]struct{} // once past smallSet; small is then nil
}

func newHashSet(n int) *hashSet {
	if n > smallSet {
		return &hashSet{big: make(map[uint64]struct{}, n)}
	}
	return &hashSet{small: make([]uint64, 0, max(n, 4))}
}

func (s *hashSet) add(h uint64) {
	if s.big != nil {
		s.big[h] = struct{}{}
		return
	}
	if slices.Contains(s.small, h) {
		return
	}
	if len(s.small) < smallSet {
		s.small = append(s.small, h)
		return
	}
	s.big = make(map[uint64]struct{}, 2*smallSet)
	for _, x := range s.small {
		s.big[x] = struct{}{}
	}
	s.big[h] = struct{}{}
	s.small = nil
}

func (s *hashSet) len() int {
	if s.big != nil {
		return len(s.big)
	}
	return len(s.small)
}

// each calls f with every hash, in no particular order.
func (s *hashSet) each(f func(uint64)) {
	for _, h := range s.small {
		f(h)
	}
	for h := range s.big {
		f(h)
	}
}

// reset empties the set, keeping its memory, for a set about to hold n.
func (s *hashSet) reset(n int) {
	switch {
	case n > smallSet && s.big != nil:
		clear(s.big)
	case n > smallSet:
		s.small, s.big = nil, make(map[uint64]struct{}, n)
	case s.big != nil:
		s.small, s.big = make([]uint64, 0, max(n, 4)), nil
	default:
		s.small = s.small[:0]
	}
}
