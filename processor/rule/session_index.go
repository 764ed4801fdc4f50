package rule

import "math"

// endIndex files open sessions by the time they end, in slots of a fixed
// width, so closing the sessions a watermark has passed visits those
// sessions (and the few others of the watermark's slot) instead of every
// open session of every group. An extended session is filed again under
// its new slot; its old entry goes stale (bucket.slot no longer matches)
// and is dropped when its slot is visited.
type endIndex struct {
	width int64
	slots map[int64][]*bucket
	low   int64 // no live entry sits in a slot below this
}

func newEndIndex(gap int64) endIndex {
	return endIndex{width: max(gap/8, 1), slots: map[int64][]*bucket{}, low: math.MaxInt64}
}

func (x *endIndex) slotOf(end int64) int64 { return floorDiv(end, x.width) / x.width }

// file (re)files b under its current end; a no-op when its slot is the same.
func (x *endIndex) file(b *bucket) {
	k := x.slotOf(b.end)
	if b.filed && b.slot == k {
		return
	}
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
// and unfiles it.
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
