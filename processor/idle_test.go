package processor

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestIdlePartitionDoesNotHoldWindowsOpen: a partition that goes quiet has
// its windows closed by the busy partitions' event time once the idle
// timeout passes; with no timeout it would hold them forever.
func TestIdlePartitionDoesNotHoldWindowsOpen(t *testing.T) {
	b := startBroker(t, 2, "clickstream")
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	busy := genEvents(1, 1, 300, start.Add(time.Minute), time.Second) // p0: 00:01:01 .. 00:06:00
	quiet := genEvents(2, 1, 1, start.Add(29*time.Second), time.Second)
	quiet[0].part = 1
	quiet[0].raw = []byte(strings.Replace(string(quiet[0].raw), `"event_name": "`+quiet[0].name+`"`, `"event_name": "Purchase"`, 1))
	for i := range busy {
		busy[i].raw = []byte(strings.Replace(string(busy[i].raw), `"event_name": "`+busy[i].name+`"`, `"event_name": "Search"`, 1))
	}
	produce(t, b, "clickstream", eventRecords(append(quiet, busy...))...)

	stats, reg := &Stats{}, prometheus.NewRegistry()
	cfg := Config{Kafka: kafkaCfg(b), RulesDir: writeRules(t, "events_per_minute"), Group: "g", InstanceID: "i",
		NoWatch: true, IdleTimeout: 300 * time.Millisecond, Stats: stats, Log: testLog(t), Reg: reg}
	stop := startRun(t, cfg)
	found := func() bool {
		for _, r := range readCommitted(t, b, "clickstream.events_per_minute") {
			if strings.Contains(string(r.Value), `"event_name":"Purchase","events":1,"window_start":"2024-01-01T00:00:00Z"`) {
				return true
			}
		}
		return false
	}
	waitFor(t, 20*time.Second, "the quiet partition's window", found)
	// Now every partition is idle. Their clocks move in steps of the idle
	// timeout, so the worker commits a transaction per poll timeout or
	// marker step, not one per marker it reads back (a busy loop in which
	// event time ran ahead of wall time).
	txns := func() float64 { return gathered(t, reg, "sluice_process_transactions_total") }
	before := txns()
	time.Sleep(2 * time.Second)
	if n := txns() - before; n > 40 {
		t.Errorf("%v transactions in 2 s of idleness", n)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
