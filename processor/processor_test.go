package processor

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestFilterAndTumblingWindowTopicToTopic(t *testing.T) {
	const parts = 3
	b := startBroker(t, parts, "clickstream")
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	evs := genEvents(1, parts, 400, start, 500*time.Millisecond) // 200 s per partition
	recs := eventRecords(evs)
	// A last event per partition, an hour later, closes every window.
	for p := int32(0); p < parts; p++ {
		closer := genEvents(uint64(p)+9, 1, 1, start.Add(time.Hour), time.Second)[0]
		closer.part = p
		evs = append(evs, closer)
		recs = append(recs, eventRecords([]event{closer})...)
	}
	// Bad input: not JSON, and JSON that breaks the schema.
	recs = append(recs, &kgo.Record{Partition: 0, Value: []byte(`{"timestamp": `)},
		&kgo.Record{Partition: 1, Value: []byte(`{"timestamp": "2024-01-01 00:00:01", "user_id": "u", "pixel_id": "p", "click_id": "c", "insertion_timestamp": "2024-01-01 00:00:01", "event_name": "Teleport", "user_ip": "x"}`)})
	produce(t, b, "clickstream", recs...)

	reg := prometheus.NewRegistry()
	stats := &Stats{}
	cfg := Config{Kafka: kafkaCfg(b), RulesDir: writeRules(t, "high_intent_views", "events_per_minute"),
		Group: "g1", InstanceID: "t", Log: testLog(t), Reg: reg, Stats: stats, NoWatch: true}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	quiet := settled(stats, int64(len(recs)))
	waitFor(t, 60*time.Second, "all records consumed", func() bool {
		select {
		case err := <-done:
			t.Fatalf("Run returned early: %v", err)
		default:
		}
		return quiet()
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := stats.Consumed(); got != int64(len(recs)) {
		t.Fatalf("consumed %d, want %d", got, len(recs))
	}

	// Filter: exactly the matching events, byte for byte.
	want := map[string]bool{}
	perMinute := map[string]int{}
	for _, e := range evs {
		if e.name == "ViewContent" && e.pct > 60 {
			want[string(e.raw)] = true
		}
		if e.ts.Before(start.Add(time.Hour)) {
			perMinute[e.ts.Truncate(time.Minute).Format(time.RFC3339)+" "+e.name]++
		}
	}
	got := readCommitted(t, b, "clickstream.high_intent_views")
	if len(got) != len(want) || len(want) == 0 {
		t.Fatalf("high_intent_views: %d records, want %d", len(got), len(want))
	}
	for _, r := range got {
		if !want[string(r.Value)] {
			t.Fatalf("unexpected output %s", r.Value)
		}
	}
	if n := stats.Produced("clickstream.high_intent_views"); n != int64(len(want)) {
		t.Errorf("Produced = %d, want %d", n, len(want))
	}
	if n := stats.Matched("high_intent_views"); n != int64(len(want)) {
		t.Errorf("Matched = %d, want %d", n, len(want))
	}

	// Window: one row per minute and kind over all partitions, with the true count.
	sum := map[string]int{}
	for _, r := range readCommitted(t, b, "clickstream.events_per_minute") {
		var row struct {
			EventName   string    `json:"event_name"`
			Events      int       `json:"events"`
			WindowStart time.Time `json:"window_start"`
			WindowEnd   time.Time `json:"window_end"`
		}
		if err := json.Unmarshal(r.Value, &row); err != nil {
			t.Fatal(err)
		}
		if row.WindowEnd.Sub(row.WindowStart) != time.Minute || string(r.Key) != row.EventName {
			t.Fatalf("bad row %s key %s", r.Value, r.Key)
		}
		k := row.WindowStart.Format(time.RFC3339) + " " + row.EventName
		if _, dup := sum[k]; dup {
			t.Fatalf("two rows for %s", k)
		}
		sum[k] = row.Events
	}
	if len(sum) != len(perMinute) {
		t.Fatalf("%d window groups, want %d", len(sum), len(perMinute))
	}
	// Each partition's closed windows reached the combiners in batches:
	// one entry per partition, minute and kind.
	partials := map[string]bool{}
	for _, e := range evs {
		if e.ts.Before(start.Add(time.Hour)) {
			partials[fmt.Sprint(e.part, e.ts.Truncate(time.Minute), e.name)] = true
		}
	}
	if recs, entries := batchEntries(t, b, "g1.events_per_minute.partials", partialBatchRecord); entries != len(partials) || recs*4 > entries {
		t.Errorf("partials: %d entries in %d records, want %d entries in a quarter as many records or fewer", entries, recs, len(partials))
	}
	for k, n := range perMinute {
		if sum[k] != n {
			t.Errorf("%s: %d, want %d", k, sum[k], n)
		}
	}

	// Bad input lands in the dead-letter topic with the reason and origin.
	dl := readCommitted(t, b, "sluice.dead-letter")
	if len(dl) != 2 {
		t.Fatalf("dead letters: %d, want 2", len(dl))
	}
	for _, r := range dl {
		if header(r, "error") == "" || header(r, "source_topic") != "clickstream" || header(r, "source_offset") == "" {
			t.Errorf("dead letter without headers: %v", r.Headers)
		}
	}
	if !strings.Contains(header(dl[0], "error")+header(dl[1], "error"), "Teleport") {
		t.Errorf("schema error not named: %q / %q", header(dl[0], "error"), header(dl[1], "error"))
	}
	if v := gathered(t, reg, "sluice_process_dead_lettered_total"); v != 2 {
		t.Errorf("dead_lettered metric %v", v)
	}
}
