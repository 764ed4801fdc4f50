package rule

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

type partialCollect struct {
	collect
	part     int
	partials []partialRec
}

type partialRec struct {
	part  int
	state []byte
}

func (c *partialCollect) Partial(_ *Rule, _, state []byte) {
	c.partials = append(c.partials, partialRec{c.part, slices.Clone(state)})
}

// partialsOf runs each partition's events through its own task, sending
// partials, to the end of the input; it returns the partials and how many
// rows the tasks emitted themselves.
func partialsOf(t testing.TB, r *Rule, parts [][]in) (partials []partialRec, rows int) {
	t.Helper()
	for p, evs := range parts {
		task, c := NewTask([]*Rule{r}), &partialCollect{part: p}
		task.SendPartials()
		process(t, task, r, evs, c)
		task.Flush(c)
		rows += len(c.rows)
		partials = append(partials, c.partials...)
	}
	return partials, rows
}

// combineShuffled gives a new combiner the partials in a random order,
// marks every partition past them all and returns the rows it emits.
func combineShuffled(t testing.TB, r *Rule, partials []partialRec, nparts int, rng *rand.Rand) []string {
	t.Helper()
	rng.Shuffle(len(partials), func(i, j int) { partials[i], partials[j] = partials[j], partials[i] })
	comb, out := r.NewCombiner(nparts), &collect{}
	for _, p := range partials {
		if err := comb.AddPartial(p.part, p.state); err != nil {
			t.Fatal(err)
		}
	}
	for p := 0; p < nparts; p++ {
		comb.Mark(p, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	}
	comb.Advance(out)
	return out.rows
}

// TestCombinerMergesPartitions: windows computed per partition and merged
// by a combiner give the rows of one pass over all events, in whatever
// order the partials arrive.
func TestCombinerMergesPartitions(t *testing.T) {
	r := mustRule(t, "window: {type: hopping, size: 2m, every: 1m}\ngroup_by: [event_name]\naggregate: {n: count(), s: sum(additional_data.price), d: count_distinct(user_id), lo: min(additional_data.price)}\nhaving: n > 1\n")
	rng := rand.New(rand.NewPCG(1, 2))
	names := []string{"Search", "Purchase"}
	var all []in
	parts := make([][]in, 3)
	for p := range parts {
		for i := 0; i < 60; i++ {
			e := in{at: time.Duration(i*7 + p).String(), user: string(rune('a' + rng.IntN(5))), name: names[rng.IntN(2)], price: float64(rng.IntN(1000)) / 4} // exact in binary: sums do not depend on order
			d := time.Duration(i*7+p) * time.Second
			e.at = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(d).Format("15:04:05")
			parts[p] = append(parts[p], e)
			all = append(all, e)
		}
	}
	slices.SortStableFunc(all, func(a, b in) int { return strings.Compare(a.at, b.at) })
	want := feed(t, r, all, true).rows

	partials, rows := partialsOf(t, r, parts)
	if rows != 0 {
		t.Fatal("a combining rule emitted rows itself")
	}
	for round := 0; round < 3; round++ {
		rng.Shuffle(len(partials), func(i, j int) { partials[i], partials[j] = partials[j], partials[i] })
		comb, out := r.NewCombiner(len(parts)), &collect{}
		for i, p := range partials {
			if err := comb.AddPartial(p.part, p.state); err != nil {
				t.Fatal(err)
			}
			if i == len(partials)/2 {
				comb.Advance(out) // no watermarks yet: nothing may come out
			}
		}
		if len(out.rows) != 0 {
			t.Fatal("emitted before every partition's watermark passed")
		}
		for p := range parts {
			comb.Mark(p, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
		}
		comb.Advance(out)
		if !slices.Equal(out.rows, want) {
			t.Fatalf("round %d:\ncombined %s\nwant     %s", round, strings.Join(out.rows, "\n         "), strings.Join(want, "\n         "))
		}
	}
}

func TestGroupingByTheRecordKeySkipsTheCombiner(t *testing.T) {
	if r := mustRule(t, "window: {type: tumbling, size: 1m}\ngroup_by: [user_id]\naggregate: {n: count()}\n"); r.Combines() {
		t.Error("grouped by user_id (the key) but combines")
	}
	if r := mustRule(t, "window: {type: tumbling, size: 1m}\ngroup_by: [event_name]\naggregate: {n: count()}\n"); !r.Combines() {
		t.Error("grouped by event_name but does not combine")
	}
	if r := mustRule(t, "window: {type: session, gap: 1m}\ngroup_by: [event_name]\naggregate: {n: count()}\n"); r.Combines() {
		t.Error("a session rule combines")
	}
}

// TestCombinerChangelog runs a combiner over two transactions, as the
// processor does (Changes after each, into a compacted log): partition 0's
// partials in the first, partition 1's and the watermarks that close every
// window in the second. A combiner restored from the log after the first
// gives the same rows; one restored after the second holds nothing and
// emits nothing, so no window comes out twice after a rebalance.
func TestCombinerChangelog(t *testing.T) {
	for name, spec := range map[string]string{
		"tumbling": "window: {type: tumbling, size: 1m}\ngroup_by: [event_name]\naggregate: {n: count(), s: sum(additional_data.price)}\n",
		"panes":    "window: {type: hopping, size: 2m, every: 1m}\ngroup_by: [event_name]\naggregate: {n: count(), s: sum(additional_data.price)}\n",
	} {
		t.Run(name, func(t *testing.T) {
			r := mustRule(t, spec)
			parts := [][]in{
				{{at: "00:10", user: "u", name: "Search", price: 1}, {at: "01:10", user: "u", name: "Search", price: 2}},
				{{at: "00:20", user: "u", name: "Search", price: 4}, {at: "00:30", user: "u", name: "Purchase", price: 8}},
			}
			partials, _ := partialsOf(t, r, parts)
			log := map[string][]byte{}
			commit := func(c *Combiner) {
				c.Changes(func(k string, v []byte) { log[k] = slices.Clone(v) }, func(k string) { delete(log, k) })
			}
			restored := func() *Combiner {
				c := r.NewCombiner(len(parts))
				c.TrackChanges()
				for k, v := range log {
					if err := c.Restore(k, v); err != nil {
						t.Fatal(err)
					}
				}
				return c
			}
			add := func(c *Combiner, part int) {
				for _, p := range partials {
					if p.part == part {
						if err := c.AddPartial(p.part, p.state); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			finish := func(c *Combiner) []string {
				add(c, 1)
				for p := range parts {
					c.Mark(p, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
				}
				out := &collect{}
				c.Advance(out)
				return out.rows
			}

			c := r.NewCombiner(len(parts))
			c.TrackChanges()
			add(c, 0)
			commit(c)
			first := maps.Clone(log)
			if got, want := finish(restored()), finish(c); !slices.Equal(got, want) || len(want) == 0 {
				t.Fatalf("restored after the first transaction:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			commit(c)
			for k := range log {
				if !strings.HasPrefix(k, "m") {
					t.Errorf("live changelog entry %q for an emitted window", k)
				}
			}
			c = restored()
			out := &collect{}
			c.Advance(out)
			if len(out.rows) != 0 || c.Size() != 0 {
				t.Errorf("restored after every window was emitted: %d rows, %d states\n%s", len(out.rows), c.Size(), strings.Join(out.rows, "\n"))
			}

			// States that outlived their emission (as a lost tombstone
			// would leave them) are dropped, not emitted again: the
			// restored watermarks have passed them.
			for k, v := range first {
				log[k] = v
			}
			c = restored()
			out = &collect{}
			c.Advance(out)
			commit(c)
			if len(out.rows) != 0 || c.Size() != 0 {
				t.Errorf("restored with stale states: %d rows, %d states\n%s", len(out.rows), c.Size(), strings.Join(out.rows, "\n"))
			}
			for k := range log {
				if !strings.HasPrefix(k, "m") {
					t.Errorf("stale entry %q left live", k)
				}
			}
		})
	}
}

// TestCombinedCountDistinctIgnoresOrder: count_distinct partials, exact
// sets and HyperLogLog sketches (sparse and dense) alike, give the same
// estimate merged in any order, as the combiner merges them as they arrive.
func TestCombinedCountDistinctIgnoresOrder(t *testing.T) {
	r := mustRule(t, "window: {type: tumbling, size: 1m, distinct_exact: 50}\ngroup_by: [event_name]\naggregate: {d: count_distinct(user_id)}\n")
	rng := rand.New(rand.NewPCG(5, 8))
	parts := make([][]in, 6)
	for p := range parts {
		// From a few users (exact) to thousands (a dense sketch).
		users := []int{20, 80, 400, 1500, 3000, 9000}[p]
		for i := 0; i < users; i++ {
			at := fmt.Sprintf("00:%02d", i*60/users)
			parts[p] = append(parts[p], in{at: at, user: fmt.Sprintf("u%d", rng.IntN(12000)), name: []string{"Search", "Purchase"}[i%2]})
		}
	}
	partials, _ := partialsOf(t, r, parts)
	var want []string
	for round := 0; round < 20; round++ {
		rows := combineShuffled(t, r, partials, len(parts), rng)
		if round == 0 {
			want = rows
			continue
		}
		if !slices.Equal(rows, want) {
			t.Fatalf("round %d:\n%s\nwant\n%s", round, strings.Join(rows, "\n"), strings.Join(want, "\n"))
		}
	}
}

// TestMinMaxOfSignedZerosIgnoreOrder: 0 and -0 are equal but print
// differently, so min and max must not keep whichever came first: the
// combiner merges partials in the order they arrive.
func TestMinMaxOfSignedZerosIgnoreOrder(t *testing.T) {
	r := mustRule(t, "window: {type: tumbling, size: 1m}\naggregate: {lo: min(additional_data.price), hi: max(additional_data.price)}\n")
	zeros := []in{{at: "00:10", user: "u", name: "Search", price: 0}, {at: "00:20", user: "u", name: "Search", price: math.Copysign(0, -1)}}
	a := feed(t, r, zeros, true).rows
	b := feed(t, r, []in{zeros[1], zeros[0]}, true).rows
	if !slices.Equal(a, b) || len(a) != 1 || !strings.Contains(a[0], `"lo":-0,"hi":0`) {
		t.Fatalf("min and max of 0 and -0 depend on their order:\n%s\n%s", strings.Join(a, "\n"), strings.Join(b, "\n"))
	}
}

// TestMinMaxOfNaNIgnoreOrder: NaN (from an expression) is the greatest
// float, whatever the order values come in, as in PostgreSQL.
func TestMinMaxOfNaNIgnoreOrder(t *testing.T) {
	r := mustRule(t, "window: {type: tumbling, size: 1m}\naggregate: {lo: 'min(additional_data.price > 5 ? additional_data.price : 0.0 / 0.0)', hi: 'max(additional_data.price > 5 ? additional_data.price : 0.0 / 0.0)'}\n")
	evs := []in{{at: "00:10", user: "u", name: "Search", price: 1}, {at: "00:20", user: "u", name: "Search", price: 10}, {at: "00:30", user: "u", name: "Search", price: 7}}
	var want []string
	for _, order := range [][]int{{0, 1, 2}, {1, 0, 2}, {2, 1, 0}, {1, 2, 0}, {0, 2, 1}, {2, 0, 1}} {
		got := feed(t, r, []in{evs[order[0]], evs[order[1]], evs[order[2]]}, true).rows
		if want == nil {
			want = got
			if len(want) != 1 || !strings.Contains(want[0], `"lo":7,"hi":null`) {
				t.Fatalf("min and max with NaN: %s, want lo 7 and hi NaN (null)", strings.Join(want, "\n"))
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("order %v:\n%s\nwant\n%s", order, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}
