package telemetry

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/broker"
)

// Client metrics land on the registry, and a second client on the same
// registry (a restarted component) neither panics nor is refused.
func TestKafkaMetrics(t *testing.T) {
	b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0", Topics: []string{"t"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	reg := prometheus.NewRegistry()
	for i := 0; i < 2; i++ {
		cl, err := kgo.NewClient(append(KafkaMetrics("sluice_test_kafka", reg), kgo.SeedBrokers(b.Addrs()...))...)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = cl.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: []byte("v")}).FirstErr()
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		// franz-go runs the produce hooks in a goroutine of their own,
		// which may come after ProduceSync returns.
		deadline := time.Now().Add(5 * time.Second)
		for !gathered(t, reg, "sluice_test_kafka_produce_bytes_total") {
			if time.Now().After(deadline) {
				t.Fatalf("client %d: no produce metrics", i)
			}
			time.Sleep(10 * time.Millisecond)
		}
		cl.Close() // unregisters its collectors: a restarted client registers afresh
	}
	if KafkaMetrics("x", nil) != nil {
		t.Fatal("a nil registry must add no hooks")
	}
}

func gathered(t *testing.T, reg *prometheus.Registry, name string) bool {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return true
		}
	}
	return false
}
