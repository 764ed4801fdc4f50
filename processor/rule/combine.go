package rule

import (
	"encoding/binary"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Window results over all partitions. A tumbling or hopping window rule
// computes each input partition's windows where the partition is read, then
// sends each closed window's state (a partial) to a Combiner, which merges
// the partials of all partitions and emits one row per window and group
// once every partition's watermark has passed the window's end. Every
// partition reports its watermark with markers written after its partials,
// so a combiner has all of a partition's partials for a window before that
// partition's marker passes the window: results do not depend on timing.
// Session rules and rules with early results cannot be merged from closed
// windows: they are repartitioned instead (repartition.go).

// PartialSink receives the closed windows of a rule that Combines. key and
// state are only valid during the call.
type PartialSink interface {
	Partial(r *Rule, key, state []byte)
}

// Combines says whether the rule's windows are merged across partitions:
// every window rule that does not repartition (Repartitions: sessions,
// early emission, repartition: true), unless a group column is the
// schema's record key (then every group lives in one partition and its
// per-partition result is already complete).
func (r *Rule) Combines() bool {
	return r.Window != nil && !r.groupedByKey() && !r.Repartitions()
}

func (r *Rule) groupedByKey() bool {
	if r.Schema.Key == "" {
		return false
	}
	for i := range r.groups {
		if r.groups[i].src != nil && r.groups[i].src == r.Schema.Column(r.Schema.Key) {
			return true
		}
	}
	return false
}

// SendPartials makes the task send closed windows of combining rules to
// its sink's Partial instead of emitting them.
func (t *Task) SendPartials() {
	for i, w := range t.Windows {
		if w != nil && t.Rules[i].Combines() {
			w.partial = true
		}
	}
}

// WatermarkNanos is the state's watermark in Unix nanoseconds
// (math.MinInt64 before any event).
func (w *Windows) WatermarkNanos() int64 { return w.wm() }

// combineVersion is the layout of a combiner's changelog entries, part of
// a combining rule's Hash (fingerprint): version 2 keeps one merged state
// per window (or pane) and group; version 1 kept each partition's partial
// under its own key, entries that version 2 would misread as whole states.
const combineVersion = 2

// Combiner merges one rule's partials from n input partitions. It keeps
// one state per window (or pane) and group and merges each partial into it
// as it arrives: float sums are exact, so the order partials arrive in does
// not change the result.
type Combiner struct {
	r       *Rule
	w       *Windows                     // emission (having, row encoding)
	wins    map[int64]map[string]*bucket // by window start, then group key
	panes   map[int64]map[string]*bucket // pane rules (panes.go): by pane start
	closed  int64                        // windows ending at or before this are out (restored; pane rules: also as they close)
	n       int
	wms     []int64 // per input partition
	ev      Eval
	track   bool
	puts    map[*bucket]bool
	dels    map[string]bool
	wmDirty bool
	scratch bucket // each partial, decoded (AddPartial)
	gk      []byte // and its group key
	hint    int    // groups of the last window emitted (groupMap)
	merger  merger // merges closing windows from panes
}

// NewCombiner returns an empty combiner for n input partitions.
func (r *Rule) NewCombiner(n int) *Combiner {
	c := &Combiner{r: r, w: r.NewWindows(), wins: map[int64]map[string]*bucket{},
		panes: map[int64]map[string]*bucket{}, closed: math.MinInt64, wms: make([]int64, n)}
	for i := range c.wms {
		c.wms[i] = math.MinInt64
	}
	return c
}

// Rule is the combiner's rule.
func (c *Combiner) Rule() *Rule { return c.r }

// TrackChanges turns on change tracking for Changes.
func (c *Combiner) TrackChanges() {
	c.track, c.puts, c.dels = true, map[*bucket]bool{}, map[string]bool{}
}

// Size is the number of window (or pane) and group states held.
func (c *Combiner) Size() int { return c.n }

func combKey(b *bucket) string {
	return string(appendKindKey(nil, b.kind(), b.start, b.gkey))
}

// AddPartial merges input partition part's state of one closed window (or
// pane) into that window's state. Each partition sends a window once and
// the transactions deliver it once: a partial given twice would count twice.
func (c *Combiner) AddPartial(part int, state []byte) error {
	b := &c.scratch
	var err error
	if c.gk, err = c.w.decodeInto(b, state, c.gk[:0]); err != nil {
		return fmt.Errorf("rule %s: partial: %w", c.r.Name, err)
	}
	b.pane = c.isPane(b)
	groups := c.groupsOf(b)
	acc := groups[string(c.gk)]
	if acc == nil {
		acc = newBucket(b.start, b.end, c.gk, b.group, len(c.r.aggs))
		acc.pane = b.pane
		groups[acc.gkey] = acc
		c.n++
	}
	for i := range c.r.aggs {
		c.r.aggs[i].merge(&acc.aggs[i], &b.aggs[i], c.r.Window.DistinctExact)
	}
	if c.track {
		c.puts[acc] = true // a tombstone of the same key this transaction is written first (Changes)
	}
	return nil
}

// isPane tells a pane of a pane rule from a window: panes are every wide.
func (c *Combiner) isPane(b *bucket) bool {
	return c.r.usesPanes() && b.end-b.start == int64(c.r.Window.Every)
}

// groupsOf returns the states of b's window (or pane), by group key.
func (c *Combiner) groupsOf(b *bucket) map[string]*bucket {
	byStart := c.wins
	if b.pane {
		byStart = c.panes
	}
	groups := byStart[b.start]
	if groups == nil {
		groups = groupMap(c.hint)
		byStart[b.start] = groups
	}
	return groups
}

// Mark records that input partition part's watermark reached wm.
func (c *Combiner) Mark(part int, wm int64) {
	if part >= 0 && part < len(c.wms) && wm > c.wms[part] {
		c.wms[part] = wm
		c.wmDirty = true
	}
}

// Advance emits the windows every partition's watermark has passed.
func (c *Combiner) Advance(s Sink) {
	low := int64(math.MaxInt64)
	for _, wm := range c.wms {
		low = min(low, wm)
	}
	if low == math.MinInt64 {
		return
	}
	if c.r.usesPanes() {
		c.advancePanes(s, low)
		return
	}
	size := int64(c.r.Window.Size)
	var starts []int64
	for start := range c.wins {
		if start+size <= low {
			starts = append(starts, start)
		}
	}
	slices.Sort(starts)
	for _, start := range starts {
		groups := c.wins[start]
		for _, g := range slices.Sorted(maps.Keys(groups)) {
			b := groups[g]
			// A window the restored watermarks had passed was emitted
			// before the restart: its state outlived the emission in the
			// changelog, and emitting it again would duplicate a row.
			if start+size > c.closed {
				c.w.emit(&c.ev, s, b, true)
			}
			c.n--
			c.forget(b)
		}
		c.hint = len(groups)
		delete(c.wins, start)
	}
}

// Changes reports the states merged into or emitted since the last call
// and the partition watermarks ("m<partition>").
func (c *Combiner) Changes(put func(key string, val []byte), del func(key string)) {
	for k := range c.dels {
		del(k)
	}
	for b := range c.puts {
		put(combKey(b), c.w.encodeBucket(b))
		b.flushed = true
	}
	clear(c.dels)
	clear(c.puts)
	if c.wmDirty {
		c.wmDirty = false
		for p, wm := range c.wms {
			if wm != math.MinInt64 {
				put("m"+strconv.Itoa(p), binary.BigEndian.AppendUint64(nil, uint64(wm)))
			}
		}
	}
}

// Forget reports the changelog key of everything the combiner has
// written and not yet deleted (as Windows.Forget).
func (c *Combiner) Forget(del func(key string)) {
	for k := range c.dels {
		del(k)
	}
	for _, byStart := range []map[int64]map[string]*bucket{c.panes, c.wins} {
		for _, m := range byStart {
			for _, b := range m {
				if b.flushed {
					del(combKey(b))
				}
			}
		}
	}
	for p, wm := range c.wms {
		if wm != math.MinInt64 {
			del("m" + strconv.Itoa(p))
		}
	}
}

// Restore loads one live changelog entry.
func (c *Combiner) Restore(key string, val []byte) error {
	if rest, ok := strings.CutPrefix(key, "m"); ok {
		p, err := strconv.Atoi(rest)
		if err != nil || len(val) != 8 {
			return fmt.Errorf("rule %s: bad combiner watermark entry", c.r.Name)
		}
		c.Mark(p, int64(binary.BigEndian.Uint64(val)))
		// Windows up to the restored watermarks were emitted before the
		// changelog was written.
		c.closed = math.MaxInt64
		for _, wm := range c.wms {
			c.closed = min(c.closed, wm)
		}
		return nil
	}
	b, err := c.w.decodeBucket(val)
	if err != nil {
		return fmt.Errorf("rule %s: decoding combiner state: %w", c.r.Name, err)
	}
	b.pane = strings.HasPrefix(key, "p")
	groups := c.groupsOf(b)
	if groups[b.gkey] == nil {
		c.n++
	}
	b.flushed = true
	groups[b.gkey] = b
	return nil
}

// forget drops an emitted state from the changelog. A state written in an
// earlier transaction needs a tombstone even when this one merged into it
// too: left live, it would be restored after a rebalance and emitted again.
func (c *Combiner) forget(b *bucket) {
	if !c.track {
		return
	}
	delete(c.puts, b)
	if b.flushed {
		c.dels[combKey(b)] = true
	}
}

// advancePanes emits a pane rule's windows that end in (closed, low],
// merging their panes and per-window states in a fixed order (by start),
// and drops what no open window needs.
func (c *Combiner) advancePanes(s Sink, low int64) {
	size := int64(c.r.Window.Size)
	starts := closingWindows(c.r, c.closed, low, maps.Keys(c.panes), maps.Keys(c.wins))
	out := c.merger.merge(c.r, starts, func(start int64, pane bool, f func(*bucket)) {
		groups := c.wins[start]
		if pane {
			groups = c.panes[start]
		}
		for _, g := range slices.Sorted(maps.Keys(groups)) {
			f(groups[g])
		}
	})
	for _, b := range out {
		c.w.emit(&c.ev, s, b, true)
	}
	c.merger.recycle(out)
	for _, byStart := range []map[int64]map[string]*bucket{c.panes, c.wins} {
		for start, groups := range byStart {
			if start+size > low { // a pane's last window, or the window itself, is open
				continue
			}
			for _, b := range groups {
				c.n--
				c.forget(b)
			}
			c.hint = len(groups)
			delete(byStart, start)
		}
	}
	c.closed = max(c.closed, low)
}
