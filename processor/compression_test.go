package processor

import (
	"testing"
	"time"
)

// TestCompression: what the worker writes, outputs and window state alike,
// is compressed with --compression.
func TestCompression(t *testing.T) {
	b := startBroker(t, 2, "clickstream")
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	recs := eventRecords(genEvents(3, 2, 200, start, time.Second))
	produce(t, b, "clickstream", recs...)
	stats := &Stats{}
	cfg := Config{Kafka: kafkaCfg(b), RulesDir: writeRules(t, "high_intent_views", "events_per_minute"), Group: "g", InstanceID: "one",
		NoWatch: true, Compression: "zstd", Log: testLog(t), Stats: stats}
	stop := startRun(t, cfg)
	waitFor(t, 30*time.Second, "the input to be read", settled(stats, int64(len(recs))))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	// The record batch attribute's codec. franz-go sends a batch that
	// compression would not shrink (a small one) uncompressed, so some
	// batches may be none; none may use another codec, and each topic
	// must have zstd batches.
	const none, zstd = 0, 4
	for _, topic := range []string{"clickstream.high_intent_views", "g.clickstream.state"} {
		got := readCommitted(t, b, topic)
		if len(got) == 0 {
			t.Fatalf("%s: nothing written", topic)
		}
		compressed := 0
		for _, r := range got {
			switch c := r.Attrs.CompressionType(); c {
			case zstd:
				compressed++
			case none:
			default:
				t.Fatalf("%s offset %d: codec %d, want zstd (%d)", topic, r.Offset, c, zstd)
			}
		}
		if compressed == 0 {
			t.Fatalf("%s: none of %d records in a zstd batch", topic, len(got))
		}
	}
	cfg.Compression = "brotli"
	if err := cfg.Validate(); err == nil {
		t.Fatal("compression brotli accepted")
	}
}
