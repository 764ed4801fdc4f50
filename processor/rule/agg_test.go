package rule

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// amounts draws prices and refunds of mixed magnitudes, few of them exact
// in binary: their naive float sums depend on the order of addition.
func amounts(rng *rand.Rand) float64 {
	x := float64(rng.IntN(1_000_000)) / math.Pow(10, float64(rng.IntN(7)))
	if rng.IntN(5) == 0 {
		return -x
	}
	return x
}

type sumRow struct {
	Name string  `json:"event_name"`
	N    int     `json:"n"`
	S    float64 `json:"s"`
	A    float64 `json:"a"`
}

func sumRows(t *testing.T, rows []string) map[string]sumRow {
	t.Helper()
	out := map[string]sumRow{}
	for _, row := range rows {
		var r sumRow
		if err := json.Unmarshal([]byte(row[strings.IndexByte(row, ' ')+1:]), &r); err != nil {
			t.Fatal(err)
		}
		out[r.Name] = r
	}
	return out
}

// TestFloatSumsDoNotDependOnOrder: sum and avg of the same events in any
// order are the same, to the bit, and are the exact sum correctly rounded.
func TestFloatSumsDoNotDependOnOrder(t *testing.T) {
	r := mustRule(t, "window: {type: tumbling, size: 1h}\ngroup_by: [event_name]\naggregate: {n: count(), s: sum(additional_data.price), a: avg(additional_data.price)}\n")
	rng := rand.New(rand.NewPCG(5, 8))
	names := []string{"Search", "Purchase"}
	var evs []in
	prices := map[string][]float64{}
	for i := 0; i < 400; i++ {
		e := in{at: fmt.Sprintf("%02d:%02d", rng.IntN(60), rng.IntN(60)), user: "u", name: names[rng.IntN(2)], price: amounts(rng)}
		evs = append(evs, e)
		prices[e.name] = append(prices[e.name], e.price)
	}
	want := feed(t, r, evs, true).rows
	got := sumRows(t, want)
	for _, name := range names {
		exact := bigSum(prices[name])
		if g := got[name]; g.S != exact || g.A != exact/float64(len(prices[name])) || g.N != len(prices[name]) {
			t.Errorf("%s: sum %v avg %v n %d, want %v, %v, %d", name, g.S, g.A, g.N, exact, exact/float64(len(prices[name])), len(prices[name]))
		}
	}
	for round := 0; round < 5; round++ {
		rng.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
		if rows := feed(t, r, evs, true).rows; !slices.Equal(rows, want) {
			t.Fatalf("shuffled:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
		}
	}
}

// TestCombinedFloatSumsMatchOnePass: hopping windows computed per
// partition and combined from partials in any order give one pass's rows.
func TestCombinedFloatSumsMatchOnePass(t *testing.T) {
	r := mustRule(t, "window: {type: hopping, size: 3m, every: 1m}\ngroup_by: [event_name]\naggregate: {n: count(), s: sum(additional_data.price), a: avg(additional_data.price)}\n")
	rng := rand.New(rand.NewPCG(13, 21))
	names := []string{"Search", "Purchase"}
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var all []in
	parts := make([][]in, 4)
	for i := 0; i < 600; i++ {
		e := in{at: start.Add(time.Duration(i) * time.Second).Format("15:04:05"), user: "u", name: names[rng.IntN(2)], price: amounts(rng)}
		p := rng.IntN(len(parts))
		parts[p] = append(parts[p], e)
		all = append(all, e)
	}
	want := feed(t, r, all, true).rows
	partials, _ := partialsOf(t, r, parts)
	for round := 0; round < 3; round++ {
		rows := combineShuffled(t, r, partials, len(parts), rng)
		if !slices.Equal(rows, want) {
			t.Fatalf("round %d:\ncombined %s\nwant     %s", round, strings.Join(rows, "\n         "), strings.Join(want, "\n         "))
		}
	}
}

// TestSessionFloatSumsAcrossRestore: sessions that events join together,
// with the state written to the changelog and restored half way, sum
// exactly.
func TestSessionFloatSumsAcrossRestore(t *testing.T) {
	r := mustRule(t, "window: {type: session, gap: 2m, allowed_lateness: 1h}\ngroup_by: [user_id]\naggregate: {n: count(), s: sum(additional_data.price)}\n")
	rng := rand.New(rand.NewPCG(34, 55))
	// Events 3 minutes apart (separate sessions), then the ones between
	// them, in random order, join them into one.
	var first, rest []in
	var prices []float64
	for i := 0; i < 40; i++ {
		at := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * 90 * time.Second).Format("15:04:05")
		e := in{at: at, user: "u", name: "Search", price: amounts(rng)}
		if i%2 == 0 {
			first = append(first, e)
		} else {
			rest = append(rest, e)
		}
		prices = append(prices, e.price)
	}
	rng.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
	c := &collect{}
	run := func(task *Task, evs []in) { process(t, task, r, evs, c) }
	task := NewTask([]*Rule{r})
	task.TrackChanges()
	run(task, first)
	live := map[string][]byte{}
	task.Windows[0].Changes(func(k, v []byte) { live[string(k)] = bytes.Clone(v) }, func(k []byte) { delete(live, string(k)) })
	again := NewTask([]*Rule{r})
	for k, v := range live {
		if err := again.Windows[0].Restore(k, v); err != nil {
			t.Fatal(err)
		}
	}
	run(again, rest)
	again.Flush(c)
	if len(c.rows) != 1 {
		t.Fatalf("want one session, got %s", strings.Join(c.rows, "\n"))
	}
	var row struct {
		N int     `json:"n"`
		S float64 `json:"s"`
	}
	if err := json.Unmarshal([]byte(c.rows[0][strings.IndexByte(c.rows[0], ' ')+1:]), &row); err != nil {
		t.Fatal(err)
	}
	if want := bigSum(prices); row.N != len(prices) || row.S != want {
		t.Errorf("n %d, sum %v; want %d, %v", row.N, row.S, len(prices), want)
	}
}

// TestOldStateFormatIsNotRead: an entry written before float sums were
// exact (version 1: the sum as one float64) is rejected, not misread.
func TestOldStateFormatIsNotRead(t *testing.T) {
	spec := "window: {type: tumbling, size: 1m}\ngroup_by: [event_name]\naggregate: {s: sum(additional_data.price)}\n"
	r := mustRule(t, spec)
	w := NewTask([]*Rule{r}).Windows[0]
	v1 := []byte{1}
	v1 = binary.AppendVarint(v1, 0)
	v1 = binary.AppendVarint(v1, int64(time.Minute))
	v1 = append(append(v1, 1, 6), "Search"...)
	v1 = binary.AppendVarint(v1, 3) // n
	v1 = binary.AppendVarint(v1, 0) // sumI
	v1 = binary.LittleEndian.AppendUint64(v1, math.Float64bits(0.3))
	v1 = append(v1, 0) // flags
	if _, err := w.decodeBucket(v1); err == nil {
		t.Error("a version 1 entry was read")
	}
	v2 := slices.Clone(v1)
	v2[0] = stateVersion
	if _, err := w.decodeBucket(v2); err == nil {
		t.Error("a version 1 body was read as the current version")
	}
}

func TestBucketStateRoundTrip(t *testing.T) {
	r := mustRule(t, "window: {type: tumbling, size: 1m}\ngroup_by: [event_name]\naggregate: {n: count(), s: sum(additional_data.price), a: avg(additional_data.price), i: sum(1), lo: min(additional_data.price), d: count_distinct(user_id)}\n")
	w := NewTask([]*Rule{r}).Windows[0]
	rng := rand.New(rand.NewPCG(1, 4))
	for trial := 0; trial < 50; trial++ {
		b := &bucket{start: 0, end: int64(time.Minute), group: []value{{kind: kindOf(r.groups[0].typ), s: "Search"}}, gkey: "Search", aggs: make([]aggState, len(r.aggs))}
		gen := fsumGens["whole range"]
		if trial%2 == 0 {
			gen = amounts
		}
		for k := rng.IntN(50); k > 0; k-- {
			x := gen(rng)
			for i := range r.aggs {
				v := value{kind: kindOf(r.aggs[i].typ)}
				if r.aggs[i].arg != nil {
					v.kind = kindOf(r.aggs[i].arg.typ)
				}
				switch v.kind {
				case kFloat:
					v = floatVal(x)
				case kInt:
					v.i = int64(k)
				default:
					v.s = fmt.Sprint("u", k%7)
				}
				r.aggs[i].update(&b.aggs[i], v, 10)
			}
		}
		d, err := w.decodeBucket(w.encodeBucket(b))
		if err != nil {
			t.Fatal(err)
		}
		for i := range r.aggs {
			got, want := r.aggs[i].result(&d.aggs[i]), r.aggs[i].result(&b.aggs[i])
			eq := got.i == want.i
			if got.kind == kFloat {
				eq = same(got.float(), want.float())
			}
			if got.kind != want.kind || got.null != want.null || !eq {
				t.Fatalf("%s: decoded %+v, want %+v", r.aggs[i].name, got, want)
			}
		}
	}
}

// FuzzDecodeBucket: arbitrary bytes never make the state decoder panic.
func FuzzDecodeBucket(f *testing.F) {
	r := mustRule(f, "window: {type: tumbling, size: 1m}\ngroup_by: [event_name]\naggregate: {n: count(), s: sum(additional_data.price), lo: min(additional_data.price), d: count_distinct(user_id)}\n")
	w := NewTask([]*Rule{r}).Windows[0]
	rng := rand.New(rand.NewPCG(1, 5))
	for trial := 0; trial < 4; trial++ {
		b := &bucket{start: 60, end: 120, group: []value{{kind: kindOf(r.groups[0].typ), s: "Purchase"}}, gkey: "Purchase", aggs: make([]aggState, len(r.aggs))}
		for k := trial * 3; k > 0; k-- {
			x := amounts(rng)
			for i := range r.aggs {
				v := floatVal(x)
				v.kind, v.s = kindOf(r.aggs[i].typ), fmt.Sprint(k)
				r.aggs[i].update(&b.aggs[i], v, 10)
			}
		}
		f.Add(w.encodeBucket(b))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := w.decodeBucket(data)
		if err != nil {
			return
		}
		for i := range r.aggs {
			_ = r.aggs[i].result(&b.aggs[i])
		}
		if _, err := w.decodeBucket(w.encodeBucket(b)); err != nil {
			t.Fatalf("re-encoded bucket does not decode: %v", err)
		}
	})
}
