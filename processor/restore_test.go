package processor

import (
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestRestartReadsEachChangelogPartitionOnce stops a worker halfway
// through the input, with windows open in every partition (of its sources,
// combiners and the repartitioned rule's owners), and restarts it: the new
// worker reads each changelog partition once for all the state it holds,
// not once per source task, combiner and gatherer, and its outputs equal
// those of a run without the restart.
func TestRestartReadsEachChangelogPartitionOnce(t *testing.T) {
	const parts = 3
	recs, rules, outputs := eosFixture(t, parts)
	run := func(b interface{ Addrs() []string }, reg *prometheus.Registry, stats *Stats, want int64) {
		t.Helper()
		cfg := Config{Kafka: kafkaCfg2(b.Addrs()), RulesDir: rules, Group: "g", InstanceID: "one", NoWatch: true,
			IdleTimeout: -1, MaxPollRecords: 100, Log: testLog(t), Stats: stats, Reg: reg}
		stop := startRun(t, cfg)
		waitFor(t, 60*time.Second, "the run to settle", settled(stats, want))
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	}

	b1 := startBroker(t, parts, "clickstream")
	produce(t, b1, "clickstream", recs...)
	run(b1, prometheus.NewRegistry(), &Stats{}, int64(len(recs)))
	want := readOutputs(t, b1, outputs)

	// The first half of each partition, then the rest after a restart.
	var first, second []*kgo.Record
	n, seen := map[int32]int{}, map[int32]int{}
	for _, r := range recs {
		n[r.Partition]++
	}
	for _, r := range recs {
		if seen[r.Partition] < n[r.Partition]/2 {
			first = append(first, r)
		} else {
			second = append(second, r)
		}
		seen[r.Partition]++
	}
	b2 := startBroker(t, parts, "clickstream")
	produce(t, b2, "clickstream", first...)
	stats := &Stats{}
	run(b2, prometheus.NewRegistry(), stats, int64(len(first)))
	produce(t, b2, "clickstream", second...)
	reg := prometheus.NewRegistry()
	run(b2, reg, stats, int64(len(recs)))

	if got := gathered(t, reg, "sluice_process_state_entries_restored_total"); got == 0 {
		t.Fatal("the restarted worker restored no state: nothing was tested")
	}
	if got := gathered(t, reg, "sluice_process_changelog_reads_total"); got != parts {
		t.Errorf("the restarted worker read %v changelog partitions, want %d (each once)", got, parts)
	}
	got := readOutputs(t, b2, outputs)
	for _, topic := range outputs {
		if !slices.Equal(got[topic], want[topic]) {
			t.Errorf("%s differs: %d records, want %d\n%s", topic, len(got[topic]), len(want[topic]), firstDiff(got[topic], want[topic]))
		}
	}
}
