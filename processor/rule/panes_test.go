package rule

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestPanesMatchPerWindowReference feeds out-of-order events (some late
// for part of their windows) of several partitions through a hopping rule
// built from panes, both merged by a combiner and, per partition, emitted
// directly, and checks every window's count and sum against a reference
// that puts each event into each of its windows still open when it came
// (the per-event lateness rule), window by window.
func TestPanesMatchPerWindowReference(t *testing.T) {
	r := mustRule(t, "window: {type: hopping, size: 3m, every: 1m, allowed_lateness: 40s}\ngroup_by: [event_name]\naggregate: {n: count(), s: sum(additional_data.price)}\n")
	if !r.usesPanes() {
		t.Fatal("a 3m/1m hopping rule does not use panes")
	}
	size, every, lateness := int64(3*time.Minute), int64(time.Minute), int64(40*time.Second)
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	names := []string{"Search", "Purchase", "ViewContent"}
	for seed := uint64(1); seed <= 4; seed++ {
		rng := rand.New(rand.NewPCG(seed, 3))
		const parts = 3
		want := map[string][2]float64{} // "start group" -> n, s
		combined := map[string][2]float64{}
		direct := map[string][2]float64{}
		comb := r.NewCombiner(parts)
		out := &collect{}
		late := 0
		for p := 0; p < parts; p++ {
			partial, single := NewTask([]*Rule{r}), NewTask([]*Rule{r})
			partial.SendPartials()
			pc, dc := &partialCollect{part: p}, &collect{}
			maxET := int64(-1 << 62)
			at := int64(0)
			for i := 0; i < 400; i++ {
				at += int64(rng.IntN(3000)) * int64(time.Millisecond)
				ts := at - int64(rng.IntN(90))*int64(time.Second) // up to 90s behind: late for some windows
				name, price := names[rng.IntN(len(names))], float64(rng.IntN(400))/4
				maxET = max(maxET, ts)
				wm := maxET - lateness
				accepted := false
				for s := floorDiv(ts, every); s > ts-size; s -= every {
					if s+size > wm {
						k := fmt.Sprintf("%d %s", s, name)
						v := want[k]
						want[k] = [2]float64{v[0] + 1, v[1] + price}
						accepted = true
					}
				}
				if !accepted {
					late++
				}
				raw, rec, err := r.TestEvent(map[string]any{"timestamp": base.Add(time.Duration(ts)).Format("2006-01-02 15:04:05.000"),
					"event_name": name, "additional_data": map[string]any{"price": price}})
				if err != nil {
					t.Fatal(err)
				}
				for _, x := range []struct {
					task *Task
					sink Sink
				}{{partial, pc}, {single, dc}} {
					x.task.Process(rec, r.Codec.EventTime(rec), raw, nil, x.sink)
					if rng.IntN(10) == 0 {
						x.task.Advance(x.sink, time.Time{})
					}
				}
			}
			partial.Flush(pc)
			single.Flush(dc)
			if len(pc.late) != late || len(dc.late) != late {
				t.Fatalf("seed %d partition %d: late %d and %d, want %d", seed, p, len(pc.late), len(dc.late), late)
			}
			late = 0
			for _, x := range pc.partials {
				if err := comb.AddPartial(x.part, x.state); err != nil {
					t.Fatal(err)
				}
			}
			comb.Mark(p, int64(1)<<62)
			addRows(t, direct, dc.rows)
		}
		comb.Advance(out)
		addRows(t, combined, out.rows)
		for name, got := range map[string]map[string][2]float64{"combined": combined, "direct": direct} {
			keys := slices.Sorted(func(yield func(string) bool) {
				for k := range want {
					if !yield(k) {
						return
					}
				}
			})
			if len(got) != len(want) {
				t.Fatalf("seed %d %s: %d windows and groups, want %d", seed, name, len(got), len(want))
			}
			for _, k := range keys {
				if got[k] != want[k] {
					t.Fatalf("seed %d %s: window %s: n, sum = %v, want %v", seed, name, k, got[k], want[k])
				}
			}
		}
		if comb.Size() != 0 {
			t.Fatalf("seed %d: the combiner holds %d partials after emitting everything", seed, comb.Size())
		}
	}
}

func addRows(t *testing.T, into map[string][2]float64, rows []string) {
	t.Helper()
	for _, row := range rows {
		var o struct {
			Name  string    `json:"event_name"`
			N     float64   `json:"n"`
			S     float64   `json:"s"`
			Start time.Time `json:"window_start"`
		}
		if err := json.Unmarshal([]byte(row[strings.IndexByte(row, '{'):]), &o); err != nil {
			t.Fatal(err)
		}
		k := fmt.Sprintf("%d %s", o.Start.Sub(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)).Nanoseconds(), o.Name)
		v := into[k]
		into[k] = [2]float64{v[0] + o.N, v[1] + o.S}
	}
}

// TestMergerStartsEachResultEmpty merges windows through one merger,
// recycling each window's results as closePanes does, and checks every
// result against a merge by a fresh merger: a reused result must carry
// nothing over (a sum, a minimum, a large distinct set or a sketch).
func TestMergerStartsEachResultEmpty(t *testing.T) {
	r := mustRule(t, "window: {type: hopping, size: 2m, every: 1m, distinct_exact: 40}\ngroup_by: [user_id]\n"+
		"aggregate: {n: count(), s: sum(additional_data.price), lo: min(additional_data.price), d: count_distinct(additional_data.product_id)}\n")
	every := int64(time.Minute)
	rng := rand.New(rand.NewPCG(4, 2))
	// panes[p] holds pane p's buckets: a few groups, some with many
	// distinct products (past smallSet, or past distinct_exact).
	panes := map[int64][]*bucket{}
	for p := int64(0); p < 12; p++ {
		for g := 0; g < 1+rng.IntN(6); g++ {
			b := &bucket{start: p * every, end: (p + 1) * every, gkey: fmt.Sprintf("u%d", rng.IntN(8)), pane: true, aggs: make([]aggState, len(r.aggs))}
			if slices.ContainsFunc(panes[p], func(o *bucket) bool { return o.gkey == b.gkey }) {
				continue
			}
			b.group = []value{{kind: kString, s: b.gkey}}
			distinct := []int{1, 3, 20, 60}[rng.IntN(4)]
			for i := 0; i < 1+rng.IntN(30); i++ {
				args := []value{{}, floatVal(float64(rng.IntN(10000)) / 8), floatVal(float64(rng.IntN(10000)) / 8), {kind: kInt, i: int64(rng.IntN(distinct))}}
				for j := range r.aggs {
					r.aggs[j].update(&b.aggs[j], args[j], r.Window.DistinctExact)
				}
			}
			panes[p] = append(panes[p], b)
		}
	}
	pieces := func(start int64, pane bool, f func(*bucket)) {
		if pane {
			for _, b := range panes[start/every] {
				f(b)
			}
		}
	}
	text := func(out []*bucket) []string {
		var rows []string
		for _, b := range out {
			row := fmt.Sprintf("%d %d %s", b.start, b.end, b.gkey)
			for j := range r.aggs {
				row += " " + string(r.aggs[j].result(&b.aggs[j]).appendJSON(nil))
			}
			rows = append(rows, row)
		}
		return rows
	}
	var reused merger
	for s := int64(-1); s < 12; s++ {
		got := reused.merge(r, []int64{s * every}, pieces)
		var fresh merger
		want := fresh.merge(r, []int64{s * every}, pieces)
		if g, w := text(got), text(want); !slices.Equal(g, w) {
			t.Fatalf("window %d:\n got %q\nwant %q", s, g, w)
		}
		reused.recycle(got)
	}
	if len(reused.spare) == 0 {
		t.Fatal("nothing was recycled")
	}
}
