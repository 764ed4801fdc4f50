//go:build integration

package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
	"github.com/twmb/franz-go/pkg/kgo"
)

const collectorDeadTopic = "clickstream.deadletter"

// TestIngestToLake: events arrive both ways users send them, from `sluice
// produce` (the generator, seeded) and over HTTP through `sluice collect`;
// invalid ones posted go to the collector's dead-letter topic with nothing
// else lost. What reached the input topic, read back, drives the exact
// expectations for the processor's output and both lake tables.
func TestIngestToLake(t *testing.T) {
	p := newPipeline(t)
	p.startProcessor()
	p.startSink()
	collector := p.start("collector", testcontainers.ContainerRequest{
		Image:        sluiceImage,
		Cmd:          []string{"collect", "--brokers", brokerAlias + ":9092", "--listen", ":8080", "--log-format", "text"},
		ExposedPorts: []string{"8080/tcp"},
		WaitingFor:   wait.ForHTTP("/readyz").WithPort("8080/tcp").WithStartupTimeout(time.Minute),
	})
	const generated, posted, invalid = 8000, 4000, 25
	out := p.run("produce", []string{"produce", "--brokers", brokerAlias + ":9092", "--topic", inputTopic,
		"--count", fmt.Sprint(generated), "--seed", "7", "--start", eventBase().Format(time.RFC3339), "--progress", "never"})
	t.Logf("sluice produce: %s", lastLine(out))

	ep, err := collector.PortEndpoint(context.Background(), "8080/tcp", "http")
	if err != nil {
		t.Fatal(err)
	}
	events := generate(6, posted, eventBase())
	const batch = 500
	for i := 0; i < posted; i += batch {
		var body bytes.Buffer
		for _, e := range events[i : i+batch] {
			b, _ := json.Marshal(e)
			body.Write(append(b, '\n'))
		}
		want := http.StatusAccepted
		if i == 0 { // the first batch also carries invalid events
			for j := 0; j < invalid; j++ {
				fmt.Fprintf(&body, `{"timestamp":"2024-01-01 00:00:00.000000","user_id":"x","event_name":"Bogus%d"}`+"\n", j)
			}
			want = http.StatusMultiStatus
		}
		resp, err := http.Post(ep+"/v1/events", "application/x-ndjson", &body)
		if err != nil {
			t.Fatalf("posting batch %d: %v", i/batch, err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("batch %d: HTTP %d, want %d: %s", i/batch, resp.StatusCode, want, msg)
		}
	}

	// Read back exactly what the input topic holds: generated + posted.
	input := p.readAll(inputTopic, generated+posted)
	if dead := p.readAll(collectorDeadTopic, invalid); len(dead) != invalid {
		t.Fatalf("%d dead-lettered events, want %d", len(dead), invalid)
	}
	var all []event
	ids := map[string]int{}
	for _, v := range input {
		var e event
		if err := json.Unmarshal(v, &e); err != nil {
			t.Fatalf("input record is not an event: %v", err)
		}
		ids[e.ClickID]++
		all = append(all, e)
	}
	if len(ids) != generated+posted {
		t.Fatalf("%d distinct click ids in %d input records", len(ids), len(input))
	}
	p.verify(all, false)
}

// readAll consumes topic from the start until it has n records (failing on
// more appearing while it reads) and returns their values.
func (p *pipeline) readAll(topic string, n int) [][]byte {
	p.t.Helper()
	cl, err := kgo.NewClient(append(p.kafkaOpts(), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		p.t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out [][]byte
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			p.t.Fatalf("%s: %d of %d records after 2m", topic, len(out), n)
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r.Value) })
	}
	if len(out) != n {
		p.t.Fatalf("%s: %d records, want %d", topic, len(out), n)
	}
	return out
}

func lastLine(s string) string {
	lines := bytes.Split(bytes.TrimSpace([]byte(s)), []byte("\n"))
	return string(lines[len(lines)-1])
}
