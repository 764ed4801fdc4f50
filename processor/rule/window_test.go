package rule

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/schema"
)

type collect struct {
	rows []string
	late []string
}

func (c *collect) Output(_ *Rule, k, v []byte) { c.rows = append(c.rows, string(k)+" "+string(v)) }
func (c *collect) Late(_ *Rule, reason string) { c.late = append(c.late, reason) }
func (c *collect) Error(_ *Rule, err error)    { c.late = append(c.late, "error: "+err.Error()) }

func mustRule(t testing.TB, yaml string) *Rule {
	t.Helper()
	r, err := Load("t.yaml", []byte("name: t\nsource: clickstream\noutput: out\n"+yaml), builtins(t))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

type in struct {
	at    string // "mm:ss" after 2024-01-01 00:00
	user  string
	name  string
	price float64
}

func (e in) event() map[string]any {
	ts := "2024-01-01 00:" + e.at
	if strings.Count(e.at, ":") == 2 {
		ts = "2024-01-01 " + e.at
	}
	return map[string]any{"timestamp": ts, "user_id": e.user, "event_name": e.name, "additional_data": map[string]any{"price": e.price}}
}

// feed runs events through a task, advancing after each, and flushes when
// flush is set; now is the injected processing-time clock per event.
func feed(t testing.TB, r *Rule, evs []in, flush bool) *collect {
	t.Helper()
	task, c := NewTask([]*Rule{r}), &collect{}
	process(t, task, r, evs, c)
	if flush {
		task.Flush(c)
	}
	return c
}

// process runs events through task in order, advancing after each.
func process(t testing.TB, task *Task, r *Rule, evs []in, s Sink) {
	t.Helper()
	for _, e := range evs {
		raw, rec, err := r.TestEvent(e.event())
		if err != nil {
			t.Fatal(err)
		}
		task.Process(rec, r.Codec.EventTime(rec), raw, nil, s)
		task.Advance(s, time.Time{})
	}
}

func TestWindowTypes(t *testing.T) {
	cases := []struct {
		name   string
		rule   string
		events []in
		flush  bool
		want   []string
		late   int
	}{
		{
			name:   "tumbling closes on the watermark, not at the end",
			rule:   "window: {type: tumbling, size: 1m}\ngroup_by: [event_name]\naggregate: {n: count()}\n",
			events: []in{{"00:10", "a", "Search", 0}, {"00:50", "b", "Search", 0}, {"01:00", "a", "Search", 0}},
			want:   []string{`Search {"event_name":"Search","n":2,"window_start":"2024-01-01T00:00:00Z","window_end":"2024-01-01T00:01:00Z"}`},
		},
		{
			name: "tumbling: allowed lateness keeps a window open; later events are late",
			rule: "window: {type: tumbling, size: 1m, allowed_lateness: 15s}\naggregate: {n: count(), s: sum(additional_data.price), lo: min(additional_data.price), hi: max(additional_data.price), mean: avg(additional_data.price)}\n",
			events: []in{{"00:30", "a", "Search", 2}, {"01:10", "a", "Search", 1}, {"00:59", "a", "Search", 4},
				{"01:20", "a", "Search", 1}, {"00:58", "a", "Search", 100}},
			want: []string{` {"n":2,"s":6,"lo":2,"hi":4,"mean":3,"window_start":"2024-01-01T00:00:00Z","window_end":"2024-01-01T00:01:00Z"}`},
			late: 1,
		},
		{
			name:   "hopping: one event in size/every windows",
			rule:   "window: {type: hopping, size: 3m, every: 1m}\naggregate: {n: count()}\n",
			events: []in{{"01:30", "a", "Search", 0}},
			flush:  true,
			want: []string{
				` {"n":1,"window_start":"2023-12-31T23:59:00Z","window_end":"2024-01-01T00:02:00Z"}`,
				` {"n":1,"window_start":"2024-01-01T00:00:00Z","window_end":"2024-01-01T00:03:00Z"}`,
				` {"n":1,"window_start":"2024-01-01T00:01:00Z","window_end":"2024-01-01T00:04:00Z"}`,
			},
		},
		{
			name:   "hopping: an event late for some windows still counts in the open ones",
			rule:   "window: {type: hopping, size: 2m, every: 1m}\naggregate: {n: count()}\n",
			events: []in{{"01:10", "a", "Search", 0}, {"02:05", "a", "Search", 0}, {"01:50", "a", "Search", 0}},
			want:   []string{` {"n":1,"window_start":"2024-01-01T00:00:00Z","window_end":"2024-01-01T00:02:00Z"}`},
			flush:  false,
		},
		{
			name: "session: gap splits, events bridge, users apart",
			rule: "window: {type: session, gap: 10m, allowed_lateness: 15m}\ngroup_by: [user_id]\naggregate: {n: count(), spent: sum(additional_data.price)}\n",
			events: []in{{"00:00", "u1", "Search", 1}, {"15:00", "u1", "Search", 2}, {"09:00", "u1", "Search", 4},
				{"05:00", "u2", "Search", 8}, {"59:00", "u3", "Search", 0}},
			want: []string{
				`u2 {"user_id":"u2","n":1,"spent":8,"window_start":"2024-01-01T00:05:00Z","window_end":"2024-01-01T00:15:00Z"}`,
				`u1 {"user_id":"u1","n":3,"spent":7,"window_start":"2024-01-01T00:00:00Z","window_end":"2024-01-01T00:25:00Z"}`,
			},
		},
		{
			name:   "session: an event behind the watermark with no open session is late",
			rule:   "window: {type: session, gap: 5m}\ngroup_by: [user_id]\naggregate: {n: count()}\n",
			events: []in{{"00:00", "u1", "Search", 0}, {"30:00", "u2", "Search", 0}, {"01:00", "u3", "Search", 0}},
			want:   []string{`u1 {"user_id":"u1","n":1,"window_start":"2024-01-01T00:00:00Z","window_end":"2024-01-01T00:05:00Z"}`},
			late:   1,
		},
		{
			name: "having filters groups; count_distinct",
			rule: "window: {type: tumbling, size: 1h}\ngroup_by: [event_name]\naggregate: {users: count_distinct(user_id)}\nhaving: users >= 2\n",
			events: []in{{"00:00", "u1", "Search", 0}, {"01:00", "u1", "Search", 0}, {"02:00", "u2", "Search", 0},
				{"03:00", "u1", "Purchase", 0}},
			flush: true,
			want:  []string{`Search {"event_name":"Search","users":2,"window_start":"2024-01-01T00:00:00Z","window_end":"2024-01-01T01:00:00Z"}`},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := feed(t, mustRule(t, c.rule), c.events, c.flush)
			if !slices.Equal(got.rows, c.want) {
				t.Errorf("rows:\n got  %s\n want %s", strings.Join(got.rows, "\n      "), strings.Join(c.want, "\n      "))
			}
			if len(got.late) != c.late {
				t.Errorf("late: %d (%v), want %d", len(got.late), got.late, c.late)
			}
		})
	}
}

func TestEarlyEmissionFollowsTheInjectedClock(t *testing.T) {
	r := mustRule(t, "window: {type: tumbling, size: 1m, emit_every: 10s}\naggregate: {n: count()}\n")
	task, c := NewTask([]*Rule{r}), &collect{}
	clock := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	step := func(at string, advance time.Duration) {
		raw, rec, err := r.TestEvent(in{at, "u", "Search", 0}.event())
		if err != nil {
			t.Fatal(err)
		}
		task.Process(rec, r.Codec.EventTime(rec), raw, nil, c)
		clock = clock.Add(advance)
		task.Advance(c, clock)
	}
	step("00:01", 10*time.Second) // first early update
	step("00:02", 5*time.Second)  // too soon
	step("00:03", 5*time.Second)  // due again
	step("01:00", 0)              // closes the window: final row
	want := []string{
		` {"n":1,"window_start":"2024-01-01T00:00:00Z","window_end":"2024-01-01T00:01:00Z","final":false}`,
		` {"n":3,"window_start":"2024-01-01T00:00:00Z","window_end":"2024-01-01T00:01:00Z","final":false}`,
		` {"n":3,"window_start":"2024-01-01T00:00:00Z","window_end":"2024-01-01T00:01:00Z","final":true}`,
	}
	if !slices.Equal(c.rows, want) {
		t.Fatalf("rows:\n%s", strings.Join(c.rows, "\n"))
	}
	if fs := r.OutputSchema().Column("final"); fs == nil {
		t.Fatal("output schema lacks final")
	}
}

func TestCountDistinctSwitchesToHyperLogLog(t *testing.T) {
	r := mustRule(t, "window: {type: tumbling, size: 1h, distinct_exact: 100}\naggregate: {users: count_distinct(user_id)}\n")
	var evs []in
	const n = 20000
	for i := 0; i < n; i++ {
		evs = append(evs, in{"00:00", fmt.Sprintf("user-%d", i), "Search", 0}, in{"00:01", fmt.Sprintf("user-%d", i), "Search", 0})
	}
	got := feed(t, r, evs, true)
	var row struct{ Users float64 }
	if err := json.Unmarshal([]byte(strings.SplitN(got.rows[0], " ", 2)[1]), &row); err != nil {
		t.Fatal(err)
	}
	if errPct := (row.Users - n) / n * 100; errPct > 3 || errPct < -3 {
		t.Fatalf("estimate %v for %d distinct users (%.1f%%)", row.Users, n, errPct)
	}
}

// TestStateRoundTrip checks that state written with Changes and read back
// with Restore carries on exactly like the original.
func TestStateRoundTrip(t *testing.T) {
	for _, spec := range []string{
		"window: {type: hopping, size: 2m, every: 1m}\ngroup_by: [user_id]\naggregate: {n: count(), s: sum(additional_data.price), hi: max(timestamp), d: count_distinct(event_name)}\n",
		"window: {type: session, gap: 3m}\ngroup_by: [user_id]\naggregate: {n: count(), lo: min(additional_data.price), d: count_distinct(event_name)}\n",
	} {
		r := mustRule(t, spec)
		first := []in{{"00:10", "a", "Search", 1.5}, {"00:20", "b", "Purchase", 2}, {"01:10", "a", "AddToCart", 3}, {"02:30", "a", "Search", 0.25}}
		rest := []in{{"02:40", "b", "Search", 7}, {"03:00", "a", "Purchase", 1}, {"09:00", "c", "Search", 0}}
		whole := feed(t, r, append(slices.Clone(first), rest...), true).rows

		task, c := NewTask([]*Rule{r}), &collect{}
		run := func(task *Task, evs []in) {
			for _, e := range evs {
				raw, rec, _ := r.TestEvent(e.event())
				task.Process(rec, r.Codec.EventTime(rec), raw, nil, c)
				task.Advance(c, time.Time{})
			}
		}
		task.TrackChanges()
		run(task, first)
		live := map[string][]byte{}
		task.Windows[0].Changes(func(k, v []byte) { live[string(k)] = bytes.Clone(v) }, func(k []byte) { delete(live, string(k)) })
		again := NewTask([]*Rule{r})
		again.TrackChanges()
		for k, v := range live {
			if err := again.Windows[0].Restore(k, v); err != nil {
				t.Fatal(err)
			}
		}
		run(again, rest)
		again.Flush(c)
		if !slices.Equal(c.rows, whole) {
			t.Errorf("%s\nrestored:\n%s\nwant:\n%s", spec, strings.Join(c.rows, "\n"), strings.Join(whole, "\n"))
		}
	}
}

// TestHavingSeesNullAggregates: min, max and avg of no values are null, and
// having sees them as null, as SQL's HAVING does: `lo != nil` (SQL's IS NOT
// NULL) keeps only groups with a value, and a comparison with a null keeps
// no row (SQL's unknown) instead of comparing the type's zero value.
func TestHavingSeesNullAggregates(t *testing.T) {
	const aggs = "window: {type: tumbling, size: 1m}\ngroup_by: [user_id]\naggregate:\n" +
		"  n: count()\n" +
		"  lo: 'min(event_name == \"Purchase\" ? additional_data.price : nil)'\n" +
		"  mean: 'avg(event_name == \"Purchase\" ? additional_data.price : nil)'\n"
	// u1 bought (lo 5), u2 only searched (lo and mean null).
	events := []in{{"00:10", "u1", "Purchase", 5}, {"00:20", "u2", "Search", 1}}
	u1 := `u1 {"user_id":"u1","n":1,"lo":5,"mean":5,"window_start":"2024-01-01T00:00:00Z","window_end":"2024-01-01T00:01:00Z"}`
	u2 := `u2 {"user_id":"u2","n":1,"lo":null,"mean":null,"window_start":"2024-01-01T00:00:00Z","window_end":"2024-01-01T00:01:00Z"}`
	cases := []struct {
		having string
		want   []string
		errs   int
	}{
		{"lo != nil", []string{u1}, 0},
		{"lo == nil", []string{u2}, 0},
		{"(mean ?? 0) < 10", []string{u1, u2}, 0},
		{"(mean ?? 100) < 10", []string{u1}, 0},
		{"lo < 10", []string{u1}, 1}, // u2: null < 10 is not true
		{"n >= 1", []string{u1, u2}, 0},
	}
	for _, c := range cases {
		t.Run(c.having, func(t *testing.T) {
			got := feed(t, mustRule(t, aggs+"having: "+c.having+"\n"), events, true)
			if !slices.Equal(got.rows, c.want) {
				t.Errorf("rows:\n got  %s\n want %s", strings.Join(got.rows, "\n      "), strings.Join(c.want, "\n      "))
			}
			if len(got.late) != c.errs {
				t.Errorf("errors: %q, want %d", got.late, c.errs)
			}
		})
	}
}

// TestHavingSeesNullGroups: a group column read from an optional field is
// null for events without it, and having sees that null as nil.
func TestHavingSeesNullGroups(t *testing.T) {
	sc, err := schema.Parse("s", []byte("name: s\ntopic: s\nevent_time: ts\ncolumns:\n"+
		"  - {name: ts, type: timestamp, format: rfc3339}\n  - {name: x, type: int, optional: true}\n"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Load("t.yaml", []byte("name: t\nsource: s\noutput: out\nwindow: {type: tumbling, size: 1m}\n"+
		"group_by: [x]\naggregate: {n: count()}\nhaving: x == nil\n"), map[string]*schema.Schema{"s": sc})
	if err != nil {
		t.Fatal(err)
	}
	task, c := NewTask([]*Rule{r}), &collect{}
	for _, e := range []map[string]any{{"ts": "2024-01-01T00:00:10Z", "x": 0}, {"ts": "2024-01-01T00:00:20Z"}} {
		raw, rec, err := r.TestEvent(e)
		if err != nil {
			t.Fatal(err)
		}
		task.Process(rec, r.Codec.EventTime(rec), raw, nil, c)
	}
	task.Flush(c)
	want := []string{` {"x":null,"n":1,"window_start":"2024-01-01T00:00:00Z","window_end":"2024-01-01T00:01:00Z"}`}
	if !slices.Equal(c.rows, want) || len(c.late) != 0 {
		t.Errorf("rows %q (errors %q), want %q", c.rows, c.late, want)
	}
}

// TestSQLHavingIsNotNull: the SQL twin of `lo != nil` keeps the same rows.
func TestSQLHavingIsNotNull(t *testing.T) {
	r, err := loadSQL(t, `-- output: out
SELECT user_id, MIN(CASE WHEN event_name = 'Purchase' THEN additional_data.price END) AS lo
FROM clickstream
GROUP BY TUMBLE(ROWTIME, INTERVAL '1' MINUTE), user_id
HAVING lo IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	got := feed(t, r, []in{{"00:10", "u1", "Purchase", 5}, {"00:20", "u2", "Search", 1}}, true)
	want := []string{`u1 {"user_id":"u1","lo":5,"window_start":"2024-01-01T00:00:00Z","window_end":"2024-01-01T00:01:00Z"}`}
	if !slices.Equal(got.rows, want) {
		t.Errorf("rows %q, want %q", got.rows, want)
	}
}

// TestHoppingLateReasonNamesTheLastWindow: a late event's reason names the
// window of the event that closed last (its closing made the event late),
// whether the rule's windows are built from panes, kept per window (with
// emit_every) or judged before forwarding to the owner of the group.
func TestHoppingLateReasonNamesTheLastWindow(t *testing.T) {
	const want = "late: window [2024-01-01T00:00:00Z, 2024-01-01T00:02:00Z) already closed at watermark 2024-01-01T00:02:05Z (allowed lateness 0s)"
	events := []in{{"02:05", "a", "Search", 0}, {"00:59", "a", "Search", 0}} // 00:59 is in [23:59, 00:01) and [00:00, 00:02)
	for _, c := range []struct {
		name, rule string
		forward    bool
	}{
		{"panes", "window: {type: hopping, size: 2m, every: 1m}\naggregate: {n: count()}\n", false},
		{"per window", "window: {type: hopping, size: 2m, every: 1m, emit_every: 1s}\naggregate: {n: count()}\n", false},
		{"forwarded", "window: {type: hopping, size: 2m, every: 1m, emit_every: 1s}\naggregate: {n: count()}\n", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := mustRule(t, c.rule)
			task, s := NewTask([]*Rule{r}), &fwdCollect{}
			if c.forward {
				task.Repartition()
			}
			for _, e := range events {
				raw, rec, _ := r.TestEvent(e.event())
				task.Process(rec, r.Codec.EventTime(rec), raw, nil, s)
			}
			if !slices.Equal(s.late, []string{want}) {
				t.Errorf("late %q, want %q", s.late, want)
			}
		})
	}
}
