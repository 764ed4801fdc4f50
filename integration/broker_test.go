//go:build integration

package integration

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/testcontainers/testcontainers-go"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestBrokerContainer: the broker runs as a container; franz-go in the test
// process produces through it, segmentio/kafka-go reads every record back,
// and a sluice container on the network sees the topics.
func TestBrokerContainer(t *testing.T) {
	s := newStack(t)
	const topic, partitions, n = "it.broker", 3, 3000
	broker := s.startBroker(partitions, []string{topic})
	d := s.dialer(map[string]testcontainers.Container{brokerAlias + ":9092": broker})

	out := s.run("check", []string{"check", "--brokers", brokerAlias + ":9092", "--topics", topic})
	if !strings.Contains(out, fmt.Sprintf("topic %s partitions=%d", topic, partitions)) {
		t.Fatalf("sluice check in the network:\n%s", out)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokerAlias+":9092"), kgo.Dialer(d.DialContext))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	want := map[string]int32{} // key -> partition franz-go chose
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Key: []byte(fmt.Sprintf("user-%d", i%97)), Value: []byte(fmt.Sprintf("event-%d", i))}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("producing through the broker container: %v", err)
	}
	for _, r := range recs {
		want[string(r.Value)] = r.Partition
	}

	// kafka-go, an independent client: every record once, on the partition
	// its own Murmur2 balancer picks for the key.
	balancer := &kafka.Murmur2Balancer{}
	got := map[string]bool{}
	for p := 0; p < partitions; p++ {
		r := kafka.NewReader(kafka.ReaderConfig{
			Brokers: []string{brokerAlias + ":9092"}, Topic: topic, Partition: p,
			Dialer:  &kafka.Dialer{Timeout: 10 * time.Second, DialFunc: d.DialContext},
			MaxWait: 500 * time.Millisecond,
		})
		end, err := kafkaGoEnd(ctx, d, topic, p)
		if err != nil {
			t.Fatal(err)
		}
		for off := int64(0); off < end; off++ {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatalf("kafka-go reading partition %d: %v", p, err)
			}
			v := string(m.Value)
			if got[v] {
				t.Fatalf("%s read twice", v)
			}
			got[v] = true
			if want[v] != int32(p) {
				t.Fatalf("%s on partition %d, franz-go produced it to %d", v, p, want[v])
			}
			parts := make([]int, partitions)
			for i := range parts {
				parts[i] = i
			}
			if bp := balancer.Balance(kafka.Message{Key: m.Key}, parts...); bp != p {
				t.Fatalf("key %s on partition %d; kafka-go's Murmur2Balancer says %d", m.Key, p, bp)
			}
		}
		r.Close()
	}
	if len(got) != n {
		t.Fatalf("kafka-go read %d distinct records, want %d", len(got), n)
	}
}

// kafkaGoEnd is the high watermark of a partition, asked with kafka-go.
func kafkaGoEnd(ctx context.Context, d *hostDialer, topic string, partition int) (int64, error) {
	kd := &kafka.Dialer{Timeout: 10 * time.Second, DialFunc: d.DialContext}
	conn, err := kd.DialLeader(ctx, "tcp", brokerAlias+":9092", topic, partition)
	if err != nil {
		return 0, fmt.Errorf("kafka-go dialing the leader of %s/%d: %w", topic, partition, err)
	}
	defer conn.Close()
	return conn.ReadLastOffset()
}
