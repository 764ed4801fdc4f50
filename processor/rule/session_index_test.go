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

// TestSessionsMatchAReference runs in-order events of many users through a
// session rule, advancing at random points, and compares the sessions with
// ones cut offline (a new session wherever a user's events are gap or more
// apart).
func TestSessionsMatchAReference(t *testing.T) {
	const gap = 5 * time.Minute
	r := mustRule(t, "window: {type: session, gap: 5m}\ngroup_by: [user_id]\naggregate: {n: count()}\n")
	for seed := uint64(1); seed <= 5; seed++ {
		rng := rand.New(rand.NewPCG(seed, 7))
		task, c := NewTask([]*Rule{r}), &collect{}
		ts := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
		byUser := map[string][]time.Time{}
		type check struct {
			wm      time.Time
			emitted int
		}
		var checks []check
		for i := 0; i < 3000; i++ {
			ts = ts.Add(time.Duration(rng.IntN(20)) * time.Second)
			if rng.IntN(200) == 0 {
				ts = ts.Add(gap * time.Duration(1+rng.IntN(3))) // everybody's sessions end
			}
			u := fmt.Sprintf("u%d", rng.IntN(40))
			byUser[u] = append(byUser[u], ts)
			raw, rec, err := r.TestEvent(map[string]any{"timestamp": ts.Format("2006-01-02 15:04:05"), "user_id": u})
			if err != nil {
				t.Fatal(err)
			}
			task.Process(rec, r.Codec.EventTime(rec), raw, nil, c)
			if rng.IntN(50) == 0 {
				task.Advance(c, time.Time{})
				checks = append(checks, check{ts, len(c.rows)})
			}
		}
		task.Flush(c)
		var want []string
		var ends []time.Time
		for u, times := range byUser {
			start, n := times[0], 0
			for i, at := range times {
				if i > 0 && at.Sub(times[i-1]) >= gap {
					want = append(want, session(u, start, times[i-1].Add(gap), n))
					ends = append(ends, times[i-1].Add(gap))
					start, n = at, 0
				}
				n++
			}
			want = append(want, session(u, start, times[len(times)-1].Add(gap), n))
			ends = append(ends, times[len(times)-1].Add(gap))
		}
		// Each advance emits exactly the sessions that ended by then.
		for _, ch := range checks {
			n := 0
			for _, e := range ends {
				if !e.After(ch.wm) {
					n++
				}
			}
			if ch.emitted != n {
				t.Fatalf("seed %d: at watermark %s %d sessions emitted, want %d", seed, ch.wm, ch.emitted, n)
			}
		}
		var got []string
		for _, row := range c.rows {
			var o struct {
				User  string    `json:"user_id"`
				N     int       `json:"n"`
				Start time.Time `json:"window_start"`
				End   time.Time `json:"window_end"`
			}
			if err := json.Unmarshal([]byte(row[strings.IndexByte(row, '{'):]), &o); err != nil {
				t.Fatal(err)
			}
			got = append(got, session(o.User, o.Start, o.End, o.N))
		}
		slices.Sort(got)
		slices.Sort(want)
		if len(c.late) > 0 || !slices.Equal(got, want) {
			t.Fatalf("seed %d: %d sessions, want %d (late %d); first got %q, first want %q", seed, len(got), len(want), len(c.late), got[:min(3, len(got))], want[:min(3, len(want))])
		}
		if task.Windows[0].Size() != 0 {
			t.Fatalf("seed %d: %d sessions left open after the flush", seed, task.Windows[0].Size())
		}
	}
}

func session(u string, start, end time.Time, n int) string {
	return fmt.Sprintf("%s %s %s %d", u, start.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339), n)
}

// TestEndIndexFilesAnExtendedSessionWhenItsSlotComes extends one session
// for many gaps, closing windows as it goes: it stays filed once (and
// again when its old slot is visited), not once per event that moved its
// end, and closes when the watermark passes its end.
func TestEndIndexFilesAnExtendedSessionWhenItsSlotComes(t *testing.T) {
	const gap = int64(8 * time.Minute)
	x := newEndIndex(gap)
	b := &bucket{start: 0, end: gap}
	x.file(b)
	entries := func() int {
		n := 0
		for _, l := range x.slots {
			n += len(l)
		}
		return n
	}
	for ts := int64(0); ts < 20*gap; ts += gap / 4 {
		b.end = ts + gap
		x.file(b)
		if out := x.expire(ts, nil); len(out) != 0 {
			t.Fatalf("at %v: the session closed before its end %v", time.Duration(ts), time.Duration(b.end))
		}
		if n := entries(); n != 1 {
			t.Fatalf("at %v: %d entries, want the session filed once", time.Duration(ts), n)
		}
		if b.slot > x.slotOf(b.end) {
			t.Fatalf("at %v: filed past its end", time.Duration(ts))
		}
	}
	if out := x.expire(b.end-1, nil); len(out) != 0 {
		t.Fatal("closed before the watermark reached its end")
	}
	if out := x.expire(b.end, nil); len(out) != 1 || out[0] != b || entries() != 0 {
		t.Fatalf("at its end: closed %v, %d entries left; want it closed and unfiled", out, entries())
	}
}
