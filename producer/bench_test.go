package producer

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
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

// BenchmarkCollect posts NDJSON batches of 100 clickstream events over
// loopback from 8 concurrent clients to the collector, which produces into
// the embedded broker in the same process. One op = one batch.
func BenchmarkCollect(b *testing.B) {
	_, k := startBroker(b, "", "clickstream")
	c := startCollector(b, k, nil)
	url := "http://" + c.Addr() + "/v1/events"
	src, err := NewEventSource(GenConfig{Schema: mustSchema(b, "clickstream"), Seed: 1, Start: t0})
	if err != nil {
		b.Fatal(err)
	}
	const batch, clients = 100, 8
	bodies := make([][]byte, 64)
	for i := range bodies {
		var buf []byte
		for range batch {
			buf, _ = src.Append(buf)
			buf = append(buf, '\n')
		}
		bodies[i] = buf
	}
	tr := &http.Transport{MaxIdleConnsPerHost: clients}
	client := &http.Client{Transport: tr}
	lat := make([]time.Duration, b.N)
	var next atomic.Int64
	var failed atomic.Int64
	m := benchutil.Start(b)
	start := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				t := time.Now()
				resp, err := client.Post(url, "application/x-ndjson", bytes.NewReader(bodies[i%int64(len(bodies))]))
				if err != nil || resp.StatusCode != http.StatusAccepted {
					failed.Add(1)
				}
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				lat[i] = time.Since(t)
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	m.Report(int64(b.N) * batch)
	if failed.Load() > 0 {
		b.Fatalf("%d requests not answered 202", failed.Load())
	}
	slices.Sort(lat)
	b.ReportMetric(float64(b.N*batch)/el.Seconds(), "events/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkReplay replays NDJSON (validated with the schema codec) into the
// embedded broker in the same process. One op = one event.
func BenchmarkReplay(b *testing.B) {
	_, k := startBroker(b, "", "clickstream")
	src, err := NewEventSource(GenConfig{Schema: mustSchema(b, "clickstream"), Seed: 1, Start: t0})
	if err != nil {
		b.Fatal(err)
	}
	var in []byte
	for range b.N {
		in, _ = src.Append(in)
		in = append(in, '\n')
	}
	stats := &Stats{}
	m := benchutil.Start(b)
	start := time.Now()
	err = Replay(context.Background(), ReplayConfig{Kafka: k, Schema: mustSchema(b, "clickstream"), Reader: bytes.NewReader(in), Stats: stats, LogEvery: -1})
	el := time.Since(start)
	m.Report(stats.Produced.Load())
	if err != nil || stats.Produced.Load() != int64(b.N) {
		b.Fatalf("replayed %d of %d: %v", stats.Produced.Load(), b.N, err)
	}
	b.ReportMetric(float64(b.N)/el.Seconds(), "events/s")
}
