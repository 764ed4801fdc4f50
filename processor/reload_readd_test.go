package processor

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/broker"
)

// perUserRule counts each user's events per hour; its state lives with the
// source partitions (it groups by the record key).
const perUserRule = "name: per_user\nsource: clickstream\noutput: clickstream.per_user\n" +
	"window: {type: tumbling, size: 1h}\ngroup_by: [user_id]\naggregate: {n: count()}\n"

// perUserCounts sums perUserRule's committed counts per user (a user's
// events may be in either partition of these tests' input).
func perUserCounts(t *testing.T, b *broker.Broker) map[string]int {
	t.Helper()
	got := map[string]int{}
	for _, r := range readCommitted(t, b, "clickstream.per_user") {
		var row struct {
			User string `json:"user_id"`
			N    int    `json:"n"`
		}
		if err := json.Unmarshal(r.Value, &row); err != nil {
			t.Fatal(err)
		}
		got[row.User] += row.N
	}
	return got
}

// closeAfterRestart runs a new worker of cfg's group, which restores the
// state, gives it closer (events that close the windows) and stops it once
// the results have settled.
func closeAfterRestart(t *testing.T, b *broker.Broker, cfg Config, closer []event) {
	t.Helper()
	cfg.Reg, cfg.Stats = prometheus.NewRegistry(), &Stats{}
	stop := startRun(t, cfg)
	produce(t, b, "clickstream", eventRecords(closer)...)
	waitFor(t, 30*time.Second, "the window closed", settled(cfg.Stats, int64(len(closer))))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// TestReAddedWindowRuleStartsAfresh removes a per-user window rule and puts
// it back while its window is open: the rule starts with no windows, and a
// worker that restores its state after a restart agrees, because removing
// the rule tombstoned its changelog entries (they used to stay live, and a
// restore brought the removed rule's windows back).
func TestReAddedWindowRuleStartsAfresh(t *testing.T) {
	b := startBroker(t, 2, "clickstream")
	dir := writeRules(t, "high_intent_views") // keeps the source read while the window rule is away
	file := filepath.Join(dir, "per_user.yaml")
	save := func(s string) {
		if err := os.WriteFile(file+".tmp~", []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(file+".tmp~", file); err != nil {
			t.Fatal(err)
		}
	}
	save(perUserRule)
	reg, stats := prometheus.NewRegistry(), &Stats{}
	cfg := Config{Kafka: kafkaCfg(b), RulesDir: dir, Group: "g", InstanceID: "w", Reg: reg, Stats: stats, IdleTimeout: -1, Log: testLog(t)}
	stop := startRun(t, cfg)
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	feed := feeder(t, b, stats)
	feed(genEvents(1, 2, 100, start, time.Second)) // the window [00:00, 01:00) of most users opens

	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "reload", func() bool { return reloadsOK(t, reg) >= 1 })
	feed(genEvents(2, 2, 10, start.Add(10*time.Minute), time.Second)) // a transaction after the removal
	save(perUserRule)
	waitFor(t, 10*time.Second, "second reload", func() bool { return reloadsOK(t, reg) >= 2 })
	second := genEvents(3, 2, 10, start.Add(20*time.Minute), time.Second)
	feed(second)
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	// A new worker restores the state, then an event two hours on closes
	// the window.
	closeAfterRestart(t, b, cfg, genEvents(4, 2, 1, start.Add(2*time.Hour), time.Second))
	want := map[string]int{}
	for _, e := range second {
		want[e.user]++
	}
	got := perUserCounts(t, b)
	if !maps.Equal(got, want) {
		t.Errorf("counts per user after the re-add and a restart:\n got %v\nwant %v (the events since the re-add)", got, want)
	}
}

// TestReAddedCombiningRuleStartsAfresh does the same for a rule whose
// windows close through partials and a combiner: partition 0 has sent its
// part of the window [00:00, 00:01) when the rule is removed, partition 1
// has not. Put back, the rule's window holds only what came after, even
// through a restart: the combiner's state was deleted with the rule (it
// used to come back with the rule, restart or not).
func TestReAddedCombiningRuleStartsAfresh(t *testing.T) {
	b := startBroker(t, 2, "clickstream")
	dir := writeRules(t, "high_intent_views", "events_per_minute")
	file := filepath.Join(dir, "events_per_minute.yaml")
	rule, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	reg, stats := prometheus.NewRegistry(), &Stats{}
	cfg := Config{Kafka: kafkaCfg(b), RulesDir: dir, Group: "g", InstanceID: "w", Reg: reg, Stats: stats, IdleTimeout: -1, Log: testLog(t)}
	stop := startRun(t, cfg)
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	on := func(part int32, evs []event) []event {
		for i := range evs {
			evs[i].part = part
		}
		return evs
	}
	feed := feeder(t, b, stats)
	feed(append(append(on(0, genEvents(1, 1, 20, start, time.Second)), on(0, genEvents(2, 1, 1, start.Add(2*time.Minute), time.Second))...),
		on(1, genEvents(3, 1, 20, start, time.Second))...))
	g := newGroupView(t, b, "g")
	waitFor(t, 30*time.Second, "partition 0's partial combined", func() bool { return len(g.committed("g.events_per_minute.partials")) > 0 })

	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "reload", func() bool { return reloadsOK(t, reg) >= 1 })
	if err := os.WriteFile(file, rule, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "second reload", func() bool { return reloadsOK(t, reg) >= 2 })
	after := on(1, genEvents(4, 1, 10, start.Add(30*time.Second), time.Second))
	feed(append(after, on(0, genEvents(5, 1, 1, start.Add(3*time.Minute), time.Second))...))
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	closeAfterRestart(t, b, cfg, on(1, genEvents(6, 1, 1, start.Add(5*time.Minute), time.Second)))
	want := map[string]int{}
	for _, e := range after {
		want[e.name]++
	}
	got := map[string]int{}
	for _, r := range readCommitted(t, b, "clickstream.events_per_minute") {
		var row struct {
			Name   string `json:"event_name"`
			N      int    `json:"events"`
			Window string `json:"window_start"`
		}
		if err := json.Unmarshal(r.Value, &row); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(row.Window, "2024-01-01T00:00:00") {
			got[row.Name] += row.N
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("window [00:00, 00:01) after the re-add and a restart:\n got %v\nwant %v (the events since the re-add)", got, want)
	}
}

// TestRuleDeletedWhileStoppedResumesWhenAddedBack deletes a per-user window
// rule while no worker runs, so nothing deletes its state, and adds it back
// to a running worker: the rule runs with what its changelog holds, the
// windows it had, as a worker restarted then would (it used to start empty
// there, and get the old windows back only after a restart).
func TestRuleDeletedWhileStoppedResumesWhenAddedBack(t *testing.T) {
	b := startBroker(t, 2, "clickstream")
	dir := writeRules(t, "high_intent_views")
	file := filepath.Join(dir, "per_user.yaml")
	if err := os.WriteFile(file, []byte(perUserRule), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg := Config{Kafka: kafkaCfg(b), RulesDir: dir, Group: "g", InstanceID: "w", IdleTimeout: -1, Log: testLog(t)}
	run := func() (stop func() error, reg *prometheus.Registry, stats *Stats) {
		cfg.Reg, cfg.Stats = prometheus.NewRegistry(), &Stats{}
		return startRun(t, cfg), cfg.Reg.(*prometheus.Registry), cfg.Stats
	}
	stop, _, stats := run()
	first := genEvents(1, 2, 50, start, time.Second)
	produce(t, b, "clickstream", eventRecords(first)...)
	waitFor(t, 30*time.Second, "first events", func() bool { return stats.Consumed() >= int64(len(first)) })
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	stop, reg, stats := run()
	mid := genEvents(2, 2, 5, start.Add(10*time.Minute), time.Second)
	produce(t, b, "clickstream", eventRecords(mid)...)
	waitFor(t, 30*time.Second, "events while the rule is away", func() bool { return stats.Consumed() >= int64(len(mid)) })
	if err := os.WriteFile(file, []byte(perUserRule), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "reload", func() bool { return reloadsOK(t, reg) >= 1 })
	second := genEvents(3, 2, 10, start.Add(20*time.Minute), time.Second)
	closer := genEvents(4, 2, 1, start.Add(2*time.Hour), time.Second)
	produce(t, b, "clickstream", eventRecords(append(second, closer...))...)
	waitFor(t, 30*time.Second, "the window closed", settled(stats, int64(len(mid)+len(second)+len(closer))))
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	want := map[string]int{}
	for _, e := range append(first, second...) {
		want[e.user]++
	}
	got := perUserCounts(t, b)
	if !maps.Equal(got, want) {
		t.Errorf("counts per user:\n got %v\nwant %v (before the deletion and since the re-add)", got, want)
	}
}
