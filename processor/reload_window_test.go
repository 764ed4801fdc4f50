package processor

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestReloadOfAWindowRuleResetsItsStateOnlyWhenItsDefinitionChanges(t *testing.T) {
	b := startBroker(t, 2, "clickstream")
	dir := writeRules(t, "events_per_minute")
	file := filepath.Join(dir, "events_per_minute.yaml")
	orig, _ := os.ReadFile(file)
	save := func(s string) {
		tmp := file + ".tmp~"
		os.WriteFile(tmp, []byte(s), 0o644)
		os.Rename(tmp, file)
	}
	logs := &syncBuf{}
	reg := prometheus.NewRegistry()
	stats := &Stats{}
	cfg := Config{Kafka: kafkaCfg(b), RulesDir: dir, Group: "g", InstanceID: "w", Reg: reg, Stats: stats, IdleTimeout: -1,
		Log: slog.New(slog.NewTextHandler(logs, nil))}
	stop := startRun(t, cfg)
	evs := genEvents(3, 2, 20, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Second)
	produce(t, b, "clickstream", eventRecords(evs)...)
	waitFor(t, 20*time.Second, "events consumed", func() bool { return stats.Consumed() >= int64(len(evs)) })
	reloads := func() float64 {
		return testutil.ToFloat64(mustGet(t, reg, "sluice_process_rules_reloads_total", "ok"))
	}

	save(strings.Replace(string(orig), "description: How many", "description: Counts how many", 1))
	waitFor(t, 10*time.Second, "reload", func() bool { return reloads() >= 1 })
	save(strings.Replace(string(orig), "allowed_lateness: 10s", "allowed_lateness: 20s", 1))
	waitFor(t, 10*time.Second, "second reload", func() bool { return reloads() >= 2 })
	waitFor(t, 5*time.Second, "reset logged", func() bool {
		return strings.Count(logs.String(), "rule definition changed: its window state is reset") == 1
	})
	if !strings.Contains(logs.String(), "rule=events_per_minute") {
		t.Fatalf("log does not name the rule:\n%s", logs.String())
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
