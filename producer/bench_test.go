package producer

import (
	"context"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/benchutil"
)

// BenchmarkEventSource is the generator alone: JSON bytes per CPU-second.
func BenchmarkEventSource(b *testing.B) {
	src, err := NewEventSource(GenConfig{Schema: mustSchema(b, "clickstream"), Seed: 1, Start: t0})
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 1024)
	m := benchutil.Start(b)
	for range b.N {
		buf, _ = src.Append(buf[:0])
	}
	m.Report(int64(b.N))
}

// BenchmarkGenerate is `sluice produce` into the embedded broker in the
// same process (so the broker's CPU counts too), acks=all, idempotent.
func BenchmarkGenerate(b *testing.B) {
	for _, comp := range []string{"none", "snappy"} {
		b.Run("compression="+comp, func(b *testing.B) {
			_, k := startBroker(b, "", "clickstream")
			stats := &Stats{}
			m := benchutil.Start(b)
			start := time.Now()
			err := Generate(context.Background(), GenConfig{Kafka: k, Schema: mustSchema(b, "clickstream"),
				Count: int64(b.N), Seed: 1, Start: t0, Compression: comp, Stats: stats, LogEvery: -1})
			el := time.Since(start)
			m.Report(stats.Produced.Load())
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(stats.Produced.Load())/el.Seconds(), "events/s")
		})
	}
}
