package rule

import (
	"slices"
	"testing"
)

// TestSessionsGetSetEach moves a group between none, one and several open
// sessions and checks what get and each see at every step.
func TestSessionsGetSetEach(t *testing.T) {
	s := newSessions()
	a, b, c := &bucket{start: 1, gkey: "u"}, &bucket{start: 2, gkey: "u"}, &bucket{start: 3, gkey: "v"}
	all := func() []*bucket {
		var out []*bucket
		s.each(func(x *bucket) { out = append(out, x) })
		slices.SortFunc(out, func(x, y *bucket) int { return int(x.start - y.start) })
		return out
	}
	check := func(step string, u []*bucket, every []*bucket) {
		t.Helper()
		if got := s.get("u"); !slices.Equal(got, u) {
			t.Fatalf("%s: get(u) = %v, want %v", step, got, u)
		}
		if got := all(); !slices.Equal(got, every) {
			t.Fatalf("%s: each = %v, want %v", step, got, every)
		}
	}
	check("empty", nil, nil)
	s.set("u", []*bucket{a})
	s.set("v", []*bucket{c})
	check("one each", []*bucket{a}, []*bucket{a, c})
	// get's list of one is scratch: growing it must not disturb the group.
	list := append(s.get("u"), b)
	s.set("u", list)
	check("two", []*bucket{a, b}, []*bucket{a, b, c})
	list = slices.Delete(s.get("u"), 0, 1)
	s.set("u", list)
	check("one left", []*bucket{b}, []*bucket{b, c})
	if len(s.more) != 0 {
		t.Fatalf("a group of one session is still in more: %v", s.more)
	}
	s.set("u", nil)
	check("none", nil, []*bucket{c})
}
