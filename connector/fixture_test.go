package connector

import (
	"bufio"
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/internal/fixtures"
)

// The Firehose fixture replayed with its arrival time: by arrival time the
// rows land in hour=10 as Firehose put them; by event time (the client's
// zone-less local clock) in hour=12. Two tables share one sink, one of them
// a processor-style topic with a dot in its name.
func TestFirehoseFixtureTwoTables(t *testing.T) {
	var lines [][]byte
	sc := bufio.NewScanner(bytes.NewReader(fixtures.FirehoseObject()))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			lines = append(lines, []byte(l))
		}
	}
	if len(lines) != 30 {
		t.Fatalf("%d fixture events", len(lines))
	}
	b := startBroker(t, 2, "beer_clicks", "clickstream.high_intent_views")
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	arrival := time.Date(2024, 4, 23, 10, 2, 19, 0, time.UTC) // from the object's name
	var recs []*kgo.Record
	for _, l := range lines {
		recs = append(recs, &kgo.Record{Topic: "beer_clicks", Value: l, Timestamp: arrival})
	}
	for _, v := range clickEvents(40, time.Second) {
		recs = append(recs, &kgo.Record{Topic: "clickstream.high_intent_views", Value: v})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cl.Close()

	for _, by := range []string{"arrival-time", "event-time"} {
		dir := t.TempDir()
		stats := &Stats{}
		stop := runSink(t, Config{Kafka: kafkaCfg(b), Group: "fx-" + by, To: "file://" + dir, Stats: stats, PartitionBy: by,
			Tables: []Table{{Topic: "beer_clicks", Schema: builtin(t, "beer_clicks")},
				{Topic: "clickstream.high_intent_views", Schema: builtin(t, "clickstream")}}})
		waitFor(t, "consumed", 20*time.Second, func() bool {
			return stats.Consumed("beer_clicks") == 30 && stats.Consumed("clickstream.high_intent_views") == 40
		})
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		beer := readLake(t, dir, "beer_clicks")
		want := map[string]string{"arrival-time": "/hour=10/", "event-time": "/hour=12/"}[by]
		var rows int64
		for _, lf := range beer {
			if !strings.Contains(lf.key, "beer_clicks/year=2024/month=04/day=23"+want) {
				t.Errorf("%s: %s, want folder %s", by, lf.key, want)
			}
			rows += lf.rows
			for i, v := range lf.cols["device_id"] {
				if d := v.(string); d != "mobile" && d != "tablet" && d != "computer" {
					t.Fatalf("row %d: device_id %q", i, d)
				}
			}
		}
		var clicks int64
		for _, lf := range readLake(t, dir, "clickstream_high_intent_views") {
			clicks += lf.rows
		}
		if rows != 30 || clicks != 40 || stats.Errors() != 0 {
			t.Fatalf("%s: %d beer rows, %d click rows, %d errors", by, rows, clicks, stats.Errors())
		}
	}
}
