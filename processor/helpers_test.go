package processor

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/internal/kclient"
)

func startBroker(t testing.TB, partitions int32, topics ...string) *broker.Broker {
	t.Helper()
	b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0", Topics: topics, Partitions: partitions})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

func kafkaCfg(b *broker.Broker) kclient.Config { return kafkaCfg2(b.Addrs()) }

func kafkaCfg2(addrs []string) kclient.Config {
	return kclient.Config{Brokers: addrs, ClientID: "test"}
}

// event is one generated clickstream event.
type event struct {
	part  int32
	user  string
	name  string
	ts    time.Time
	pct   float64
	price float64
	raw   []byte
}

var eventNames = []string{"Search", "ViewContent", "AddToCart", "Purchase"}

// genEvents makes n events per partition, in event-time order per
// partition, one every step, starting at start.
func genEvents(seed uint64, parts int32, n int, start time.Time, step time.Duration) []event {
	rng := rand.New(rand.NewPCG(seed, seed+1))
	var out []event
	for p := int32(0); p < parts; p++ {
		ts := start
		for i := 0; i < n; i++ {
			ts = ts.Add(step)
			e := event{part: p, user: fmt.Sprintf("u%d", rng.IntN(50)), name: eventNames[rng.IntN(4)], ts: ts,
				pct: float64(rng.IntN(1000)) / 10, price: float64(rng.IntN(100000)) / 100}
			e.raw = fmt.Appendf(nil, `{"timestamp": %q, "user_id": %q, "pixel_id": "px", "click_id": "c%d", "insertion_timestamp": %q, "event_name": %q, "user_ip": "203.0.113.7", "additional_data": {"time_on_data": 5, "percent_viewed": %g, "product_id": %d, "price": %g}}`,
				ts.Format("2006-01-02 15:04:05.000000"), e.user, i, ts.Format("2006-01-02 15:04:05.000000"), e.name, e.pct, 100000+rng.IntN(5), e.price)
			out = append(out, e)
		}
	}
	return out
}

func produce(t testing.TB, b *broker.Broker, topic string, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func eventRecords(evs []event) []*kgo.Record {
	recs := make([]*kgo.Record, len(evs))
	for i, e := range evs {
		recs[i] = &kgo.Record{Partition: e.part, Key: []byte(e.user), Value: e.raw}
	}
	return recs
}

// readCommitted returns every committed record of topic, read with
// read_committed up to the last stable offset of each partition.
func readCommitted(t testing.TB, b *broker.Broker, topic string) []*kgo.Record {
	t.Helper()
	recs, _ := readCommittedTxns(t, b, topic)
	return recs
}

// readCommittedTxns is readCommitted that also counts the commit markers
// read: one per committed transaction that wrote to a partition (abort
// markers are not counted).
func readCommittedTxns(t testing.TB, b *broker.Broker, topic string) (recs []*kgo.Record, markers int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admCl, _ := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...))
	defer admCl.Close()
	ends, err := kadm.NewClient(admCl).ListCommittedOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]int64{}
	offs := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
			offs[o.Partition] = kgo.NewOffset().AtStart()
		}
	})
	if len(want) == 0 {
		return nil, 0
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offs}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if err := fs.Err(); err != nil {
			t.Fatalf("reading %s: %v", topic, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset+1 >= want[r.Partition] {
				delete(want, r.Partition)
			}
			if r.Attrs.IsControl() {
				var k kmsg.ControlRecordKey
				if k.ReadFrom(r.Key) == nil && k.Type == kmsg.ControlRecordKeyTypeCommit {
					markers++ // an abort's marker is not a transaction that took the input
				}
			} else {
				recs = append(recs, r)
			}
		})
	}
	return recs, markers
}

// batchEntries reads the committed batch records of kind in an internal
// topic and returns how many records and entries they hold; a record of
// the same data sent unbatched fails the test.
func batchEntries(t testing.TB, b *broker.Broker, topic string, kind byte) (records, entries int) {
	t.Helper()
	const hashLen = 16
	head := 1 + hashLen
	if kind == partialBatchRecord {
		head += 4
	}
	for _, r := range readCommitted(t, b, topic) {
		switch r.Value[0] {
		case kind:
			records++
			if err := eachEntry(r.Value[head:], func([]byte) error { entries++; return nil }); err != nil {
				t.Fatalf("%s offset %d: %v", topic, r.Offset, err)
			}
		case partialRecord, forwardRecord:
			t.Fatalf("%s offset %d: an unbatched record", topic, r.Offset)
		}
	}
	return records, entries
}

func writeRules(t testing.TB, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join("..", "rules", n+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, n+".yaml"), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

func testLog(t testing.TB) *slog.Logger {
	if os.Getenv("SLUICE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// settled reports whether the processor has consumed want source records
// and then produced nothing new for a while: window results travel through
// the partials topics after the last source record, so tests wait for
// them to settle.
func settled(stats *Stats, want int64) func() bool {
	return settledBy(func() (int64, int64) { return stats.Consumed(), stats.producedTotal() }, want)
}

// settledBy is settled over counts from several workers.
func settledBy(counts func() (consumed, produced int64), want int64) func() bool {
	var last int64 = -1
	var since time.Time
	return func() bool {
		consumed, produced := counts()
		if consumed < want {
			return false
		}
		if n := produced; n != last {
			last, since = n, time.Now()
			return false
		}
		return time.Since(since) > 1500*time.Millisecond
	}
}

// startRun runs a worker in the background. stop cancels it and returns
// Run's error; the end of the test stops it too, so that no worker
// outlives its broker.
func startRun(t testing.TB, cfg Config) (stop func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() { cancel(); err = <-done })
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// feeder returns a function that produces events to clickstream and waits
// until the worker has consumed everything fed so far.
func feeder(t testing.TB, b *broker.Broker, stats *Stats) func([]event) {
	consumed := 0
	return func(evs []event) {
		t.Helper()
		produce(t, b, "clickstream", eventRecords(evs)...)
		consumed += len(evs)
		waitFor(t, 60*time.Second, "events consumed", func() bool { return stats.Consumed() >= int64(consumed) })
	}
}
