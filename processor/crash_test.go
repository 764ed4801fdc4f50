package processor

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/broker"
)

// TestCrashRecoveryIsExactlyOnce drops the processor's client without
// committing at random points, restarts it each time, and checks that the
// read_committed outputs equal those of a run without crashes exactly:
// filter matches, tumbling, hopping and session windows (per user, and per
// product over all partitions), late events.
func TestCrashRecoveryIsExactlyOnce(t *testing.T) {
	const parts = 3
	recs, rules, outputs := eosFixture(t, parts)
	fired := map[string]int{} // crashes by where they happened
	run := func(crashes int) map[string][]string {
		b := startBroker(t, parts, "clickstream")
		produce(t, b, "clickstream", recs...)
		stats := &Stats{}
		var mu sync.Mutex
		crng := rand.New(rand.NewPCG(uint64(crashes), 99))
		left := crashes
		cfg := Config{Kafka: kafkaCfg(b), RulesDir: rules, Group: "g", InstanceID: "one", NoWatch: true,
			IdleTimeout: -1, MaxPollRecords: 97, Log: testLog(t), Stats: stats, TransactionTimeout: 10 * time.Second}
		cfg.crash = func(at string) bool {
			mu.Lock()
			defer mu.Unlock()
			if left == 0 {
				return false
			}
			// mid-batch comes after each internal record, after-chunk
			// after each chunk of a source partition's records (here at
			// most 97: MaxPollRecords), before-commit once a transaction.
			p := map[string]float64{"mid-batch": 1.0 / 150, "after-chunk": 1.0 / 6, "before-commit": 1.0 / 4}[at]
			if crng.Float64() < p {
				left--
				fired[at]++
				return true
			}
			return false
		}
		for restarts := 0; ; restarts++ {
			if restarts > crashes+1 {
				t.Fatalf("too many restarts")
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- Run(ctx, cfg) }()
			var err error
			deadline := time.After(60 * time.Second)
			quiet := settled(stats, int64(len(recs)))
		wait:
			for {
				select {
				case err = <-done:
					break wait
				case <-deadline:
					cancel()
					t.Fatalf("run %d: timed out at %d of %d consumed", restarts, stats.Consumed(), len(recs))
				case <-time.After(20 * time.Millisecond):
					if quiet() {
						cancel()
						err = <-done
						break wait
					}
				}
			}
			cancel()
			if errors.Is(err, errCrashed) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			break
		}
		mu.Lock()
		if left != 0 && crashes > 0 {
			t.Logf("only %d of %d crashes happened", crashes-left, crashes)
		}
		mu.Unlock()
		return readOutputs(t, b, outputs)
	}
	want := run(0)
	if len(want["clickstream.events_per_minute"]) == 0 || len(want["clickstream.revenue_per_product"]) == 0 ||
		len(want["clickstream.abandoned_carts"]) == 0 || len(want["clickstream.product_sessions"]) == 0 || len(want["sluice.late"]) == 0 {
		t.Fatalf("the crash-free run produced too little to compare: %v", counts(want))
	}
	// Repartitioned or merged from partials, the rows are the same.
	if !slices.Equal(want["clickstream.revenue_per_product"], want["clickstream.revenue_partials"]) {
		t.Fatalf("revenue_per_product repartitioned and from partials differ:\n%s", firstDiff(want["clickstream.revenue_per_product"], want["clickstream.revenue_partials"]))
	}
	for round := 0; round < 3; round++ {
		got := run(4)
		for _, topic := range outputs {
			if !slices.Equal(got[topic], want[topic]) {
				t.Errorf("round %d: %s differs: %d records, want %d\n%s", round, topic, len(got[topic]), len(want[topic]), firstDiff(got[topic], want[topic]))
			}
		}
	}
	if fired["after-chunk"] == 0 || fired["before-commit"] == 0 {
		t.Errorf("crashes happened only at some points: %v", fired)
	}
	t.Logf("outputs compared: %v; crashes: %v", counts(want), fired)
}

func counts(m map[string][]string) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		out[k] = len(v)
	}
	return out
}

func firstDiff(got, want []string) string {
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			return fmt.Sprintf("  got:  %s\n  want: %s", g, w)
		}
	}
	return ""
}

// eosFixture is the input of the exactly-once tests: clickstream events on
// parts partitions, some out of order and some late, then one event per
// partition two hours later that closes every window; and the rules and
// the topics to compare.
func eosFixture(t *testing.T, parts int32) (recs []*kgo.Record, rules string, outputs []string) {
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	evs := genEvents(7, parts, 500, start, 3*time.Second) // 25 min per partition
	recs = eventRecords(evs)
	// Some events out of order, a few beyond the allowed lateness.
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 30; i++ {
		e := evs[rng.IntN(len(evs))]
		e.ts = e.ts.Add(-time.Duration(rng.IntN(240)) * time.Second)
		late := genEvents(uint64(i)+100, 1, 1, e.ts, 0)[0]
		late.part = e.part
		recs = append(recs, eventRecords([]event{late})...)
	}
	// A last event per partition, two hours later, closes every window.
	for p := int32(0); p < parts; p++ {
		closer := genEvents(uint64(p)+50, 1, 1, start.Add(2*time.Hour), time.Second)[0]
		closer.part = p
		recs = append(recs, eventRecords([]event{closer})...)
	}
	rules = writeRules(t, "high_intent_views", "events_per_minute", "revenue_per_product", "abandoned_carts")
	// The shipped revenue_per_product repartitions; the same rule merged
	// from per-partition partials (panes) keeps that path covered.
	data, err := os.ReadFile(filepath.Join(rules, "revenue_per_product.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, rules, "revenue_partials.yaml", strings.NewReplacer("name: revenue_per_product", "name: revenue_partials",
		"output: clickstream.revenue_per_product", "output: clickstream.revenue_partials", "repartition: true", "repartition: false").Replace(string(data)))
	// Sessions per product: the topic is keyed by user, so a product's
	// sessions go through the repartition topic.
	writeFile(t, rules, "product_sessions.yaml", strings.NewReplacer("gap: 2m", "gap: 10s", "allowed_lateness: 30s", "allowed_lateness: 5s").Replace(productSessions))
	outputs = []string{"clickstream.high_intent_views", "clickstream.events_per_minute", "clickstream.revenue_per_product", "clickstream.revenue_partials",
		"clickstream.abandoned_carts", "clickstream.product_sessions", "sluice.late", "sluice.dead-letter"}

	return recs, rules, outputs
}

// readOutputs reads every committed record of the topics, sorted.
func readOutputs(t *testing.T, b *broker.Broker, outputs []string) map[string][]string {
	out := map[string][]string{}
	for _, topic := range outputs {
		for _, r := range readCommitted(t, b, topic) {
			out[topic] = append(out[topic], fmt.Sprintf("p%d key=%s %s %v", r.Partition, r.Key, r.Value, r.Headers))
		}
		slices.Sort(out[topic])
	}
	return out
}
