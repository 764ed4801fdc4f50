package rule

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Repartitioned windows. A session rule, or a rule with early results
// (emit_every), cannot be merged from per-partition partials: a session
// spans partitions, and an early row must carry the group's running values
// over every partition. When such a rule is not grouped by the record key,
// each source partition only evaluates the event (where, group values,
// aggregate arguments) and judges its lateness against the partition's own
// watermark; it forwards what it computed, keyed by the group, to the
// partition that owns the group. That owner runs the rule's windows over
// the events of all source partitions (a Gatherer). Its watermark is the
// lowest of the source partitions' watermarks, which they report with
// markers written after the events they forwarded.

// ForwardSink receives the events a repartitioned rule forwards: gkey is
// the group key (the record key that picks the owner), payload the event.
// Both are only valid during the call.
type ForwardSink interface {
	Forward(r *Rule, gkey, payload []byte)
}

// Repartitions says whether the rule's events are sent to the owner of
// their group: session rules, rules with emit_every and rules that ask for
// it (repartition: true), unless a group column is the record key (then
// each group lives in one partition).
func (r *Rule) Repartitions() bool {
	w := r.Window
	return w != nil && (w.Type == Session || w.EmitEvery > 0 || w.Repartition) && !r.groupedByKey()
}

// Repartition makes the task forward the events of repartitioned rules to
// its sink's Forward instead of windowing them (a sink that is not a
// ForwardSink gets them windowed in place). The task still keeps those
// rules' watermarks, which the caller reports to the owners.
func (t *Task) Repartition() {
	for i, w := range t.Windows {
		if w != nil && t.Rules[i].Repartitions() {
			if t.forward == nil {
				t.forward = make([]bool, len(t.Rules))
			}
			t.forward[i] = true
		}
	}
}

// forwardVersion is the first byte of a forwarded event:
//
//	version 1 | event time varint | event time - source watermark varint |
//	group values | arguments of the aggregates that take one
const forwardVersion = 1

// forward judges a matched event's lateness against this partition's
// watermark and, unless it is late, sends it to s.
func (w *Windows) forward(ev *Eval, rec any, t time.Time, s ForwardSink) (late string, err error) {
	if err := w.evalGroup(ev, rec); err != nil {
		return "", err
	}
	ts, wm := t.UnixNano(), w.wm()
	if late := w.forwardLate(ts, wm); late != "" {
		return late, nil
	}
	b := append(w.vbuf[:0], forwardVersion)
	b = binary.AppendVarint(b, ts)
	b = binary.AppendVarint(b, ts-wm) // wraps before the first event; decoding wraps back
	for _, v := range ev.vals {
		b = appendVal(b, v)
	}
	for i := range w.r.aggs {
		if w.r.aggs[i].arg != nil {
			b = appendVal(b, ev.args[i])
		}
	}
	w.vbuf = b
	s.Forward(w.r, ev.key, b)
	return "", nil
}

// forwardLate is Add's lateness rule for tumbling and hopping windows: late
// when every window of the event has ended at or before wm. A session
// event is late when it is behind wm. (Add accepts it until ts+gap passes
// wm, as it may still join an open session of its partition; here the
// sessions live at the owner, and whether such an event would find its
// session still open there depends on when the other partitions' events
// and markers arrive. An event at or after its partition's watermark
// always finds every session it touches open: see Gatherer.)
func (w *Windows) forwardLate(ts, wm int64) string {
	win := w.r.Window
	switch win.Type {
	case Tumbling:
		start := floorDiv(ts, int64(win.Size))
		if end := start + int64(win.Size); end <= wm {
			return w.lateReason(start, end, wm)
		}
	case Hopping:
		size, every := int64(win.Size), int64(win.Every)
		if last := floorDiv(ts, every); last+size <= wm { // the latest window ends last
			return w.lateReason(last, last+size, wm)
		}
	case Session:
		if ts < wm {
			return fmt.Sprintf("late: event at %s is behind the watermark %s of its partition (allowed lateness %s); a session over all partitions takes no older event",
				unixTime(ts).Format(time.RFC3339Nano), unixTime(wm).Format(time.RFC3339Nano), w.r.Window.AllowedLateness)
		}
	}
	return ""
}

// Gatherer runs a repartitioned rule's windows at the owner of a
// repartition partition, over the events every source partition forwarded
// to it. Its watermark is the lowest of the source partitions' watermarks
// (from their markers): it closes a window only when every partition has
// passed its end.
//
// Nothing forwarded is late here. A source forwards an event only when it
// is not late against its watermark wm_s at that moment. Its watermark
// never goes back and its markers are written after the events it
// forwarded, so when the event arrives every mark the gatherer has from
// that source is at most wm_s, and the gatherer's watermark (the lowest
// mark) too. The gatherer places the event
// against wm_s itself (carried in the event): the windows it joins are
// exactly those its source partition would have given it, all still open
// here, whatever the order in which other partitions' events and markers
// arrived. A session event is forwarded only when it is at or after wm_s,
// so every session it overlaps ends after wm_s and is open too: sessions
// come out as if all of a group's events had been read by one partition,
// independently of timing.
type Gatherer struct {
	r       *Rule
	w       *Windows
	wms     []int64 // per source partition
	dirty   []bool  // marks changed since the last Changes
	ev      Eval
	scratch []byte
}

// NewGatherer returns an empty gatherer for n source partitions.
func (r *Rule) NewGatherer(n int) *Gatherer {
	g := &Gatherer{r: r, w: r.NewWindows(), wms: make([]int64, n), dirty: make([]bool, n)}
	for i := range g.wms {
		g.wms[i] = math.MinInt64
	}
	return g
}

// Rule is the gatherer's rule.
func (g *Gatherer) Rule() *Rule { return g.r }

// Rebind points the gatherer at a reloaded rule with the same definition.
func (g *Gatherer) Rebind(r *Rule) {
	if r.Hash == g.r.Hash {
		g.r = r
		g.w.Rebind(r)
	}
}

// TrackChanges turns on change tracking for Changes.
func (g *Gatherer) TrackChanges() { g.w.TrackChanges() }

// Size is the number of open (window, group) states.
func (g *Gatherer) Size() int { return g.w.Size() }

// Watermark is the lowest watermark of the source partitions (zero until
// every partition has reported one).
func (g *Gatherer) Watermark() time.Time { return g.w.Watermark() }

// Add puts one forwarded event into the windows.
func (g *Gatherer) Add(payload []byte) error {
	r, ev := g.r, &g.ev
	rd := &stateReader{b: payload}
	if rd.byte() != forwardVersion {
		return fmt.Errorf("rule %s: forwarded event: %w", r.Name, errBadState)
	}
	ts := rd.varint()
	wm := ts - rd.varint()
	ev.key, ev.vals, ev.args = ev.key[:0], ev.vals[:0], ev.args[:0]
	for i := range r.groups {
		v := rd.val(kindOf(r.groups[i].typ))
		ev.vals = append(ev.vals, v)
		ev.key = v.appendKey(ev.key)
	}
	for i := range r.aggs {
		var v value
		if a := r.aggs[i].arg; a != nil {
			v = rd.val(kindOf(a.typ))
		}
		ev.args = append(ev.args, v)
	}
	if rd.err != nil || len(rd.b) != 0 {
		return fmt.Errorf("rule %s: forwarded event: %w", r.Name, errBadState)
	}
	// wm is at least the gatherer's watermark (see Gatherer): placing the
	// event against it gives the windows its source would have given it.
	late, err := g.w.place(ev, ts, max(wm, g.w.wm()))
	if err == nil && late != "" {
		err = fmt.Errorf("rule %s: a forwarded event was late at its owner (a source partition's watermark went back?): %s", r.Name, late)
	}
	return err
}

// Mark records that source partition part's watermark reached wm.
func (g *Gatherer) Mark(part int, wm int64) {
	if part < 0 || part >= len(g.wms) || wm <= g.wms[part] {
		return
	}
	g.wms[part] = wm
	g.dirty[part] = true
	low := wm
	for _, x := range g.wms {
		low = min(low, x)
	}
	// The windows' clock: their watermark is maxET minus the allowed
	// lateness, which the sources have already taken off.
	if low != math.MinInt64 && (!g.w.hasET || low > g.w.wm()) {
		g.w.maxET, g.w.hasET = low+int64(g.r.Window.AllowedLateness), true
	}
}

// Advance emits the windows every source partition has passed, and early
// results when due at now.
func (g *Gatherer) Advance(s Sink, now time.Time) {
	g.w.Advance(&g.ev, s)
	g.w.Early(&g.ev, s, now)
}

// Flush emits every open window (tests: the input has ended).
func (g *Gatherer) Flush(s Sink) { g.w.Flush(&g.ev, s) }

// Changes reports the windows changed since the last call (as
// Windows.Changes) and the source partitions' marks that moved ("s<part>").
// key and val are only valid during the call.
func (g *Gatherer) Changes(put func(key, val []byte), del func(key []byte)) {
	g.w.Changes(put, del) // no "m" entry: the marks are the clock
	for p, d := range g.dirty {
		if !d {
			continue
		}
		g.dirty[p] = false
		g.scratch = strconv.AppendInt(append(g.scratch[:0], 's'), int64(p), 10)
		k := len(g.scratch)
		g.scratch = binary.BigEndian.AppendUint64(g.scratch, uint64(g.wms[p]))
		put(g.scratch[:k], g.scratch[k:])
	}
}

// Forget reports the changelog key of everything the gatherer has
// written and not yet deleted (as Windows.Forget).
func (g *Gatherer) Forget(del func(key []byte)) {
	g.w.Forget(del)
	for p, wm := range g.wms {
		if wm != math.MinInt64 {
			g.scratch = strconv.AppendInt(append(g.scratch[:0], 's'), int64(p), 10)
			del(g.scratch)
		}
	}
}

// Restore loads one live changelog entry.
func (g *Gatherer) Restore(key string, val []byte) error {
	if rest, ok := strings.CutPrefix(key, "s"); ok {
		p, err := strconv.Atoi(rest)
		if err != nil || len(val) != 8 {
			return fmt.Errorf("rule %s: bad source watermark entry", g.r.Name)
		}
		if p >= 0 && p < len(g.wms) {
			g.Mark(p, int64(binary.BigEndian.Uint64(val)))
			g.dirty[p] = false // already in the changelog
			if g.w.panes != nil {
				// The changelog is written after closing (as Windows.Restore
				// says of its "m" entry): the panes still needed by open
				// windows must not emit the closed ones again.
				g.w.closedWM = max(g.w.closedWM, g.w.wm())
			}
		}
		return nil
	}
	return g.w.Restore(key, val)
}
