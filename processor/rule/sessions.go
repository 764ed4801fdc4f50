package rule

// sessions holds a session rule's open sessions by group. Most groups have
// one, held in the map itself; a group with more (a new session begun
// before the watermark closed the last, or out-of-order events) keeps them
// all, by start, in more. One map lookup per event then reaches the
// session itself, where a map of slices also read the slice's array.
type sessions struct {
	first map[string]*bucket   // each group's earliest open session
	more  map[string][]*bucket // every session of a group with two or more
	one   [1]*bucket           // get's list of a group's one session
}

func newSessions() sessions {
	return sessions{first: map[string]*bucket{}, more: map[string][]*bucket{}}
}

// get returns the open sessions of a group, by start. The list is only
// valid until the next get or set; changing it in place and passing it to
// set is how it is meant to be used.
func (s *sessions) get(gkey string) []*bucket {
	b := s.first[gkey]
	switch {
	case b == nil:
		return nil
	case b.more:
		return s.more[gkey]
	}
	s.one[0] = b
	return s.one[:1]
}

// set makes list, sorted by start, the open sessions of a group.
func (s *sessions) set(gkey string, list []*bucket) {
	if len(list) < 2 && len(s.more) > 0 {
		delete(s.more, gkey)
	}
	switch len(list) {
	case 0:
		delete(s.first, gkey)
	case 1:
		list[0].more = false
		s.first[gkey] = list[0]
	default:
		list[0].more = true
		s.first[gkey] = list[0]
		s.more[gkey] = list
	}
}

// each calls f with every open session.
func (s *sessions) each(f func(*bucket)) {
	for gkey, b := range s.first {
		if !b.more {
			f(b)
			continue
		}
		for _, x := range s.more[gkey] {
			f(x)
		}
	}
}
