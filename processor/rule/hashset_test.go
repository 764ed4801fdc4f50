package rule

import (
	"slices"
	"testing"
)

// TestHashSet adds with repeats across the move from slice to map and
// back through reset, against a plain map.
func TestHashSet(t *testing.T) {
	for _, n := range []int{0, 3, smallSet, smallSet + 1, 100} {
		s, want := newHashSet(1), map[uint64]bool{}
		for i := 0; i < 3*n; i++ {
			h := uint64(i % max(n, 1) * 7919)
			s.add(h)
			want[h] = true
		}
		if n == 0 {
			clear(want)
			s.reset(0)
		}
		var got []uint64
		s.each(func(h uint64) { got = append(got, h) })
		if s.len() != len(want) || len(got) != len(want) {
			t.Fatalf("n=%d: len %d, each gave %d, want %d", n, s.len(), len(got), len(want))
		}
		for _, h := range got {
			if !want[h] {
				t.Fatalf("n=%d: unexpected %d", n, h)
			}
		}
		for _, m := range []int{2, smallSet + 5} {
			s.reset(m)
			if s.len() != 0 {
				t.Fatalf("n=%d: reset(%d) left %d", n, m, s.len())
			}
			for i := 0; i < m; i++ {
				s.add(uint64(i))
				s.add(uint64(i))
			}
			got = got[:0]
			s.each(func(h uint64) { got = append(got, h) })
			slices.Sort(got)
			if s.len() != m || len(got) != m || got[m-1] != uint64(m-1) {
				t.Fatalf("n=%d: after reset(%d): len %d, %v", n, m, s.len(), got)
			}
		}
	}
}
