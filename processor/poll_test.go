package processor

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestSlowInputIsGatheredPerCommitInterval: events that arrive one at a
// time are committed a commit interval's worth at a time, not in a
// transaction each; with the interval off, each poll is a transaction.
// Each transaction that writes to the output partition leaves one commit
// marker there, so the markers count them.
func TestSlowInputIsGatheredPerCommitInterval(t *testing.T) {
	for _, tc := range []struct {
		interval time.Duration
		min, max int // transactions for the 20 events
	}{
		{interval: 2 * time.Second, min: 1, max: 3},
		{interval: -1, min: 4, max: 20},
	} {
		t.Run(fmt.Sprint(tc.interval), func(t *testing.T) {
			b := startBroker(t, 1, "clickstream")
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "all.yaml"), []byte("name: all\nsource: clickstream\noutput: all_out\nwhere: user_id != \"\"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			stats := &Stats{}
			cfg := Config{Kafka: kafkaCfg(b), RulesDir: dir, Group: "g", InstanceID: "i", NoWatch: true,
				CommitInterval: tc.interval, Stats: stats, Log: testLog(t)}
			stop := startRun(t, cfg)
			evs := genEvents(1, 1, 20, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Second)
			for _, rec := range eventRecords(evs) {
				produce(t, b, "clickstream", rec)
				time.Sleep(5 * time.Millisecond)
			}
			waitFor(t, 30*time.Second, "events consumed", func() bool { return stats.Consumed() >= int64(len(evs)) })
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			recs, txns := readCommittedTxns(t, b, "all_out")
			if len(recs) != len(evs) {
				t.Fatalf("%d outputs, want %d", len(recs), len(evs))
			}
			if txns < tc.min || txns > tc.max {
				t.Errorf("the %d events took %d transactions, want %d to %d", len(evs), txns, tc.min, tc.max)
			}
		})
	}
}
