package rule

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// calls records what the rules sent a sink, per rule, each call with the
// event it was about.
type calls struct {
	at    int
	got   map[string][]string
	kinds map[string]int
}

func newCalls() *calls { return &calls{got: map[string][]string{}, kinds: map[string]int{}} }

func (c *calls) add(r *Rule, kind, what string) {
	c.got[r.Name] = append(c.got[r.Name], fmt.Sprintf("event %d: %s %s", c.at, kind, what))
	c.kinds[kind]++
}
func (c *calls) Output(r *Rule, k, v []byte) { c.add(r, "output", string(k)+" "+string(v)) }
func (c *calls) Late(r *Rule, reason string) { c.add(r, "late", reason) }
func (c *calls) Error(r *Rule, err error)    { c.add(r, "error", err.Error()) }

// batchCalls is calls as a BatchSink: the chunk's i-th event is base+i.
type batchCalls struct {
	*calls
	base int
}

func (b *batchCalls) At(i int) { b.at = b.base + i }

// TestProcessBatchMatchesProcess: rule by rule over a chunk, each rule
// sends what it sends event by event, in the same order, each call about
// the same event; chunks of any size.
func TestProcessBatchMatchesProcess(t *testing.T) {
	var rules []*Rule
	for i, body := range []string{
		"where: event_name == \"Purchase\" && additional_data.price > 40\nkey: user_id\n",
		"where: split(user_id, \"-\")[1] == \"7\"\n", // an error on users without a "-"
		"window: {type: tumbling, size: 1m}\ngroup_by: [event_name]\naggregate: {n: count(), s: sum(additional_data.price)}\n",
		"where: event_name != \"Search\"\nwindow: {type: session, gap: 2m}\ngroup_by: [user_id]\naggregate: {n: count(), hi: max(additional_data.price)}\n",
		"window: {type: hopping, size: 3m, every: 1m, allowed_lateness: 10s}\ngroup_by: [user_id]\naggregate: {n: count()}\n",
	} {
		r, err := Load("t.yaml", []byte(fmt.Sprintf("name: r%d\nsource: clickstream\noutput: out%d\n%s", i, i, body)), builtins(t))
		if err != nil {
			t.Fatal(err)
		}
		rules = append(rules, r)
	}
	// Event times mostly advance, some go back (late events).
	rng := rand.New(rand.NewPCG(3, 4))
	var evs []Event
	at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 2000; i++ {
		at = at.Add(time.Duration(rng.IntN(3000)) * time.Millisecond)
		ts := at
		if rng.IntN(20) == 0 {
			ts = at.Add(-time.Duration(rng.IntN(240)) * time.Second)
		}
		user := fmt.Sprint("u", rng.IntN(30))
		if rng.IntN(2) == 0 {
			user += fmt.Sprint("-", rng.IntN(10))
		}
		raw, rec, err := rules[0].TestEvent(map[string]any{"timestamp": ts.Format("2006-01-02 15:04:05.000"), "user_id": user,
			"event_name": eventNamesForTest[rng.IntN(len(eventNamesForTest))], "additional_data": map[string]any{"price": rng.Float64() * 100}})
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, Event{Rec: rec, Time: rules[0].Codec.EventTime(rec), Raw: raw})
	}

	want := newCalls()
	task := NewTask(rules)
	for i, e := range evs {
		want.at = i
		task.Process(e.Rec, e.Time, e.Raw, e.Key, want)
		if i%100 == 99 {
			task.Advance(want, time.Time{})
		}
	}
	if want.kinds["output"] < 100 || want.kinds["late"] < 10 || want.kinds["error"] < 10 {
		t.Fatalf("the input makes too few of some kind of call for the test to check it: %v", want.kinds)
	}
	for _, size := range []int{1, 7, 100, 512} {
		got := newCalls()
		task := NewTask(rules)
		s := &batchCalls{calls: got}
		// Advance where the event-by-event run did: chunks end on the
		// hundreds.
		for i := 0; i < len(evs); {
			n := min(size, len(evs)-i, 100-i%100)
			s.base = i
			task.ProcessBatch(evs[i:i+n], s)
			i += n
			if i%100 == 0 {
				s.at = i - 1
				task.Advance(s, time.Time{})
			}
		}
		for _, r := range rules {
			g, w := got.got[r.Name], want.got[r.Name]
			if i := firstUnequal(g, w); i >= 0 {
				t.Errorf("chunks of %d: rule %s sent %d calls, event by event %d; call %d:\n  got:  %q\n  want: %q",
					size, r.Name, len(g), len(w), i, g[i:min(i+1, len(g))], w[i:min(i+1, len(w))])
			}
		}
	}
}

// firstUnequal is the first index where a and b differ, -1 if they are
// equal.
func firstUnequal(a, b []string) int {
	for i := range max(len(a), len(b)) {
		if i >= len(a) || i >= len(b) || a[i] != b[i] {
			return i
		}
	}
	return -1
}
