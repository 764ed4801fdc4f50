package rule

import "math"

// endIndex files open sessions by the time they end, in slots of a fixed
// width, so closing the sessions a watermark has passed visits those
// sessions (and the few others of the watermark's slot) instead of every
// open session of every group. A session's end only grows: an extended
// session stays where it is filed until its slot is visited, and is then
// filed again under the slot of its end. Filing it again at each event
// that moved its end to another slot made an entry, most of them stale by
// the time their slot came, for about every other event of an active
// group; this way an active session is filed again about once per gap.
// An entry goes stale (bucket.slot no longer matches) when its session is
// dropped or merged into another; it is dropped when its slot is visited.
type endIndex struct {
	width int64
	slots map[int64][]*bucket
	low   int64 // no live entry sits in a slot below this
}

func newEndIndex(gap int64) endIndex {
	return endIndex{width: max(gap/8, 1), slots: map[int64][]*bucket{}, low: math.MaxInt64}
}

func (x *endIndex) slotOf(end int64) int64 { return floorDiv(end, x.width) / x.width }

// file files b under its current end; a no-op when it is filed already.
func (x *endIndex) file(b *bucket) {
	if b.filed {
		return
	}
	k := x.slotOf(b.end)
	b.slot, b.filed = k, true
	x.slots[k] = append(x.slots[k], b)
	x.low = min(x.low, k)
}

// lowEnd is a lower bound of every filed session's end.
func (x *endIndex) lowEnd() int64 {
	if len(x.slots) == 0 {
		return math.MaxInt64
	}
	return x.low * x.width
}

// expire appends to out every live session whose end is at or before wm
// and unfiles it; the live sessions it visits that end later are filed
// under their ends.
func (x *endIndex) expire(wm int64, out []*bucket) []*bucket {
	if len(x.slots) == 0 || wm < x.lowEnd() {
		return out
	}
	last := x.slotOf(wm)
	visit := func(k int64, list []*bucket) {
		keep := list[:0]
		for _, b := range list {
			switch {
			case b.removed || !b.filed || b.slot != k: // stale
			case b.end <= wm:
				b.filed = false
				out = append(out, b)
			case x.slotOf(b.end) != k: // extended since it was filed
				b.slot = x.slotOf(b.end)
				x.slots[b.slot] = append(x.slots[b.slot], b)
			default:
				keep = append(keep, b)
			}
		}
		if len(keep) == 0 {
			delete(x.slots, k)
		} else {
			clear(list[len(keep):]) // let the dropped buckets be collected
			x.slots[k] = keep
		}
	}
	if span := last - x.low; span >= 0 && span <= int64(len(x.slots)) {
		for k := x.low; k <= last; k++ {
			if list, ok := x.slots[k]; ok {
				visit(k, list)
			}
		}
	} else {
		for k, list := range x.slots {
			if k <= last {
				visit(k, list)
			}
		}
	}
	x.low = math.MaxInt64
	if _, ok := x.slots[last]; ok {
		x.low = last
	} else {
		for k := range x.slots {
			x.low = min(x.low, k)
		}
	}
	return out
}
