package rule

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// fwdCollect is a source partition's sink: forwarded events and markers
// go to its outbox, in order.
type fwdCollect struct {
	collect
	part   int
	outbox []fwdRec
}

type fwdRec struct {
	part    int
	gkey    []byte
	payload []byte // nil: a marker
	wm      int64
}

func (c *fwdCollect) Forward(_ *Rule, gkey, payload []byte) {
	c.outbox = append(c.outbox, fwdRec{part: c.part, gkey: bytes.Clone(gkey), payload: bytes.Clone(payload)})
}

func TestWhichRulesRepartition(t *testing.T) {
	cases := []struct {
		rule        string
		repartition bool
	}{
		{"window: {type: session, gap: 1m}\ngroup_by: [event_name]\naggregate: {n: count()}\n", true},
		{"window: {type: session, gap: 1m}\naggregate: {n: count()}\n", true},
		{"window: {type: session, gap: 1m}\ngroup_by: [user_id]\naggregate: {n: count()}\n", false},
		{"window: {type: tumbling, size: 1m, emit_every: 10s}\ngroup_by: [event_name]\naggregate: {n: count()}\n", true},
		{"window: {type: hopping, size: 2m, every: 1m, emit_every: 10s}\naggregate: {n: count()}\n", true},
		{"window: {type: tumbling, size: 1m, emit_every: 10s}\ngroup_by: [user_id, event_name]\naggregate: {n: count()}\n", false},
		{"window: {type: tumbling, size: 1m}\ngroup_by: [event_name]\naggregate: {n: count()}\n", false},
		{"where: event_name == \"Search\"\n", false},
	}
	for _, c := range cases {
		r := mustRule(t, c.rule)
		if r.Repartitions() != c.repartition {
			t.Errorf("Repartitions() = %v, want %v for\n%s", r.Repartitions(), c.repartition, c.rule)
		}
		if r.Repartitions() && r.Combines() {
			t.Errorf("both repartitions and combines:\n%s", c.rule)
		}
	}
}

// spreadEvents makes n events for each of 3 partitions, 1 s to step apart
// in time, one in 8 moved back by up to back (some within the allowed
// lateness, some beyond), from the given number of users.
func spreadEvents(rng *rand.Rand, n int, step, back time.Duration, users int) [][]in {
	names := []string{"Search", "Purchase", "AddToCart"}
	parts := make([][]in, 3)
	for p := range parts {
		at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		for i := 0; i < n; i++ {
			at = at.Add(time.Second + time.Duration(rng.Int64N(int64(step/time.Second)))*time.Second)
			ts := at
			if rng.IntN(8) == 0 {
				ts = ts.Add(-time.Duration(rng.Int64N(int64(back/time.Second))) * time.Second)
			}
			parts[p] = append(parts[p], in{at: ts.Format("15:04:05"), user: fmt.Sprint(rng.IntN(users)),
				name: names[rng.IntN(len(names))], price: float64(rng.IntN(400)) / 4})
		}
	}
	return parts
}

// gatherRun runs events of several partitions through source tasks that
// forward, then through gatherers (owners picked by group key hash), in
// an interleaving chosen by rng that keeps each partition's order. It
// returns the gathered rows (sorted), the late reasons and the events the
// sources accepted.
func gatherRun(t *testing.T, r *Rule, parts [][]in, owners int, rng *rand.Rand) (rows, late []string, accepted []in) {
	t.Helper()
	srcs := make([]*Task, len(parts))
	sinks := make([]*fwdCollect, len(parts))
	for p := range parts {
		srcs[p], sinks[p] = NewTask([]*Rule{r}), &fwdCollect{part: p}
		srcs[p].Repartition()
	}
	// Sources: each reads its events in chunks and marks after each chunk.
	for p, evs := range parts {
		for i := 0; i < len(evs); {
			n := 1 + rng.IntN(5)
			for ; n > 0 && i < len(evs); n, i = n-1, i+1 {
				raw, rec, err := r.TestEvent(evs[i].event())
				if err != nil {
					t.Fatal(err)
				}
				before := len(sinks[p].late)
				srcs[p].Process(rec, r.Codec.EventTime(rec), raw, nil, sinks[p])
				if len(sinks[p].late) == before {
					accepted = append(accepted, evs[i])
				}
			}
			srcs[p].Advance(sinks[p], time.Time{})
			sinks[p].outbox = append(sinks[p].outbox, fwdRec{part: p, wm: srcs[p].Windows[0].WatermarkNanos()})
		}
		if len(sinks[p].rows) != 0 {
			t.Fatalf("source partition %d emitted rows itself: %v", p, sinks[p].rows)
		}
		late = append(late, sinks[p].late...)
	}
	// Owners: an interleaving of the outboxes (markers go to every owner).
	gs := make([]*Gatherer, owners)
	for o := range gs {
		gs[o] = r.NewGatherer(len(parts))
	}
	out := &collect{}
	next := make([]int, len(parts))
	for {
		var open []int
		for p := range parts {
			if next[p] < len(sinks[p].outbox) {
				open = append(open, p)
			}
		}
		if len(open) == 0 {
			break
		}
		p := open[rng.IntN(len(open))]
		f := sinks[p].outbox[next[p]]
		next[p]++
		if f.payload == nil {
			for _, g := range gs {
				g.Mark(f.part, f.wm)
			}
		} else if err := gs[int(crc32.ChecksumIEEE(f.gkey))%owners].Add(f.payload); err != nil {
			t.Fatal(err)
		}
		if rng.IntN(4) == 0 {
			gs[rng.IntN(owners)].Advance(out, time.Time{})
		}
	}
	for _, g := range gs {
		for p := range parts {
			g.Mark(p, math.MaxInt64/2)
		}
		g.Advance(out, time.Time{})
		if g.Size() != 0 {
			t.Fatalf("%d windows still open past every watermark", g.Size())
		}
	}
	slices.Sort(out.rows)
	return out.rows, late, accepted
}

// TestGathererIsOneStream: a session rule over events spread over three
// partitions, some out of order, gives the sessions of one ordered stream
// of the events its sources accepted, whatever the interleaving at the
// owners.
func TestGathererIsOneStream(t *testing.T) {
	for _, spec := range []string{
		"window: {type: session, gap: 20s, allowed_lateness: 5s}\ngroup_by: [event_name]\naggregate: {n: count(), s: sum(additional_data.price), lo: min(additional_data.price), d: count_distinct(user_id), last: max(timestamp)}\n",
		"window: {type: session, gap: 15s}\naggregate: {n: count()}\n",
		"window: {type: hopping, size: 1m, every: 20s, allowed_lateness: 10s, emit_every: 1s}\ngroup_by: [event_name]\naggregate: {n: count(), s: sum(additional_data.price)}\nhaving: n > 1\n",
		"window: {type: tumbling, size: 30s, emit_every: 1s}\ngroup_by: [event_name]\naggregate: {n: count(), hi: max(additional_data.price)}\n",
	} {
		r := mustRule(t, spec)
		parts := spreadEvents(rand.New(rand.NewPCG(5, 6)), 80, 25*time.Second, 40*time.Second, 4)
		first, late, accepted := gatherRun(t, r, parts, 2, rand.New(rand.NewPCG(1, 1)))
		if len(first) == 0 || (r.Window.Type == Session && len(late) == 0) {
			t.Fatalf("%s: %d rows, %d late: the test needs both", spec, len(first), len(late))
		}
		for seed := uint64(2); seed < 8; seed++ {
			got, _, _ := gatherRun(t, r, parts, 1+int(seed%3), rand.New(rand.NewPCG(seed, seed)))
			if !slices.Equal(got, first) {
				t.Fatalf("%s: interleaving %d differs:\n%s\nfirst:\n%s", spec, seed, strings.Join(got, "\n"), strings.Join(first, "\n"))
			}
		}
		if r.Window.Type != Session {
			continue
		}
		// The accepted events, in one ordered stream, give the same sessions.
		slices.SortStableFunc(accepted, func(a, b in) int { return strings.Compare(a.at, b.at) })
		want := feed(t, r, accepted, true)
		if len(want.late) != 0 {
			t.Fatalf("one stream of the accepted events has late events: %v", want.late)
		}
		slices.Sort(want.rows)
		if !slices.Equal(first, want.rows) {
			t.Errorf("%s: gathered:\n%s\none stream:\n%s", spec, strings.Join(first, "\n"), strings.Join(want.rows, "\n"))
		}
	}
}

// TestForwardedLateness: a source judges lateness against its own
// watermark, as Add does for tumbling and hopping windows, and takes no
// session event behind it.
func TestForwardedLateness(t *testing.T) {
	cases := []struct {
		rule   string
		events []in
		late   []string
	}{
		{"window: {type: tumbling, size: 1m, emit_every: 1s}\naggregate: {n: count()}\n",
			[]in{{"00:10", "a", "Search", 0}, {"01:00", "a", "Search", 0}, {"00:59", "a", "Search", 0}},
			[]string{"late: window [2024-01-01T00:00:00Z, 2024-01-01T00:01:00Z) already closed at watermark 2024-01-01T00:01:00Z (allowed lateness 0s)"}},
		{"window: {type: hopping, size: 2m, every: 1m, emit_every: 1s}\naggregate: {n: count()}\n",
			[]in{{"02:05", "a", "Search", 0}, {"01:50", "a", "Search", 0}, {"00:59", "a", "Search", 0}},
			[]string{"late: window [2024-01-01T00:00:00Z, 2024-01-01T00:02:00Z) already closed at watermark 2024-01-01T00:02:05Z (allowed lateness 0s)"}},
		{"window: {type: session, gap: 10m, allowed_lateness: 1m}\ngroup_by: [event_name]\naggregate: {n: count()}\n",
			[]in{{"05:00", "a", "Search", 0}, {"04:00", "a", "Search", 0}, {"03:59", "a", "Search", 0}},
			[]string{"late: event at 2024-01-01T00:03:59Z is behind the watermark 2024-01-01T00:04:00Z of its partition (allowed lateness 1m0s); a session over all partitions takes no older event"}},
	}
	for _, c := range cases {
		r := mustRule(t, c.rule)
		task, s := NewTask([]*Rule{r}), &fwdCollect{}
		task.Repartition()
		for _, e := range c.events {
			raw, rec, _ := r.TestEvent(e.event())
			task.Process(rec, r.Codec.EventTime(rec), raw, nil, s)
		}
		if !slices.Equal(s.late, c.late) {
			t.Errorf("%s: late %q, want %q", c.rule, s.late, c.late)
		}
		if len(s.outbox) != len(c.events)-len(c.late) {
			t.Errorf("%s: %d forwarded, want %d", c.rule, len(s.outbox), len(c.events)-len(c.late))
		}
		if task.Counts[0].Late != int64(len(c.late)) {
			t.Errorf("%s: Late count %d", c.rule, task.Counts[0].Late)
		}
	}
}

// TestGathererEarlyRowsAreGlobal: early rows at the owner carry the
// running values over every source partition.
func TestGathererEarlyRowsAreGlobal(t *testing.T) {
	r := mustRule(t, "window: {type: tumbling, size: 1m, emit_every: 10s}\ngroup_by: [event_name]\naggregate: {n: count()}\n")
	g, out := r.NewGatherer(2), &collect{}
	for p := 0; p < 2; p++ {
		task, s := NewTask([]*Rule{r}), &fwdCollect{part: p}
		task.Repartition()
		for _, at := range []string{"00:01", "00:02"} {
			raw, rec, _ := r.TestEvent(in{at, "u", "Search", 0}.event())
			task.Process(rec, r.Codec.EventTime(rec), raw, nil, s)
		}
		for _, f := range s.outbox {
			if err := g.Add(f.payload); err != nil {
				t.Fatal(err)
			}
		}
		g.Mark(p, task.Windows[0].WatermarkNanos())
	}
	clock := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	g.Advance(out, clock)
	g.Mark(0, time.Date(2024, 1, 1, 0, 1, 0, 0, time.UTC).UnixNano())
	g.Advance(out, clock.Add(time.Second))
	g.Mark(1, time.Date(2024, 1, 1, 0, 1, 0, 0, time.UTC).UnixNano())
	g.Advance(out, clock.Add(2*time.Second))
	want := []string{
		`Search {"event_name":"Search","n":4,"window_start":"2024-01-01T00:00:00Z","window_end":"2024-01-01T00:01:00Z","final":false}`,
		`Search {"event_name":"Search","n":4,"window_start":"2024-01-01T00:00:00Z","window_end":"2024-01-01T00:01:00Z","final":true}`,
	}
	if !slices.Equal(out.rows, want) {
		t.Fatalf("rows:\n%s", strings.Join(out.rows, "\n"))
	}
}

// TestGathererStateRoundTrip: a gatherer restored from its changes carries
// on like the original.
func TestGathererStateRoundTrip(t *testing.T) {
	for _, spec := range []string{
		"window: {type: session, gap: 30s}\ngroup_by: [event_name]\naggregate: {n: count(), d: count_distinct(user_id)}\n",
		// Panes: the restored windows must not emit again what closed
		// before the changelog was written.
		"window: {type: hopping, size: 1m, every: 20s, repartition: true}\ngroup_by: [event_name]\naggregate: {n: count(), d: count_distinct(user_id)}\n",
	} {
		gathererRoundTrip(t, mustRule(t, spec))
	}
}

func gathererRoundTrip(t *testing.T, r *Rule) {
	payloads := func(p int, evs ...in) []fwdRec {
		task, s := NewTask([]*Rule{r}), &fwdCollect{part: p}
		task.Repartition()
		for _, e := range evs {
			raw, rec, _ := r.TestEvent(e.event())
			task.Process(rec, r.Codec.EventTime(rec), raw, nil, s)
		}
		return append(s.outbox, fwdRec{part: p, wm: task.Windows[0].WatermarkNanos()})
	}
	first := append(payloads(0, in{"00:10", "a", "Search", 0}, in{"00:50", "b", "Search", 0}), payloads(1, in{"00:20", "c", "Search", 0})...)
	rest := append(payloads(0, in{"01:30", "a", "Search", 0}), payloads(1, in{"00:40", "a", "Search", 0}, in{"02:00", "a", "Purchase", 0})...)
	apply := func(g *Gatherer, fs []fwdRec, out *collect) {
		for _, f := range fs {
			if f.payload == nil {
				g.Mark(f.part, f.wm)
			} else if err := g.Add(f.payload); err != nil {
				t.Fatal(err)
			}
			g.Advance(out, time.Time{})
		}
	}
	whole, g := &collect{}, r.NewGatherer(2)
	apply(g, append(slices.Clone(first), rest...), whole)
	g.Flush(whole)

	g, out := r.NewGatherer(2), &collect{}
	g.TrackChanges()
	apply(g, first, out)
	if len(out.rows) == 0 && r.usesPanes() {
		t.Fatal("no window closed before the state was written: the test needs one")
	}
	live := map[string][]byte{}
	g.Changes(func(k, v []byte) { live[string(k)] = bytes.Clone(v) }, func(k []byte) { delete(live, string(k)) })
	if _, ok := live["s1"]; !ok {
		t.Fatalf("no source watermark among the changes: %q", slices.Collect(func(yield func(string) bool) {
			for k := range live {
				if !yield(k) {
					return
				}
			}
		}))
	}
	again := r.NewGatherer(2)
	again.TrackChanges()
	for k, v := range live {
		if err := again.Restore(k, v); err != nil {
			t.Fatal(err)
		}
	}
	if !again.Watermark().Equal(g.Watermark()) {
		t.Fatalf("restored watermark %v, want %v", again.Watermark(), g.Watermark())
	}
	apply(again, rest, out)
	again.Flush(out)
	if !slices.Equal(out.rows, whole.rows) || len(whole.rows) < 3 {
		t.Errorf("restored:\n%s\nwant:\n%s", strings.Join(out.rows, "\n"), strings.Join(whole.rows, "\n"))
	}
}

// TestRepartitionOption: `repartition: true` sends a tumbling or hopping
// rule's events to their group's owner instead of combining partials, and
// both ways give the same rows and late events; it changes the rule's hash
// (where its state lives), and nothing where it changes nothing.
func TestRepartitionOption(t *testing.T) {
	for _, spec := range []string{
		"window: {type: tumbling, size: 1m, allowed_lateness: 10s}\ngroup_by: [event_name, {dear: additional_data.price > 50}]\naggregate: {n: count(), s: sum(additional_data.price), lo: min(additional_data.price), d: count_distinct(user_id)}\n",
		"window: {type: hopping, size: 3m, every: 1m, allowed_lateness: 10s}\ngroup_by: [event_name]\naggregate: {n: count(), s: sum(additional_data.price), d: count_distinct(user_id)}\nhaving: n > 1\n",
		"window: {type: hopping, size: 50s, every: 20s}\ngroup_by: [event_name]\naggregate: {n: count(), hi: max(additional_data.price)}\n",
	} {
		comb := mustRule(t, spec)
		rep := mustRule(t, strings.Replace(spec, "window: {", "window: {repartition: true, ", 1))
		if !comb.Combines() || comb.Repartitions() || !rep.Repartitions() || rep.Combines() {
			t.Fatalf("%s: combines %v/%v, repartitions %v/%v", spec, comb.Combines(), rep.Combines(), comb.Repartitions(), rep.Repartitions())
		}
		if comb.Hash == rep.Hash {
			t.Errorf("%s: same hash with and without repartition", spec)
		}
		parts := spreadEvents(rand.New(rand.NewPCG(7, 8)), 120, 6*time.Second, 50*time.Second, 6)
		partials, rows := partialsOf(t, comb, parts)
		if rows != 0 {
			t.Fatal("a combining rule emitted rows itself")
		}
		want := combineShuffled(t, comb, partials, len(parts), rand.New(rand.NewPCG(1, 2)))
		slices.Sort(want)
		var wantLate []string
		for p := range parts {
			wantLate = append(wantLate, feed(t, comb, parts[p], false).late...)
		}
		got, late, _ := gatherRun(t, rep, parts, 2, rand.New(rand.NewPCG(3, 4)))
		if len(want) == 0 || len(wantLate) == 0 {
			t.Fatalf("%s: %d rows, %d late: the test needs both", spec, len(want), len(wantLate))
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: repartitioned:\n%s\ncombined:\n%s", spec, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		slices.Sort(late)
		slices.Sort(wantLate)
		if !slices.Equal(late, wantLate) {
			t.Errorf("%s: late events differ:\n%s\nwant\n%s", spec, strings.Join(late, "\n"), strings.Join(wantLate, "\n"))
		}
	}
	// Where it changes nothing, the hash stays: sessions and early results
	// repartition anyway.
	for _, spec := range []string{
		"window: {type: session, gap: 1m}\ngroup_by: [event_name]\naggregate: {n: count()}\n",
		"window: {type: tumbling, size: 1m, emit_every: 10s}\ngroup_by: [event_name]\naggregate: {n: count()}\n",
	} {
		if a, b := mustRule(t, spec), mustRule(t, strings.Replace(spec, "window: {", "window: {repartition: true, ", 1)); a.Hash != b.Hash {
			t.Errorf("%s: repartition: true changed the hash", spec)
		}
	}
	// Grouped by the record key, each group lives in one partition.
	if r := mustRule(t, "window: {type: tumbling, size: 1m, repartition: true}\ngroup_by: [user_id]\naggregate: {n: count()}\n"); r.Repartitions() || r.Combines() {
		t.Errorf("grouped by the key: repartitions %v, combines %v", r.Repartitions(), r.Combines())
	}
}
