package broker

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// With a data dir, topics and records survive a restart of the broker, which
// is what `sluice broker --data-dir` promises.
func TestDataDirSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	b, err := Start(Config{Listen: "127.0.0.1:0", DataDir: dir, Topics: []string{"clickstream"}, Partitions: 3})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	const n = 100
	for i := 0; i < n; i++ {
		r := &kgo.Record{Topic: "clickstream", Key: []byte{byte(i)}, Value: []byte("event")}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cl.Close()
	b.Close()

	b, err = Start(Config{Listen: "127.0.0.1:0", DataDir: dir, Partitions: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cl, err = kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.ConsumeTopics("clickstream"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	got := 0
	for got < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d records after the restart: %v", got, n, err)
		}
		fs.EachRecord(func(*kgo.Record) { got++ })
	}
	if got != n {
		t.Fatalf("read %d records after the restart, want %d", got, n)
	}
}

// An advertised address is what clients are told to connect to.
func TestAdvertisedAddress(t *testing.T) {
	b, err := Start(Config{Listen: "127.0.0.1:0", Advertise: "broker.example:19092", Topics: []string{"t"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if got := b.Addrs(); len(got) != 1 || got[0] != "broker.example:19092" {
		t.Fatalf("addrs %v", got)
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []Config{{Listen: "nope"}, {Advertise: "host"}, {Partitions: -1}, {Users: []User{{Mechanism: "GSSAPI", Name: "a", Password: "b"}}}} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
}
