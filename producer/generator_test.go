package producer

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"
)

func TestGenerateIntoBroker(t *testing.T) {
	_, k := startBroker(t, "", "clickstream")
	s := mustSchema(t, "clickstream")
	const n = 20000
	cfg := GenConfig{Kafka: k, Schema: s, Count: n, Seed: 11, Start: t0, LateFraction: 0.02, Users: 300}
	stats := &Stats{}
	cfg.Stats = stats
	if err := Generate(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	if stats.Produced.Load() != n || stats.Failed.Load() != 0 {
		t.Fatalf("produced %d failed %d, want %d/0", stats.Produced.Load(), stats.Failed.Load(), n)
	}
	recs := readAll(t, k, "clickstream", n, 20*time.Second)
	if len(recs) != n {
		t.Fatalf("read %d records, want %d", len(recs), n)
	}
	// Same seed without Kafka: per key, the same events in the same order.
	keys, values := collectEvents(t, cfg, n)
	want := map[string][][]byte{}
	for i := range keys {
		want[string(keys[i])] = append(want[string(keys[i])], values[i])
	}
	got := map[string][][]byte{}
	partOf := map[string]int32{}
	for _, r := range recs {
		got[string(r.Key)] = append(got[string(r.Key)], r.Value)
		if p, ok := partOf[string(r.Key)]; ok && p != r.Partition {
			t.Fatalf("key %s on partitions %d and %d", r.Key, p, r.Partition)
		}
		partOf[string(r.Key)] = r.Partition
	}
	for k, vs := range want {
		if len(got[k]) != len(vs) {
			t.Fatalf("key %s: %d records, want %d", k, len(got[k]), len(vs))
		}
		for i := range vs {
			if !bytes.Equal(got[k][i], vs[i]) {
				t.Fatalf("key %s record %d:\n got %s\nwant %s", k, i, got[k][i], vs[i])
			}
		}
	}
}

func TestGenerateRateAndDuration(t *testing.T) {
	_, k := startBroker(t, "", "beer_clicks")
	s := mustSchema(t, "beer_clicks")
	stats := &Stats{}
	start := time.Now()
	err := Generate(context.Background(), GenConfig{Kafka: k, Schema: s, Rate: 1000, Duration: 1500 * time.Millisecond, Stats: stats})
	if err != nil {
		t.Fatal(err)
	}
	el := time.Since(start)
	got := stats.Produced.Load()
	if got < 1000 || got > 1700 || el < 1400*time.Millisecond || el > 8*time.Second {
		t.Fatalf("rate 1000/s for 1.5s: %d events in %s", got, el)
	}
}

func TestGenerateUnknownTopic(t *testing.T) {
	_, k := startBroker(t, "", "clickstream")
	err := Generate(context.Background(), GenConfig{Kafka: k, Schema: mustSchema(t, "clickstream"), Topic: "nope", Count: 10})
	if !errors.Is(err, ErrUnknownTopic) {
		t.Fatalf("err = %v, want ErrUnknownTopic", err)
	}
}

// When the broker goes away, the run ends with ErrUndelivered and counts
// every record it could not deliver: nothing is reported as sent that was
// not acknowledged.
func TestGenerateBrokerGone(t *testing.T) {
	b, k := startBroker(t, "", "clickstream")
	stats := &Stats{}
	go func() {
		for stats.Produced.Load() < 2000 {
			time.Sleep(5 * time.Millisecond)
		}
		b.Close()
	}()
	err := Generate(context.Background(), GenConfig{Kafka: k, Schema: mustSchema(t, "clickstream"), Rate: 20000,
		Duration: 3 * time.Second, DeliveryTimeout: time.Second, Stats: stats})
	if !errors.Is(err, ErrUndelivered) {
		t.Fatalf("err = %v, want ErrUndelivered", err)
	}
	if stats.Failed.Load() == 0 || stats.Produced.Load() < 2000 {
		t.Fatalf("produced %d failed %d", stats.Produced.Load(), stats.Failed.Load())
	}
	t.Logf("%v", err)
}

// Cancelling the context stops generating; what was generated is still
// flushed and acknowledged, and the run is not an error.
func TestGenerateCancelFlushes(t *testing.T) {
	_, k := startBroker(t, "", "clickstream")
	stats := &Stats{}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for stats.Produced.Load() < 5000 {
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	if err := Generate(ctx, GenConfig{Kafka: k, Schema: mustSchema(t, "clickstream"), Stats: stats}); err != nil {
		t.Fatal(err)
	}
	n := stats.Produced.Load()
	if stats.Failed.Load() != 0 || n < 5000 {
		t.Fatalf("produced %d failed %d", n, stats.Failed.Load())
	}
	if recs := readAll(t, k, "clickstream", int(n)+1, 3*time.Second); int64(len(recs)) != n {
		t.Fatalf("topic holds %d records, %d were acknowledged", len(recs), n)
	}
}
