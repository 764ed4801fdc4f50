package producer

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	kafka "github.com/segmentio/kafka-go"
)

// An independent client reads what the generator wrote: segmentio/kafka-go
// must see the same events, and every key must sit on the partition its
// Murmur2Balancer picks (the Java client's default partitioner too).
func TestKafkaGoReadsGenerated(t *testing.T) {
	_, k := startBroker(t, "", "clickstream")
	const n = 6000
	cfg := GenConfig{Kafka: k, Schema: mustSchema(t, "clickstream"), Count: n, Seed: 21, Start: t0, Users: 200, UserDist: DistZipf}
	if err := Generate(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	keys, values := collectEvents(t, cfg, n)
	want := map[string][][]byte{}
	for i := range keys {
		want[string(keys[i])] = append(want[string(keys[i])], values[i])
	}

	got := map[string][][]byte{}
	total := 0
	for _, m := range readKafkaGo(t, k.Brokers[0], "clickstream") {
		got[string(m.Key)] = append(got[string(m.Key)], m.Value)
		total++
	}
	if total != n {
		t.Fatalf("kafka-go read %d records, want %d", total, n)
	}
	for key, vs := range want {
		for i := range vs {
			if i >= len(got[key]) || !bytes.Equal(got[key][i], vs[i]) {
				t.Fatalf("key %s event %d differs or is missing", key, i)
			}
		}
	}
}

// readKafkaGo reads every record of topic with kafka-go, partition by
// partition, checking each key's placement against Murmur2Balancer.
func readKafkaGo(t *testing.T, addr, topic string) []kafka.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	parts, err := kafka.LookupPartitions(ctx, "tcp", addr, topic)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int, len(parts))
	for i, p := range parts {
		ids[i] = p.ID
	}
	slices.Sort(ids) // metadata order is not partition order
	var bal kafka.Murmur2Balancer
	var out []kafka.Message
	for _, id := range ids {
		conn, err := kafka.DialLeader(ctx, "tcp", addr, topic, id)
		if err != nil {
			t.Fatal(err)
		}
		last, err := conn.ReadLastOffset()
		conn.Close()
		if err != nil {
			t.Fatal(err)
		}
		if last == 0 {
			continue
		}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: topic, Partition: id, MaxWait: 100 * time.Millisecond})
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatalf("partition %d: %v", id, err)
			}
			if want := bal.Balance(kafka.Message{Key: m.Key}, ids...); want != id {
				t.Fatalf("key %s is on partition %d, kafka-go's Murmur2Balancer says %d", m.Key, id, want)
			}
			out = append(out, m)
			if m.Offset+1 >= last {
				break
			}
		}
		r.Close()
	}
	return out
}

// Replayed Firehose events (integer user_id keys) too.
func TestKafkaGoReadsReplayed(t *testing.T) {
	_, k := startBroker(t, "", "beer_clicks")
	if err := Replay(context.Background(), ReplayConfig{Kafka: k, Schema: mustSchema(t, "beer_clicks"), From: fixture(t)}); err != nil {
		t.Fatal(err)
	}
	msgs := readKafkaGo(t, k.Brokers[0], "beer_clicks")
	if len(msgs) != 30 {
		t.Fatalf("kafka-go read %d records, want the fixture's 30", len(msgs))
	}
	for _, m := range msgs {
		if !bytes.Contains(m.Value, []byte(`"user_id": `+string(m.Key)+`,`)) {
			t.Fatalf("record %s keyed %q", m.Value, m.Key)
		}
	}
}
