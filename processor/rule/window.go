package rule

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"
	"unsafe"
)

// bucket is the state of one window for one group.
type bucket struct {
	start, end int64 // unix nanoseconds, [start, end)
	gkey       string
	group      []value
	aggs       []aggState
	dirty      bool // changed since the last changelog flush
	flushed    bool // written to the changelog under its current key
	early      bool // changed since the last early emission
	removed    bool
	filed      bool  // session: in the end index, under slot
	pane       bool  // hopping: a pane (see panes.go), not a window
	more       bool  // session: the first of a group with other open sessions (see sessions)
	slot       int64 // session: end-index slot
}

// Windows is one window rule's state for one input partition: open windows
// per group and the partition's watermark. Results depend only on the
// order of the partition's events (lateness is judged against the
// watermark at each event), never on batch boundaries or timing, so a
// replay yields the same results.
type Windows struct {
	r         *Rule
	maxET     int64
	hasET     bool
	byStart   map[int64]map[string]*bucket // tumbling and hopping
	panes     map[int64]map[string]*bucket // hopping built from panes
	closedWM  int64                        // panes: windows ending at or before this have closed
	sessions  sessions                     // session: per group, by start
	ends      endIndex                     // session: open sessions by end
	n         int                          // open buckets
	hint      int                          // groups of the last closed window (groupMap)
	merger    merger                       // panes: merges closing windows from them
	dirty     []*bucket
	gone      []goneKey // changelog keys of buckets that closed or moved
	wmDirty   bool
	early     time.Time
	track     bool // keep the changes for a changelog (Changes)
	partial   bool // closed windows go to a Combiner (PartialSink), not out
	row       []byte
	kbuf      []byte // scratch for changelog keys and values
	vbuf      []byte
	sorting   []closing // scratch for sortClosed
	names     []string  // emit: `"name":` of each group and aggregate
	startText stamp     // emit: the last window start written
	endText   stamp
}

// stamp is the JSON text of the last timestamp written: the rows of a
// closing window share their bounds, and formatting one takes longer than
// the rest of a row.
type stamp struct {
	ns   int64
	text []byte
}

func (c *stamp) appendJSON(b []byte, ns int64) []byte {
	if c.text == nil || c.ns != ns {
		c.ns, c.text = ns, value{kind: kTimestamp, i: ns}.appendJSON(c.text[:0])
	}
	return append(b, c.text...)
}

// closing is a closed bucket's sort key, copied out of it: sorting
// thousands of buckets through their pointers reads each one from memory
// again at every comparison. pre is the group key's first 8 bytes as a
// big-endian number (zero-padded), so most comparisons of groups are one
// integer comparison; group keys are short (a user's is about 6 bytes).
type closing struct {
	a, b int64
	pre  uint64
	gkey string
	bk   *bucket
}

// keyPrefix is the first 8 bytes of k, zero-padded, as a big-endian
// number: two different prefixes order as their strings do; equal ones
// decide nothing.
func keyPrefix(k string) uint64 {
	var p [8]byte
	copy(p[:], k)
	return binary.BigEndian.Uint64(p[:])
}

// Orders of closed buckets: by end, start and group (windows as they
// close), or by start, end and group (panes and windows sent as partials).
const (
	endsFirst = iota
	startsFirst
)

// sortClosed sorts closed buckets into a fixed order, so that outputs and
// partials do not depend on map iteration.
func (w *Windows) sortClosed(out []*bucket, order int) {
	ks := w.sorting[:0]
	for _, b := range out {
		if order == endsFirst {
			ks = append(ks, closing{b.end, b.start, keyPrefix(b.gkey), b.gkey, b})
		} else {
			ks = append(ks, closing{b.start, b.end, keyPrefix(b.gkey), b.gkey, b})
		}
	}
	slices.SortFunc(ks, func(x, y closing) int {
		if x.a != y.a {
			return cmp.Compare(x.a, y.a)
		}
		if x.b != y.b {
			return cmp.Compare(x.b, y.b)
		}
		if x.pre != y.pre {
			return cmp.Compare(x.pre, y.pre)
		}
		return strings.Compare(x.gkey, y.gkey)
	})
	for i := range ks {
		out[i] = ks[i].bk
		ks[i] = closing{} // let closed buckets go
	}
	w.sorting = ks[:0]
}

// goneKey is the changelog key of a bucket to delete: stateKey(start, gkey).
type goneKey struct {
	start int64
	gkey  string
	pane  bool
}

func (g goneKey) kind() byte {
	if g.pane {
		return 'p'
	}
	return 'b'
}

func (b *bucket) kind() byte {
	if b.pane {
		return 'p'
	}
	return 'b'
}

// TrackChanges makes the state remember what changed, for Changes. Off by
// default: a backtest or test needs no changelog.
func (w *Windows) TrackChanges() { w.track = true }

// NewWindows returns empty state for a window rule.
func (r *Rule) NewWindows() *Windows {
	w := &Windows{r: r, maxET: math.MinInt64, byStart: map[int64]map[string]*bucket{},
		sessions: newSessions()}
	if r.Window != nil && r.Window.Type == Session {
		w.ends = newEndIndex(int64(r.Window.Gap))
	}
	if r.usesPanes() {
		w.panes, w.closedWM = map[int64]map[string]*bucket{}, math.MinInt64
	}
	return w
}

func unixTime(ns int64) time.Time { return time.Unix(0, ns).UTC() }

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q * b
}

// Observe moves the partition's event-time clock: every event of the
// partition counts, matched by the rule or not.
func (w *Windows) Observe(t time.Time) {
	if ts := t.UnixNano(); !w.hasET || ts > w.maxET {
		w.maxET, w.hasET, w.wmDirty = ts, true, true
	}
}

// Watermark is the maximum event time seen minus the allowed lateness;
// windows ending at or before it are closed. Zero before any event.
func (w *Windows) Watermark() time.Time {
	if !w.hasET {
		return time.Time{}
	}
	return unixTime(w.wm())
}

func (w *Windows) wm() int64 {
	if !w.hasET {
		return math.MinInt64
	}
	return w.maxET - int64(w.r.Window.AllowedLateness)
}

// Size is the number of open (window, group) states.
func (w *Windows) Size() int { return w.n }

// Add puts a matched event into its windows. It returns a non-empty reason
// when the event is late: every window it belongs to has already closed.
func (w *Windows) Add(ev *Eval, rec any, t time.Time) (late string, err error) {
	if err := w.evalGroup(ev, rec); err != nil {
		return "", err
	}
	return w.place(ev, t.UnixNano(), w.wm())
}

// evalGroup computes an event's group values and key and its aggregate
// arguments into ev (a repartitioned rule forwards what it computes).
func (w *Windows) evalGroup(ev *Eval, rec any) error {
	r := w.r
	ev.key, ev.vals, ev.args = ev.key[:0], ev.vals[:0], ev.args[:0]
	for i := range r.groups {
		v, err := r.groups[i].eval(ev, rec)
		if err != nil {
			return fmt.Errorf("rule %s: group_by %w", r.Name, err)
		}
		ev.vals = append(ev.vals, v)
		ev.key = v.appendKey(ev.key)
	}
	for i := range r.aggs {
		var v value
		if a := r.aggs[i].arg; a != nil {
			var err error
			if v, err = a.eval(ev, rec); err != nil {
				return fmt.Errorf("rule %s: aggregate %w", r.Name, err)
			}
		}
		ev.args = append(ev.args, v)
	}
	return nil
}

// place puts an evaluated event (ev's group and arguments, at ts) into its
// windows, judging lateness against the watermark wm.
func (w *Windows) place(ev *Eval, ts, wm int64) (late string, err error) {
	r := w.r
	win := r.Window
	switch win.Type {
	case Tumbling:
		start := floorDiv(ts, int64(win.Size))
		end := start + int64(win.Size)
		if end <= wm {
			return w.lateReason(start, end, wm), nil
		}
		w.update(w.bucketAt(ev, start, end), ev)
	case Hopping:
		if w.panes != nil {
			return w.addHopping(ev, ts, wm), nil
		}
		size, every := int64(win.Size), int64(win.Every)
		// The latest window of the event ends last: when it has closed,
		// they all have, and the reason names it (as addHopping does).
		last := floorDiv(ts, every)
		if last+size <= wm {
			return w.lateReason(last, last+size, wm), nil
		}
		for s := last; s > ts-size && s+size > wm; s -= every {
			w.update(w.bucketAt(ev, s, s+size), ev)
		}
	case Session:
		return w.addSession(ev, ts, wm), nil
	}
	return "", nil
}

func (w *Windows) lateReason(start, end, wm int64) string {
	return fmt.Sprintf("late: window [%s, %s) already closed at watermark %s (allowed lateness %s)",
		unixTime(start).Format(time.RFC3339Nano), unixTime(end).Format(time.RFC3339Nano),
		unixTime(wm).Format(time.RFC3339Nano), w.r.Window.AllowedLateness)
}

func (w *Windows) bucketAt(ev *Eval, start, end int64) *bucket {
	m := w.byStart[start]
	if m == nil {
		m = groupMap(w.hint)
		w.byStart[start] = m
	}
	b := m[string(ev.key)]
	if b == nil {
		b = w.newBucket(ev, start, end)
		m[b.gkey] = b
	}
	return b
}

// groupMap makes a window's map of groups at the size of the last closed
// window: the next one usually holds about as many, and growing a map of
// thousands of groups rehashes it about a dozen times.
func groupMap(hint int) map[string]*bucket { return make(map[string]*bucket, hint) }

func (w *Windows) newBucket(ev *Eval, start, end int64) *bucket {
	w.n++
	return newBucket(start, end, ev.key, ev.vals, len(w.r.aggs))
}

// smallBucket is a bucket of the common shape (at most one group value
// and two aggregates) with its slices' arrays and its group key's bytes:
// one allocation instead of four, for the state that is made for about
// every event of a per-user window. And a map lookup, which compares the
// key's bytes, then brings the bucket into the CPU's cache with them.
type smallBucket struct {
	b     bucket
	key   [smallKey]byte
	group [1]value
	aggs  [2]aggState
}

// smallKey is the longest group key a smallBucket holds (a user's is about
// 6 bytes); a longer one is a string of its own.
const smallKey = 16

// newBucket returns a bucket of group key key, with a copy of group (its
// strings copied too: see value.keep) and naggs empty aggregate states.
func newBucket(start, end int64, key []byte, group []value, naggs int) *bucket {
	var b *bucket
	if len(group) <= 1 && naggs <= 2 {
		sb := &smallBucket{}
		b = &sb.b
		b.group, b.aggs = sb.group[:len(group)], sb.aggs[:naggs]
		if n := len(key); n > 0 && n <= smallKey {
			// The bytes are never written again: an immutable string.
			b.gkey = unsafe.String(&sb.key[0], copy(sb.key[:], key))
		} else {
			b.gkey = string(key)
		}
	} else {
		b = &bucket{gkey: string(key), group: make([]value, len(group)), aggs: make([]aggState, naggs)}
	}
	b.start, b.end = start, end
	for i, v := range group {
		b.group[i] = v.keep(b.gkey)
	}
	return b
}

func (w *Windows) update(b *bucket, ev *Eval) {
	for i := range w.r.aggs {
		w.r.aggs[i].update(&b.aggs[i], ev.args[i], w.r.Window.DistinctExact)
	}
	w.touch(b)
}

func (w *Windows) touch(b *bucket) {
	b.early = true
	if !w.track {
		return
	}
	if !b.dirty {
		b.dirty = true
		w.dirty = append(w.dirty, b)
	}
}

func (w *Windows) addSession(ev *Eval, ts, wm int64) string {
	gap := int64(w.r.Window.Gap)
	list := w.sessions.get(string(ev.key))
	var target *bucket
	var origStart int64
	keep := list[:0]
	for _, s := range list {
		// A session the watermark has passed is closed, emitted or not yet:
		// joining it would make results depend on when windows are emitted.
		if s.end > wm && ts < s.end && ts+gap > s.start { // the event falls within the gap of this session
			if target == nil {
				target, origStart = s, s.start
				keep = append(keep, s)
				continue
			}
			// The event bridges two sessions: fold s into target.
			for i := range w.r.aggs {
				w.r.aggs[i].merge(&target.aggs[i], &s.aggs[i], w.r.Window.DistinctExact)
			}
			target.start, target.end = min(target.start, s.start), max(target.end, s.end)
			w.drop(s)
			continue
		}
		keep = append(keep, s)
	}
	if target == nil {
		if ts+gap <= wm {
			return w.lateReason(ts, ts+gap, wm)
		}
		target = w.newBucket(ev, ts, ts+gap)
		origStart = ts
		keep = append(keep, target)
	}
	target.start = min(target.start, ts)
	if target.start != origStart && w.track && target.flushed {
		w.gone = append(w.gone, goneKey{origStart, target.gkey, false}) // its changelog key moves with its start
		target.flushed = false
	}
	target.end = max(target.end, ts+gap)
	if len(keep) != 1 || len(list) != 1 { // the common case, one session extended, needs neither
		slices.SortFunc(keep, func(a, b *bucket) int { return int(sign(a.start - b.start)) })
		w.sessions.set(target.gkey, keep)
	}
	w.ends.file(target)
	w.update(target, ev)
	return ""
}

func sign(x int64) int64 {
	switch {
	case x < 0:
		return -1
	case x > 0:
		return 1
	}
	return 0
}

func (w *Windows) drop(b *bucket) {
	b.removed = true
	w.n--
	if w.track && b.flushed { // never written: nothing to delete
		w.gone = append(w.gone, goneKey{b.start, b.gkey, b.pane})
	}
}

// Advance emits every window that the watermark has passed and forgets it.
func (w *Windows) Advance(ev *Eval, s Sink) {
	w.close(ev, s, w.wm())
}

// Flush emits every open window (the input has ended).
func (w *Windows) Flush(ev *Eval, s Sink) { w.close(ev, s, math.MaxInt64) }

func (w *Windows) close(ev *Eval, s Sink, wm int64) {
	ps, partial := s.(PartialSink)
	if w.panes != nil {
		w.closePanes(ev, s, wm, ps, w.partial && partial)
		return
	}
	var out []*bucket
	if w.r.Window.Type == Session {
		out = w.ends.expire(wm, nil)
		for _, b := range out {
			list := w.sessions.get(b.gkey)
			if i := slices.Index(list, b); i >= 0 {
				list = slices.Delete(list, i, i+1)
			}
			w.sessions.set(b.gkey, list)
		}
	} else {
		for start, m := range w.byStart {
			if start+int64(w.r.Window.Size) > wm {
				continue
			}
			for _, b := range m {
				out = append(out, b)
			}
			w.hint = len(m)
			delete(w.byStart, start)
		}
	}
	w.sortClosed(out, endsFirst)
	for _, b := range out {
		w.drop(b)
		if w.partial && partial {
			w.kbuf = appendStateKey(w.kbuf[:0], b.start, b.gkey)
			w.vbuf = w.appendBucket(w.vbuf[:0], b)
			ps.Partial(w.r, w.kbuf, w.vbuf)
			continue
		}
		w.emit(ev, s, b, true)
	}
}

// Early emits the current results of windows that changed since the last
// early emission, when the rule asks for early updates (emit_every) and
// that much processing time has passed.
func (w *Windows) Early(ev *Eval, s Sink, now time.Time) {
	every := w.r.Window.EmitEvery
	if every <= 0 || now.Sub(w.early) < every {
		return
	}
	w.early = now
	var out []*bucket
	for _, m := range w.byStart {
		for _, b := range m {
			if b.early {
				out = append(out, b)
			}
		}
	}
	w.sessions.each(func(b *bucket) {
		if b.early {
			out = append(out, b)
		}
	})
	slices.SortFunc(out, func(a, b *bucket) int {
		if a.start != b.start {
			return int(sign(a.start - b.start))
		}
		return strings.Compare(a.gkey, b.gkey)
	})
	for _, b := range out {
		w.emit(ev, s, b, false)
	}
}

func (w *Windows) emit(ev *Eval, s Sink, b *bucket, final bool) {
	b.early = false
	r := w.r
	if r.having != nil {
		hv := reflect.New(r.htype).Elem()
		i := 0
		set := func(v value) {
			setHaving(hv.Field(i), v)
			i++
		}
		for _, g := range b.group {
			set(g)
		}
		for j := range r.aggs {
			set(r.aggs[j].result(&b.aggs[j]))
		}
		set(value{kind: kTimestamp, i: b.start})
		set(value{kind: kTimestamp, i: b.end})
		if r.Window.EmitEvery > 0 {
			set(value{kind: kBool, b: final})
		}
		ok, err := ev.vm.Run(r.having, hv.Interface())
		if err != nil {
			s.Error(r, fmt.Errorf("rule %s: having: %w", r.Name, err))
			return
		}
		if ok != true {
			return
		}
	}
	if w.names == nil {
		for j := range r.groups {
			w.names = append(w.names, string(appendJSONString(nil, r.groups[j].name))+":")
		}
		for j := range r.aggs {
			w.names = append(w.names, string(appendJSONString(nil, r.aggs[j].name))+":")
		}
	}
	row := append(w.row[:0], '{')
	for j, g := range b.group {
		row = append(row, w.names[j]...)
		row = g.appendJSON(row)
		row = append(row, ',')
	}
	for j := range r.aggs {
		row = append(row, w.names[len(r.groups)+j]...)
		row = r.aggs[j].result(&b.aggs[j]).appendJSON(row)
		row = append(row, ',')
	}
	row = append(row, `"window_start":`...)
	row = w.startText.appendJSON(row, b.start)
	row = append(row, `,"window_end":`...)
	row = w.endText.appendJSON(row, b.end)
	if r.Window.EmitEvery > 0 {
		row = append(row, `,"final":`...)
		row = value{kind: kBool, b: final}.appendJSON(row)
	}
	row = append(row, '}')
	keyAt := len(row)
	for j, g := range b.group {
		if j > 0 {
			row = append(row, '|')
		}
		row = g.appendText(row)
	}
	w.row = row
	var key []byte
	if len(b.group) > 0 {
		key = row[keyAt:]
	}
	s.Output(r, key, row[:keyAt])
}

// setHaving sets a field of having's struct to v. A null leaves a pointer
// field (a column that may be null) nil.
func setHaving(f reflect.Value, v value) {
	if v.null {
		return
	}
	if f.Kind() == reflect.Pointer {
		p := reflect.New(f.Type().Elem())
		f.Set(p)
		f = p.Elem()
	}
	switch v.kind {
	case kString:
		f.SetString(v.s)
	case kInt:
		f.SetInt(v.i)
	case kFloat:
		f.SetFloat(v.float())
	case kBool:
		f.SetBool(v.b)
	default:
		f.Set(reflect.ValueOf(v.time()))
	}
}

// State changelog: each open bucket is one entry keyed by its window and
// group; a closed bucket is a tombstone; "m" holds the partition's maximum
// event time.

func stateKey(start int64, gkey string) string {
	return string(appendStateKey(make([]byte, 0, 9+len(gkey)), start, gkey))
}

func appendStateKey(k []byte, start int64, gkey string) []byte {
	return appendKindKey(k, 'b', start, gkey)
}

// appendKindKey is a state key of a window ('b') or a pane ('p').
func appendKindKey(k []byte, kind byte, start int64, gkey string) []byte {
	k = append(k, kind)
	k = binary.BigEndian.AppendUint64(k, uint64(start))
	return append(k, gkey...)
}

// Changes reports the state changed since the last call: put for every
// open bucket that changed (and the watermark), del for every bucket gone.
// key and val are only valid during the call (they are reused scratch, as
// a transaction writes thousands of entries).
func (w *Windows) Changes(put func(key, val []byte), del func(key []byte)) {
	for _, g := range w.gone {
		w.kbuf = appendKindKey(w.kbuf[:0], g.kind(), g.start, g.gkey)
		del(w.kbuf)
	}
	w.gone = w.gone[:0]
	for _, b := range w.dirty {
		b.dirty = false
		if b.removed {
			continue
		}
		w.kbuf = appendKindKey(w.kbuf[:0], b.kind(), b.start, b.gkey)
		w.vbuf = w.appendBucket(w.vbuf[:0], b)
		put(w.kbuf, w.vbuf)
		b.flushed = true
	}
	w.dirty = w.dirty[:0]
	if w.wmDirty {
		w.wmDirty = false
		w.kbuf = append(w.kbuf[:0], 'm')
		w.vbuf = binary.BigEndian.AppendUint64(w.vbuf[:0], uint64(w.maxET))
		put(w.kbuf, w.vbuf)
	}
}

// Forget reports the changelog key of everything the state has written
// and not yet deleted (windows, panes, sessions, the watermark), for a rule
// that stops running: tombstoned, its entries cannot come back in a later
// restore when a rule of the same name and definition runs again. key is
// only valid during the call.
func (w *Windows) Forget(del func(key []byte)) {
	for _, g := range w.gone {
		w.kbuf = appendKindKey(w.kbuf[:0], g.kind(), g.start, g.gkey)
		del(w.kbuf)
	}
	each := func(b *bucket) {
		if b.flushed && !b.removed {
			w.kbuf = appendKindKey(w.kbuf[:0], b.kind(), b.start, b.gkey)
			del(w.kbuf)
		}
	}
	for _, byStart := range []map[int64]map[string]*bucket{w.byStart, w.panes} {
		for _, m := range byStart {
			for _, b := range m {
				each(b)
			}
		}
	}
	w.sessions.each(each)
	if w.hasET {
		del([]byte{'m'})
	}
}

// Restore loads one live changelog entry (the last value of its key).
func (w *Windows) Restore(key string, val []byte) error {
	if key == "m" {
		if len(val) != 8 {
			return fmt.Errorf("rule %s: bad watermark entry", w.r.Name)
		}
		w.maxET, w.hasET = int64(binary.BigEndian.Uint64(val)), true
		if w.panes != nil {
			w.closedWM = w.wm() // the changelog is written after closing
		}
		return nil
	}
	b, err := w.decodeBucket(val)
	if err != nil {
		return fmt.Errorf("rule %s: decoding state: %w", w.r.Name, err)
	}
	b.flushed = true
	w.n++
	if strings.HasPrefix(key, "p") && w.panes != nil {
		b.pane = true
		m := w.panes[b.start]
		if m == nil {
			m = map[string]*bucket{}
			w.panes[b.start] = m
		}
		m[b.gkey] = b
		return nil
	}
	if w.r.Window.Type == Session {
		list := append(slices.Clone(w.sessions.get(b.gkey)), b)
		slices.SortFunc(list, func(x, y *bucket) int { return int(sign(x.start - y.start)) })
		w.sessions.set(b.gkey, list)
		w.ends.file(b)
		return nil
	}
	m := w.byStart[b.start]
	if m == nil {
		m = map[string]*bucket{}
		w.byStart[b.start] = m
	}
	m[b.gkey] = b
	return nil
}

// Rebind points the state at a reloaded rule with the same definition
// (same Hash), so a reload that only changed tests or the description keeps
// the open windows.
func (w *Windows) Rebind(r *Rule) {
	if r.Hash == w.r.Hash {
		w.r, w.names = r, nil
	}
}
