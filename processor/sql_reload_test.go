package processor

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// A SQL rule file is hot reloaded like a YAML one: a valid edit takes
// effect, an invalid edit is rejected while the previous version keeps
// running, and deleting the file removes the rule.
func TestSQLRuleHotReload(t *testing.T) {
	b := startBroker(t, 1, "clickstream")
	dir := t.TempDir()
	yamlRule, err := os.ReadFile(filepath.Join("..", "rules", "events_per_minute.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "events_per_minute.yaml", string(yamlRule))
	sqlRule := func(threshold string) string {
		return "INSERT INTO \"out.views\"\nSELECT * FROM clickstream\nWHERE event_name = 'ViewContent' AND additional_data.percent_viewed > " + threshold + ";\n"
	}
	writeFile(t, dir, "views.sql", sqlRule("90"))

	reg := prometheus.NewRegistry()
	stats := &Stats{}
	cfg := Config{Kafka: kafkaCfg(b), RulesDir: dir, Group: "g-sql", InstanceID: "t", Log: testLog(t), Reg: reg, Stats: stats}
	stop := startRun(t, cfg)
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()

	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	want, feed := 0, feeder(t, b, stats)
	batch := func(seed uint64, threshold float64) {
		t.Helper()
		evs := genEvents(seed, 1, 300, start, time.Second)
		start = start.Add(10 * time.Minute)
		for _, e := range evs {
			if threshold > 0 && e.name == "ViewContent" && e.pct > threshold {
				want++
			}
		}
		feed(evs)
		waitFor(t, 30*time.Second, "outputs committed", func() bool { return len(readCommitted(t, b, "out.views")) == want })
	}
	reloads := func() float64 { return gathered(t, reg, "sluice_process_rules_reloads_total") }
	edit := func(name, data string) float64 {
		t.Helper()
		before := reloads()
		writeFile(t, dir, name, data)
		waitFor(t, 30*time.Second, "reload of "+name, func() bool { return reloads() > before })
		return gathered(t, reg, "sluice_process_rules_reload_failed")
	}

	batch(1, 90)
	if failed := edit("views.sql", sqlRule("50")); failed != 0 {
		t.Fatalf("valid edit rejected")
	}
	batch(2, 50)
	if failed := edit("views.sql", sqlRule("50 AND user_idd = 'x'")); failed != 1 {
		t.Fatalf("invalid edit accepted")
	}
	batch(3, 50) // the previous version keeps running
	before := reloads()
	if err := os.Remove(filepath.Join(dir, "views.sql")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "reload after delete", func() bool { return reloads() > before })
	if n := gathered(t, reg, "sluice_process_rules_loaded"); n != 1 {
		t.Fatalf("%v rules loaded after the delete, want 1", n)
	}
	batch(4, 0)             // removed: no more outputs
	time.Sleep(time.Second) // a transaction's worth of time for any stray output
	if n := len(readCommitted(t, b, "out.views")); n != want {
		t.Fatalf("%d outputs after the rule was deleted, want %d", n, want)
	}
}

func writeFile(t testing.TB, dir, name, data string) {
	t.Helper()
	// Write and rename, as editors do.
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}

// gathered sums every series of a metric family.
func gathered(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var total float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				total += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return total
}
