package rule

import (
	"fmt"
	"maps"
	"testing"
	"time"
)

// changelog is what a changelog topic holds live: puts minus deletes.
type changelog map[string]bool

func (l changelog) put(k []byte, _ []byte) { l[string(k)] = true }
func (l changelog) del(k []byte)           { delete(l, string(k)) }

func forgotten(forget func(del func([]byte))) changelog {
	out := changelog{}
	forget(func(k []byte) { out[string(k)] = true })
	return out
}

// sameLive compares what Forget reported with the live entries. Between
// transactions (pending, with changes not yet written) a clock may be
// reported that was not written yet: a tombstone of nothing is harmless.
func sameLive[K comparable](t *testing.T, when string, got, live map[K]bool, clocks ...K) {
	t.Helper()
	got = maps.Clone(got)
	for _, k := range clocks {
		if got[k] && !live[k] {
			delete(got, k)
		}
	}
	if !maps.Equal(got, live) {
		t.Fatalf("%s: Forget reports %v, the changelog holds %v", when, got, live)
	}
}

// TestForgetReportsTheLiveChangelog: what Forget reports is every entry
// the state has left live in its changelog, windows, panes, sessions and
// clocks alike, so that tombstoning them leaves nothing of a dropped rule.
func TestForgetReportsTheLiveChangelog(t *testing.T) {
	evs := []in{
		{"00:10", "a", "Search", 1}, {"00:40", "b", "Purchase", 2}, {"01:10", "a", "Search", 4},
		{"01:20", "c", "AddToCart", 8}, {"03:00", "a", "Purchase", 16}, {"03:05", "b", "Search", 32},
	}
	for name, spec := range map[string]string{
		"tumbling": "window: {type: tumbling, size: 1m}\ngroup_by: [user_id]\naggregate: {n: count()}\n",
		"panes":    "window: {type: hopping, size: 2m, every: 1m}\ngroup_by: [event_name]\naggregate: {s: sum(additional_data.price)}\n",
		"session":  "window: {type: session, gap: 30s}\ngroup_by: [user_id]\naggregate: {n: count()}\n",
	} {
		t.Run(name, func(t *testing.T) {
			r := mustRule(t, spec)
			task, out := NewTask([]*Rule{r}), &collect{}
			task.TrackChanges()
			w, log := task.Windows[0], changelog{}
			for i, e := range evs { // a transaction every two events
				process(t, task, r, []in{e}, out)
				sameLive(t, fmt.Sprintf("pending after event %d", i), forgotten(w.Forget), log, "m")
				if i%2 == 1 {
					w.Changes(log.put, log.del)
					sameLive(t, fmt.Sprintf("written after event %d", i), forgotten(w.Forget), log)
				}
			}
			if len(log) < 2 {
				t.Fatalf("the test left %d entries live: it tests nothing", len(log))
			}
		})
	}

	t.Run("combiner", func(t *testing.T) {
		r := mustRule(t, "window: {type: tumbling, size: 1m}\ngroup_by: [event_name]\naggregate: {n: count()}\n")
		partials, _ := partialsOf(t, r, [][]in{evs[:3], evs[3:]})
		c, log := r.NewCombiner(2), map[string]bool{}
		c.TrackChanges()
		for i, p := range partials {
			if err := c.AddPartial(p.part, p.state); err != nil {
				t.Fatal(err)
			}
			c.Mark(p.part, time.Date(2024, 1, 1, 0, 1, 0, 0, time.UTC).UnixNano())
			c.Advance(&collect{})
			forgot := func() map[string]bool {
				got := map[string]bool{}
				c.Forget(func(k string) { got[k] = true })
				return got
			}
			sameLive(t, fmt.Sprintf("pending after partial %d", i), forgot(), log, "m0", "m1")
			c.Changes(func(k string, _ []byte) { log[k] = true }, func(k string) { delete(log, k) })
			sameLive(t, fmt.Sprintf("written after partial %d", i), forgot(), log)
		}
		if len(log) < 2 {
			t.Fatalf("the test left %d entries live: it tests nothing", len(log))
		}
	})

	t.Run("gatherer", func(t *testing.T) {
		r := mustRule(t, "window: {type: session, gap: 30s}\ngroup_by: [event_name]\naggregate: {n: count()}\n")
		task, s := NewTask([]*Rule{r}), &fwdCollect{part: 1}
		task.Repartition()
		for _, e := range evs {
			raw, rec, _ := r.TestEvent(e.event())
			task.Process(rec, r.Codec.EventTime(rec), raw, nil, s)
		}
		g, log := r.NewGatherer(2), changelog{}
		g.TrackChanges()
		for i, f := range s.outbox {
			if err := g.Add(f.payload); err != nil {
				t.Fatal(err)
			}
			g.Mark(1, task.Windows[0].WatermarkNanos())
			g.Advance(&collect{}, time.Time{})
			sameLive(t, fmt.Sprintf("pending after event %d", i), forgotten(g.Forget), log, "m", "s1")
			g.Changes(log.put, log.del)
			sameLive(t, fmt.Sprintf("written after event %d", i), forgotten(g.Forget), log)
		}
		if len(log) < 2 {
			t.Fatalf("the test left %d entries live: it tests nothing", len(log))
		}
	})
}
