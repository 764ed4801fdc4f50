package rule

import (
	"iter"
	"maps"
	"slices"
	"strings"
)

// Hopping windows as panes. A hopping window of size k·every is the union
// of k panes of width every, so an event updates its one pane instead of
// its k windows, and a closing window merges its k panes. Where windows
// are merged across partitions, each partition sends a pane once, when the
// first window holding it closes, instead of sending every window: up to k
// times fewer partials and state entries.
//
// Per-event lateness stays as it was: a pane takes events only while every
// window holding it is open (the watermark is below pane start + every).
// An event that arrives later, when some of its windows have closed, goes
// into per-window buckets of the windows still open (byStart, as without
// panes), which closing windows merge too.

// usesPanes says whether the rule's windows are built from panes: hopping
// windows whose size is a multiple of every, without early results (early
// rows of a window would have to merge its panes each time).
func (r *Rule) usesPanes() bool {
	w := r.Window
	return w != nil && w.Type == Hopping && w.EmitEvery == 0 && w.Every < w.Size && w.Size%w.Every == 0
}

// addHopping puts a matched event of a pane rule into its pane, or, when
// some of its windows have closed, into the open ones.
func (w *Windows) addHopping(ev *Eval, ts, wm int64) string {
	size, every := int64(w.r.Window.Size), int64(w.r.Window.Every)
	p := floorDiv(ts, every)
	if p+size <= wm { // the last window holding the event has closed
		return w.lateReason(p, p+size, wm)
	}
	if p+every > wm { // every window holding the pane is open
		w.update(w.paneAt(ev, p), ev)
		return ""
	}
	for s := p; s+size > wm; s -= every {
		w.update(w.bucketAt(ev, s, s+size), ev)
	}
	return ""
}

func (w *Windows) paneAt(ev *Eval, p int64) *bucket {
	m := w.panes[p]
	if m == nil {
		m = groupMap(w.hint)
		w.panes[p] = m
	}
	b := m[string(ev.key)]
	if b == nil {
		b = w.newBucket(ev, p, p+int64(w.r.Window.Every))
		b.pane = true
		m[b.gkey] = b
	}
	return b
}

// closeHopping closes the windows of a pane rule that end at or before wm.
// Sending partials, it returns the panes whose first window closed (they
// take no more events) and the closed per-window buckets, still to be
// dropped; otherwise it returns each closed window merged from its panes
// and buckets, and drops the panes and buckets no open window needs.
func (w *Windows) closeHopping(wm int64, partial bool) []*bucket {
	size, every := int64(w.r.Window.Size), int64(w.r.Window.Every)
	var out []*bucket
	if !partial {
		starts := closingWindows(w.r, w.closedWM, wm, maps.Keys(w.panes), maps.Keys(w.byStart))
		out = w.merger.merge(w.r, starts, func(start int64, pane bool, f func(*bucket)) {
			m := w.byStart[start]
			if pane {
				m = w.panes[start]
			}
			for _, b := range m {
				f(b)
			}
		})
	}
	// A pane is done when the first window holding it closes (its partial
	// goes out) or the last (nothing needs it); a window bucket when it
	// closes.
	paneSpan := size
	if partial {
		paneSpan = every
	}
	released := 0 // groups of the largest pane or window released
	release := func(byStart map[int64]map[string]*bucket, span int64) {
		for start, m := range byStart {
			if start+span > wm {
				continue
			}
			for _, b := range m {
				if partial {
					out = append(out, b)
				} else {
					w.drop(b)
				}
			}
			released = max(released, len(m))
			delete(byStart, start)
		}
	}
	release(w.panes, paneSpan)
	release(w.byStart, size)
	if released > 0 {
		w.hint = released
	}
	w.closedWM = max(w.closedWM, wm)
	return out
}

// closingWindows lists, in order, the starts of the windows that end in
// (from, to] and hold one of the panes or per-window buckets given by
// their starts.
func closingWindows(r *Rule, from, to int64, panes, windows iter.Seq[int64]) []int64 {
	size, every := int64(r.Window.Size), int64(r.Window.Every)
	seen := map[int64]bool{}
	add := func(s int64) {
		if end := s + size; end > from && end <= to {
			seen[s] = true
		}
	}
	for p := range panes {
		for s := p; s > p-size; s -= every {
			add(s)
		}
	}
	for s := range windows {
		add(s)
	}
	return slices.Sorted(maps.Keys(seen))
}

// merger merges windows from their pieces (merge) and keeps what a merge
// makes for the next one: a closing window's results are emitted and
// dropped at once, and making a bucket with its aggregate states, float
// sums and distinct sets for each group of each window was most of the
// merge's cost.
type merger struct {
	hint  int       // groups of the last window merged (groupMap)
	spare []*bucket // emitted results, to reuse (recycle)
}

// merge builds the given windows' results per group from their pieces:
// pieces(p, true, f) calls f with the buckets of pane p, and pieces(s,
// false, f) with those of window s itself. Pieces are merged in a fixed
// order (panes by start, then the window's own buckets), and the results
// come ordered by window start, then group key. Give the results back
// with recycle once they are emitted.
func (mg *merger) merge(r *Rule, starts []int64, pieces func(start int64, pane bool, f func(*bucket))) []*bucket {
	size, every := int64(r.Window.Size), int64(r.Window.Every)
	var out []*bucket
	for _, s := range starts {
		acc := groupMap(mg.hint)
		fold := func(b *bucket) {
			m := acc[b.gkey]
			if m == nil {
				m = mg.bucket(r, s, s+size, b)
				acc[b.gkey] = m
			}
			for i := range r.aggs {
				r.aggs[i].merge(&m.aggs[i], &b.aggs[i], r.Window.DistinctExact)
			}
		}
		for p := s; p < s+size; p += every {
			pieces(p, true, fold)
		}
		pieces(s, false, fold)
		at := len(out)
		for _, b := range acc {
			out = append(out, b)
		}
		mg.hint = len(acc)
		slices.SortFunc(out[at:], func(a, b *bucket) int { return strings.Compare(a.gkey, b.gkey) })
	}
	return out
}

// bucket returns an empty result of the window [start, end) for the group
// of piece: a spare one when there is one.
func (mg *merger) bucket(r *Rule, start, end int64, piece *bucket) *bucket {
	n := len(mg.spare)
	if n == 0 {
		return &bucket{start: start, end: end, gkey: piece.gkey, group: piece.group, aggs: make([]aggState, len(r.aggs))}
	}
	b := mg.spare[n-1]
	mg.spare = mg.spare[:n-1]
	*b = bucket{start: start, end: end, gkey: piece.gkey, group: piece.group, aggs: b.aggs}
	return b
}

// recycle takes back merged results that have been emitted: nothing
// refers to them any more. It keeps about a window's worth (the next
// merge needs about as many), not all the windows a jump of the
// watermark closed at once.
func (mg *merger) recycle(out []*bucket) {
	for _, b := range out {
		if len(mg.spare) >= max(mg.hint, 64) {
			return
		}
		for i := range b.aggs {
			b.aggs[i].clear()
		}
		b.group, b.gkey = nil, "" // the pieces' own, let them go
		mg.spare = append(mg.spare, b)
	}
}

// closePanes closes a pane rule's windows at wm: it sends the finished
// panes and the closed per-window buckets as partials, or emits the
// closed windows.
func (w *Windows) closePanes(ev *Eval, s Sink, wm int64, ps PartialSink, partial bool) {
	out := w.closeHopping(wm, partial)
	if !partial {
		for _, b := range out {
			w.emit(ev, s, b, true)
		}
		w.merger.recycle(out)
		return
	}
	w.sortClosed(out, startsFirst)
	for _, b := range out {
		w.drop(b)
		// Keyed by the group alone: the combiner of a window needs all its
		// panes, and panes belong to several windows.
		w.kbuf = append(append(w.kbuf[:0], 'g'), b.gkey...)
		w.vbuf = w.appendBucket(w.vbuf[:0], b)
		ps.Partial(w.r, w.kbuf, w.vbuf)
	}
}
