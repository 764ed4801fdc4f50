package processor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/processor/rule"
)

// productSessions is a session rule grouped by product: the clickstream
// topic is keyed by user, so a product's events are spread over every
// partition.
const productSessions = `name: product_sessions
description: browsing sessions per product, over all partitions
source: clickstream
window: {type: session, gap: 2m, allowed_lateness: 30s}
group_by: [{product: additional_data.product_id}]
aggregate:
  events: count()
  users: count_distinct(user_id)
  first: min(timestamp)
  last: max(timestamp)
  cheapest: min(additional_data.price)
output: clickstream.product_sessions
`

// clickEvent is one clickstream event with the fields these tests vary.
func clickEvent(ts time.Time, user, name string, product int, price float64) []byte {
	t := ts.Format("2006-01-02 15:04:05.000000")
	return fmt.Appendf(nil, `{"timestamp": %q, "user_id": %q, "pixel_id": "px", "click_id": "c", "insertion_timestamp": %q, "event_name": %q, "user_ip": "203.0.113.7", "additional_data": {"time_on_data": 5, "percent_viewed": 50, "product_id": %d, "price": %g}}`,
		t, user, t, name, product, price)
}

// runToQuiet runs one worker over what the topics hold until it has
// consumed n source records and produced nothing for a while.
func runToQuiet(t *testing.T, b *broker.Broker, rules string, n int) {
	t.Helper()
	stats := &Stats{}
	cfg := Config{Kafka: kafkaCfg(b), RulesDir: rules, Group: "g", InstanceID: "one", NoWatch: true,
		IdleTimeout: -1, MaxPollRecords: 200, Log: testLog(t), Stats: stats}
	stop := startRun(t, cfg)
	waitFor(t, 60*time.Second, "the run to settle", settled(stats, int64(n)))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// TestRepartitionedSessionsAreOneStream: a session rule grouped by a field
// that is not the record key, over events whose groups are spread over six
// partitions, emits exactly one row per group and session: the rows of a
// backtest of the same events as one ordered stream. (Per partition, a
// session whose events are in several partitions came out in pieces.)
func TestRepartitionedSessionsAreOneStream(t *testing.T) {
	const parts = 6
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(11, 12))
	type ev struct {
		ts      time.Time
		part    int32
		product int
		raw     []byte
	}
	var evs []ev
	for p := int32(0); p < parts; p++ {
		ts := start
		for i := 0; i < 150; i++ {
			ts = ts.Add(time.Duration(5+rng.IntN(55)) * time.Second)
			product := 100 + rng.IntN(30)
			user := fmt.Sprintf("u%d-%d", p, rng.IntN(20)) // a user's events stay in one partition
			evs = append(evs, ev{ts, p, product, clickEvent(ts, user, eventNames[rng.IntN(4)], product, float64(rng.IntN(4000))/4)})
		}
	}
	// One event per partition, two hours on, closes every session; its
	// own session stays open.
	closeAt := start.Add(2 * time.Hour)
	for p := int32(0); p < parts; p++ {
		evs = append(evs, ev{closeAt, p, 999, clickEvent(closeAt, fmt.Sprintf("u%d-0", p), "Search", 999, 1)})
	}
	var recs []*kgo.Record
	for _, e := range evs {
		recs = append(recs, &kgo.Record{Partition: e.part, Key: []byte("k"), Value: e.raw})
	}
	dir := t.TempDir()
	writeFile(t, dir, "product_sessions.yaml", productSessions)
	sorted := slices.Clone(evs)
	slices.SortStableFunc(sorted, func(a, b ev) int { return a.ts.Compare(b.ts) })
	var raws [][]byte
	for _, e := range sorted {
		raws = append(raws, e.raw)
	}
	want := backtestRows(t, dir, raws, func(_ *rule.Rule, key, _ string) bool { return key != "999" })
	// The test is only worth something when sessions span partitions.
	spread := 0
	for _, row := range want {
		var r struct {
			Product     int       `json:"product"`
			WindowStart time.Time `json:"window_start"`
			Last        time.Time `json:"last"`
		}
		if err := json.Unmarshal([]byte(row[strings.IndexByte(row, ' ')+1:]), &r); err != nil {
			t.Fatal(err)
		}
		in := map[int32]bool{}
		for _, e := range evs {
			if e.product == r.Product && !e.ts.Before(r.WindowStart) && !e.ts.After(r.Last) {
				in[e.part] = true
			}
		}
		if len(in) > 1 {
			spread++
		}
	}
	if spread < 20 {
		t.Fatalf("only %d of %d sessions have events in several partitions", spread, len(want))
	}

	// Batches of forwarded events as they come, and split at every entry.
	for _, limit := range []int{maxBatchBytes, 1} {
		t.Run(fmt.Sprint("batch limit ", limit), func(t *testing.T) {
			defer func(was int) { maxBatchBytes = was }(maxBatchBytes)
			maxBatchBytes = limit
			b := startBroker(t, parts, "clickstream")
			produce(t, b, "clickstream", recs...)
			runToQuiet(t, b, dir, len(recs))
			var got []string
			seen := map[string]bool{}
			for _, r := range readCommitted(t, b, "clickstream.product_sessions") {
				got = append(got, string(r.Key)+" "+string(r.Value))
				var row struct {
					WindowStart string `json:"window_start"`
				}
				if err := json.Unmarshal(r.Value, &row); err != nil {
					t.Fatal(err)
				}
				if k := string(r.Key) + " " + row.WindowStart; seen[k] {
					t.Errorf("two rows for product %s", k)
				} else {
					seen[k] = true
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("%d rows, the backtest has %d (%d sessions span partitions)\n%s", len(got), len(want), spread, firstDiff(got, want))
			}
			// Every event went to its owner once, in batches: a transaction of 200
			// events spread over six partitions sends some 6 entries a record.
			batches, entries := batchEntries(t, b, "g.product_sessions.repartition", forwardBatchRecord)
			if entries != len(evs) || (limit > 1 && batches*3 > entries) || (limit == 1 && batches != entries) {
				t.Errorf("forwarded: %d entries in %d records, want %d entries in a third as many records or fewer (one a record at limit 1)", entries, batches, len(evs))
			}
		})
	}
	t.Logf("%d sessions, %d of them over several partitions", len(want), spread)
}

// backtestRows runs the rules of dir over events (in event-time order) as
// one stream and returns the output rows ("key value", sorted) that keep
// accepts.
func backtestRows(t *testing.T, dir string, events [][]byte, keep func(r *rule.Rule, key, value string) bool) []string {
	t.Helper()
	rules, err := rule.LoadDir(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	var input bytes.Buffer
	for _, e := range events {
		input.Write(e)
		input.WriteByte('\n')
	}
	var rows []string
	res, err := Backtest(rules, "clickstream", &input, func(r *rule.Rule, key, value []byte) error {
		if keep(r, string(key), string(value)) {
			rows = append(rows, string(key)+" "+string(value))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range res.Rules {
		if r.Late != 0 {
			t.Fatalf("the backtest of %s has late events", name)
		}
	}
	slices.Sort(rows)
	return rows
}

// TestRepartitionedEarlyRowsAreGlobal: a tumbling rule with emit_every,
// grouped by a field that is not the record key, emits early rows with the
// group's counts over every partition, and its final row once per window
// and group.
func TestRepartitionedEarlyRowsAreGlobal(t *testing.T) {
	const parts = 6
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(21, 22))
	type key struct{ window, name string }
	total := map[key]int{}
	perPart := map[key]map[int32]int{}
	var recs []*kgo.Record
	for p := int32(0); p < parts; p++ {
		ts := start
		for i := 0; i < 60; i++ {
			ts = ts.Add(time.Duration(1+rng.IntN(5)) * time.Second) // about three minutes
			name := eventNames[rng.IntN(4)]
			k := key{ts.Truncate(time.Minute).Format(time.RFC3339), name}
			total[k]++
			if perPart[k] == nil {
				perPart[k] = map[int32]int{}
			}
			perPart[k][p]++
			recs = append(recs, &kgo.Record{Partition: p, Key: []byte("k"), Value: clickEvent(ts, "u", name, 1, 1)})
		}
	}
	dir := t.TempDir()
	writeFile(t, dir, "early_counts.yaml", `name: early_counts
description: events per minute and kind, with early results
source: clickstream
window: {type: tumbling, size: 1m, allowed_lateness: 1h, emit_every: 100ms}
group_by: [event_name]
aggregate: {events: count()}
output: clickstream.early_counts
`)
	b := startBroker(t, parts, "clickstream")
	produce(t, b, "clickstream", recs...)
	stats := &Stats{}
	cfg := Config{Kafka: kafkaCfg(b), RulesDir: dir, Group: "g", InstanceID: "one", NoWatch: true,
		IdleTimeout: -1, MaxPollRecords: 50, Log: testLog(t), Stats: stats}
	stop := startRun(t, cfg)

	type row struct {
		EventName   string `json:"event_name"`
		Events      int    `json:"events"`
		WindowStart string `json:"window_start"`
		Final       bool   `json:"final"`
	}
	rows := func() (early, final map[key][]int) {
		early, final = map[key][]int{}, map[key][]int{}
		for _, r := range readCommitted(t, b, "clickstream.early_counts") {
			var x row
			if err := json.Unmarshal(r.Value, &x); err != nil {
				t.Fatal(err)
			}
			k := key{x.WindowStart, x.EventName}
			if x.Final {
				final[k] = append(final[k], x.Events)
			} else {
				early[k] = append(early[k], x.Events) // one group's rows are in one partition, in order
			}
		}
		return early, final
	}
	// Before any window closes, the early rows reach every group's count
	// over all partitions: more than any one partition holds.
	waitFor(t, 30*time.Second, "early rows with the global counts", func() bool {
		early, _ := rows()
		for k, n := range total {
			if e := early[k]; len(e) == 0 || e[len(e)-1] != n {
				return false
			}
		}
		return true
	})
	early, final := rows()
	if len(final) != 0 {
		t.Fatalf("final rows before the watermark passed: %v", final)
	}
	wider := 0
	for k, counts := range early {
		most := 0
		for _, n := range perPart[k] {
			most = max(most, n)
		}
		if counts[len(counts)-1] > most {
			wider++
		}
		for i := 1; i < len(counts); i++ {
			if counts[i] < counts[i-1] {
				t.Errorf("%v: early counts go back: %v", k, counts)
			}
		}
	}
	if wider < len(total)/2 {
		t.Fatalf("only %d of %d groups have an early row above one partition's count", wider, len(total))
	}

	// Every partition moves past the windows: one final row each.
	var closers []*kgo.Record
	for p := int32(0); p < parts; p++ {
		closers = append(closers, &kgo.Record{Partition: p, Key: []byte("k"), Value: clickEvent(start.Add(3*time.Hour), "u", "Search", 1, 1)})
	}
	produce(t, b, "clickstream", closers...)
	waitFor(t, 30*time.Second, "final rows", func() bool {
		_, final := rows()
		return len(final) >= len(total)
	})
	waitFor(t, 30*time.Second, "the run to settle", settled(stats, int64(len(recs)+len(closers))))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	_, final = rows()
	for k, n := range total {
		if !slices.Equal(final[k], []int{n}) {
			t.Errorf("%v: final rows %v, want one with %d", k, final[k], n)
		}
	}
	if len(final) != len(total) {
		t.Errorf("%d windows and groups with final rows, want %d", len(final), len(total))
	}
}

// TestIdleSourcesDoNotHoldRepartitionedWindowsOpen: the owner's watermark
// is the lowest of its sources'; a source partition that went quiet, and
// one that never had an event, are moved along by the idle timeout, their
// markers follow, and the owner closes the session.
func TestIdleSourcesDoNotHoldRepartitionedWindowsOpen(t *testing.T) {
	b := startBroker(t, 3, "clickstream")
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	recs := []*kgo.Record{{Partition: 1, Key: []byte("k"), Value: clickEvent(start.Add(29*time.Second), "u", "Purchase", 1, 1)}}
	for i := 1; i <= 300; i++ { // partition 0: 00:01:01 .. 00:06:00; partition 2: nothing
		recs = append(recs, &kgo.Record{Partition: 0, Key: []byte("k"), Value: clickEvent(start.Add(time.Minute+time.Duration(i)*time.Second), "u", "Search", 1, 1)})
	}
	produce(t, b, "clickstream", recs...)
	dir := t.TempDir()
	writeFile(t, dir, "kind_sessions.yaml", `name: kind_sessions
source: clickstream
window: {type: session, gap: 1m}
group_by: [event_name]
aggregate: {events: count()}
output: clickstream.kind_sessions
`)
	cfg := Config{Kafka: kafkaCfg(b), RulesDir: dir, Group: "g", InstanceID: "i",
		NoWatch: true, IdleTimeout: 300 * time.Millisecond, Stats: &Stats{}, Log: testLog(t)}
	stop := startRun(t, cfg)
	want := `{"event_name":"Purchase","events":1,"window_start":"2024-01-01T00:00:29Z","window_end":"2024-01-01T00:01:29Z"}`
	waitFor(t, 20*time.Second, "the quiet partition's session", func() bool {
		for _, r := range readCommitted(t, b, "clickstream.kind_sessions") {
			if string(r.Value) == want {
				return true
			}
		}
		return false
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for _, r := range readCommitted(t, b, "clickstream.kind_sessions") {
		if strings.Contains(string(r.Value), "Search") {
			t.Errorf("the busy partition's open session was emitted: %s", r.Value)
		}
	}
}

// TestReloadAddsChangesAndRemovesARepartitionedRule: a repartitioned rule
// added by a hot reload starts (its topic created and read), a changed
// definition starts afresh and ignores what the earlier one forwarded, and
// a removed one stops.
func TestReloadAddsChangesAndRemovesARepartitionedRule(t *testing.T) {
	const parts = 3
	b := startBroker(t, parts, "clickstream")
	dir := writeRules(t, "high_intent_views")
	reg := prometheus.NewRegistry()
	stats := &Stats{}
	cfg := Config{Kafka: kafkaCfg(b), RulesDir: dir, Group: "g", InstanceID: "r", Reg: reg, Stats: stats, Log: testLog(t), IdleTimeout: -1}
	stop := startRun(t, cfg)
	reloads := func() float64 { return gathered(t, reg, "sluice_process_rules_reloads_total") }
	sessions := func(gap string) string {
		return "name: kind_sessions\nsource: clickstream\nwindow: {type: session, gap: " + gap + "}\ngroup_by: [event_name]\naggregate: {events: count(), users: count_distinct(user_id)}\noutput: clickstream.kind_sessions\n"
	}
	rng := rand.New(rand.NewPCG(31, 32))
	sent := 0
	// batch produces events over every partition from start on, in
	// event-time order per partition, then one closer per partition an
	// hour later; it returns the events in event-time order.
	batch := func(start time.Time) [][]byte {
		var recs []*kgo.Record
		var raws [][]byte
		ts := start
		for i := 0; i < 90; i++ {
			ts = ts.Add(time.Duration(1+rng.IntN(30)) * time.Second)
			raw := clickEvent(ts, fmt.Sprint("u", rng.IntN(9)), eventNames[rng.IntN(4)], 1, 1)
			recs = append(recs, &kgo.Record{Partition: int32(i % parts), Key: []byte("k"), Value: raw})
			raws = append(raws, raw)
		}
		for p := int32(0); p < parts; p++ {
			raw := clickEvent(start.Add(time.Hour), "closer", "Search", 1, 1)
			recs = append(recs, &kgo.Record{Partition: p, Key: []byte("k"), Value: raw})
			raws = append(raws, raw)
		}
		produce(t, b, "clickstream", recs...)
		sent += len(recs)
		waitFor(t, 30*time.Second, "batch consumed", func() bool { return stats.Consumed() >= int64(sent) })
		return raws
	}
	rows := func() []string {
		var out []string
		for _, r := range readCommitted(t, b, "clickstream.kind_sessions") {
			out = append(out, string(r.Key)+" "+string(r.Value))
		}
		slices.Sort(out)
		return out
	}
	// expect waits for the rows of the rule as it is in dir now, over
	// events (the closers' sessions stay open), on top of before.
	expect := func(before []string, events [][]byte, closers time.Time) []string {
		t.Helper()
		want := backtestRows(t, dir, events, func(r *rule.Rule, key, value string) bool {
			return r.Name == "kind_sessions" && !strings.Contains(value, `"window_start":"`+closers.Format(time.RFC3339)+`"`)
		})
		want = append(slices.Clone(before), want...)
		slices.Sort(want)
		waitFor(t, 30*time.Second, "the session rows", func() bool { return len(rows()) >= len(want) })
		time.Sleep(500 * time.Millisecond) // and no more
		if got := rows(); !slices.Equal(got, want) {
			t.Fatalf("%d rows, want %d\n%s", len(got), len(want), firstDiff(got, want))
		}
		return want
	}

	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	// Once a first record is through, the worker is up and watching.
	produce(t, b, "clickstream", &kgo.Record{Partition: 0, Value: clickEvent(start, "u", "Search", 1, 1)})
	sent++
	waitFor(t, 30*time.Second, "the worker to start", func() bool { return stats.Consumed() == 1 })
	writeFile(t, dir, "kind_sessions.yaml", sessions("1m"))
	waitFor(t, 10*time.Second, "reload", func() bool { return reloads() >= 1 })
	got := expect(nil, batch(start), start.Add(time.Hour))

	// A new gap: the state is reset; what the 1m rule forwarded and its
	// open sessions (the closers') are ignored.
	writeFile(t, dir, "kind_sessions.yaml", sessions("3m"))
	waitFor(t, 10*time.Second, "second reload", func() bool { return reloads() >= 2 })
	start = start.Add(2 * time.Hour)
	got = expect(got, batch(start), start.Add(time.Hour))

	if err := os.Remove(filepath.Join(dir, "kind_sessions.yaml")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "third reload", func() bool { return reloads() >= 3 })
	batch(start.Add(2 * time.Hour))
	time.Sleep(time.Second)
	if after := rows(); !slices.Equal(after, got) {
		t.Fatalf("the removed rule still emits: %d rows, had %d", len(after), len(got))
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
