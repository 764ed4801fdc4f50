package processor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestHotReload(t *testing.T) {
	b := startBroker(t, 2, "clickstream")
	dir := writeRules(t, "high_intent_views")
	file := filepath.Join(dir, "high_intent_views.yaml")
	orig, _ := os.ReadFile(file)
	// saveByRename writes like an editor: a temporary file renamed over the rule.
	saveByRename := func(data string) {
		tmp := filepath.Join(dir, ".high_intent_views.yaml.swp")
		if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, file); err != nil {
			t.Fatal(err)
		}
	}
	reg := prometheus.NewRegistry()
	stats := &Stats{}
	cfg := Config{Kafka: kafkaCfg(b), RulesDir: dir, Group: "g", InstanceID: "r", Reg: reg, Stats: stats, Log: testLog(t), IdleTimeout: -1}
	stop := startRun(t, cfg)

	sent := 0
	// send produces ViewContent events at 70% and 95% for user u.
	send := func(user string) {
		evs := genEvents(uint64(sent), 1, 2, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Second)
		for i, pct := range []string{"70", "95"} {
			evs[i].raw = []byte(strings.NewReplacer(`"event_name": "`+evs[i].name+`"`, `"event_name": "ViewContent"`,
				`"user_id": "`+evs[i].user+`"`, `"user_id": "`+user+`"`).Replace(string(evs[i].raw)))
			evs[i].raw = []byte(replacePct(string(evs[i].raw), pct))
			evs[i].user = user
		}
		produce(t, b, "clickstream", eventRecords(evs)...)
		sent += 2
	}
	// passed waits until everything sent is consumed and returns how many
	// events the rule passed since before.
	passed := func(before int64) int {
		waitFor(t, 30*time.Second, "batch consumed", func() bool { return stats.Consumed() >= int64(sent) })
		return int(stats.Produced("clickstream.high_intent_views") - before)
	}
	// batch sends events for user u and returns how many the rule passed.
	batch := func(user string) int {
		before := stats.Produced("clickstream.high_intent_views")
		send(user)
		return passed(before)
	}
	reloads := func(result string) float64 {
		return testutil.ToFloat64(mustGet(t, reg, "sluice_process_rules_reloads_total", result))
	}

	if n := batch("a"); n != 2 {
		t.Fatalf("original rule passed %d of 2", n)
	}
	saveByRename(strings.Replace(string(orig), "percent_viewed > 60", "percent_viewed > 90", 1))
	waitFor(t, 10*time.Second, "reload", func() bool { return reloads("ok") >= 1 })
	if n := batch("b"); n != 1 {
		t.Fatalf("edited rule passed %d of 2, want 1", n)
	}
	saveByRename(strings.Replace(string(orig), "percent_viewed > 60", "percent_viewd > 10", 1))
	waitFor(t, 10*time.Second, "failed reload", func() bool { return reloads("error") >= 1 })
	if v := testutil.ToFloat64(mustGet(t, reg, "sluice_process_rules_reload_failed", "")); v != 1 {
		t.Fatalf("reload_failed gauge %v", v)
	}
	if n := batch("c"); n != 1 {
		t.Fatalf("after an invalid edit the previous rule passed %d of 2, want 1", n)
	}
	if err := os.Remove(file); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "reload after delete", func() bool { return reloads("ok") >= 2 })
	// No rule reads clickstream now: the worker stops consuming it, and the
	// events wait for a rule that reads it again, from the committed offsets.
	before, consumed := stats.Produced("clickstream.high_intent_views"), stats.Consumed()
	send("d")
	time.Sleep(time.Second)
	if n := stats.Consumed() - consumed; n != 0 {
		t.Fatalf("with its only rule deleted, the worker still consumed %d events", n)
	}
	saveByRename(string(orig))
	waitFor(t, 10*time.Second, "reload after the rule is back", func() bool { return reloads("ok") >= 3 })
	if n := passed(before); n != 2 {
		t.Fatalf("the rule put back passed %d of the 2 events sent while it was away, want 2", n)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

func replacePct(raw, pct string) string {
	i := strings.Index(raw, `"percent_viewed": `)
	j := i + len(`"percent_viewed": `)
	k := j + strings.IndexByte(raw[j:], ',')
	return raw[:j] + pct + raw[k:]
}

// mustGet returns the series of a metric family with the given first label
// value ("" for an unlabelled metric).
func mustGet(t *testing.T, reg *prometheus.Registry, name, label string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "x"})
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label == "" || (len(m.GetLabel()) > 0 && m.GetLabel()[0].GetValue() == label) {
				g.Set(m.GetCounter().GetValue() + m.GetGauge().GetValue())
			}
		}
	}
	return g
}
