package processor

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestSourceThatGainsPartitions: when the source topic gains partitions,
// filters go on over the new ones, while a worker with window rules stops
// with ErrSourceGrew (its state is laid out per partition; it used to stop
// on a changelog partition it could not find) and refuses to start again
// until it is given a new group.
func TestSourceThatGainsPartitions(t *testing.T) {
	b := startBroker(t, 2, "clickstream")
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	before := eventRecords(genEvents(1, 2, 50, start, time.Second))
	produce(t, b, "clickstream", before...)

	// Metadata refreshed often, so the group notices the new partitions soon.
	fast := []kgo.Opt{kgo.MetadataMaxAge(200 * time.Millisecond), kgo.MetadataMinAge(100 * time.Millisecond)}
	run := func(group, rules string, stats *Stats) (context.CancelFunc, chan error) {
		cfg := Config{Kafka: kafkaCfg(b), RulesDir: rules, Group: group, InstanceID: "one", NoWatch: true,
			Log: testLog(t), Stats: stats, kgoOpts: fast}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- Run(ctx, cfg) }()
		return cancel, done
	}
	filters, windows := writeRules(t, "high_intent_views"), writeRules(t, "events_per_minute")
	fStats, wStats := &Stats{}, &Stats{}
	cancelF, doneF := run("filters", filters, fStats)
	defer cancelF()
	cancelW, doneW := run("windows", windows, wStats)
	defer cancelW()
	waitFor(t, 30*time.Second, "both workers to read the input", func() bool {
		return fStats.Consumed() == int64(len(before)) && wStats.Consumed() == int64(len(before))
	})

	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreatePartitions(context.Background(), 2, "clickstream"); err != nil {
		t.Fatal(err)
	}
	after := eventRecords(genEvents(2, 4, 50, start.Add(time.Minute), time.Second))
	produce(t, b, "clickstream", after...)

	select {
	case err := <-doneW:
		if !errors.Is(err, ErrSourceGrew) {
			t.Fatalf("the window worker stopped with %v, want ErrSourceGrew", err)
		}
		t.Log(err)
	case <-time.After(30 * time.Second):
		t.Fatal("the window worker did not stop")
	}
	waitFor(t, 30*time.Second, "the filter worker to read the new partitions", settled(fStats, int64(len(before)+len(after))))
	cancelF()
	if err := <-doneF; err != nil {
		t.Fatal(err)
	}

	// A restart under the same group refuses at once; a new group runs.
	if err := Run(context.Background(), Config{Kafka: kafkaCfg(b), RulesDir: windows, Group: "windows", InstanceID: "one", NoWatch: true, Log: testLog(t)}); !errors.Is(err, ErrSourceGrew) {
		t.Fatalf("restart: %v, want ErrSourceGrew", err)
	}
	stats := &Stats{}
	cancel, done := run("windows-2", windows, stats)
	waitFor(t, 30*time.Second, "a new group to read everything", settled(stats, int64(len(before)+len(after))))
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
