package processor

import (
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestRebalanceIsExactlyOnce runs a second worker in the group for the
// middle third of the input, so partitions and their window state move to
// it and back, and checks the read_committed outputs equal those of a
// single worker's run.
func TestRebalanceIsExactlyOnce(t *testing.T) {
	const parts = 3
	recs, rules, outputs := eosFixture(t, parts)
	start := func(b interface{ Addrs() []string }, id string, stats *Stats) (cancel func() error) {
		cfg := Config{Kafka: kafkaCfg2(b.Addrs()), RulesDir: rules, Group: "g", InstanceID: id, NoWatch: true,
			IdleTimeout: -1, MaxPollRecords: 50, Log: testLog(t), Stats: stats}
		return startRun(t, cfg)
	}

	// One worker, all input at once.
	b1 := startBroker(t, parts, "clickstream")
	produce(t, b1, "clickstream", recs...)
	s1 := &Stats{}
	stop1 := start(b1, "a", s1)
	waitFor(t, 60*time.Second, "single worker", settled(s1, int64(len(recs))))
	if err := stop1(); err != nil {
		t.Fatal(err)
	}
	want := readOutputs(t, b1, outputs)

	// Two workers: b joins after the first third and leaves after the second.
	b2 := startBroker(t, parts, "clickstream")
	sa, sb := &Stats{}, &Stats{}
	total := func() int64 { return sa.Consumed() + sb.Consumed() }
	// Keep each partition's order: split the input by position within it.
	thirds := make([][]*kgo.Record, 3)
	perPart := map[int32]int{}
	counts := map[int32]int{}
	for _, r := range recs {
		counts[r.Partition]++
	}
	for _, r := range recs {
		i := perPart[r.Partition] * 3 / counts[r.Partition]
		perPart[r.Partition]++
		thirds[i] = append(thirds[i], r)
	}
	stopA := start(b2, "a", sa)
	produce(t, b2, "clickstream", thirds[0]...)
	waitFor(t, 30*time.Second, "first third", func() bool { return total() >= int64(len(thirds[0])) })
	stopB := start(b2, "b", sb)
	time.Sleep(3 * time.Second) // let the group rebalance
	produce(t, b2, "clickstream", thirds[1]...)
	waitFor(t, 30*time.Second, "second third", func() bool { return total() >= int64(len(thirds[0])+len(thirds[1])) })
	if err := stopB(); err != nil {
		t.Fatal(err)
	}
	produce(t, b2, "clickstream", thirds[2]...)
	waitFor(t, 60*time.Second, "everything", settledBy(func() (int64, int64) {
		return total(), sa.producedTotal() + sb.producedTotal()
	}, int64(len(recs))))
	if err := stopA(); err != nil {
		t.Fatal(err)
	}
	if sb.Consumed() == 0 {
		t.Fatal("the second worker never got a partition: no rebalance was tested")
	}
	got := readOutputs(t, b2, outputs)
	for _, topic := range outputs {
		if !slices.Equal(got[topic], want[topic]) {
			t.Errorf("%s differs: %d records, want %d\n%s", topic, len(got[topic]), len(want[topic]), firstDiff(got[topic], want[topic]))
		}
	}
	t.Logf("worker b handled %d of %d records", sb.Consumed(), len(recs))
}
