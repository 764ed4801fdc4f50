package connector

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/broker"
)

// committedAll reports whether group has committed the end of every
// partition of topic.
func committedAll(t testing.TB, b *broker.Broker, group, topic string) bool {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return false
	}
	offs, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		return false
	}
	done := true
	ends.Each(func(o kadm.ListedOffset) {
		c, ok := offs.Lookup(o.Topic, o.Partition)
		if o.Offset > 0 && (!ok || c.At < o.Offset) {
			done = false
		}
	})
	return done
}

// checkExactlyOnce reads the lake back and wants every click_id 0..n-1
// exactly once.
func checkExactlyOnce(t *testing.T, dir string, n int) {
	t.Helper()
	seen := make([]int, n)
	var rows int64
	for _, f := range readLake(t, dir, "clickstream") {
		rows += f.rows
		for _, v := range f.cols["click_id"] {
			var idx int
			if _, err := fmtSscanHex(v.(string), &idx); err != nil || idx < 0 || idx >= n {
				t.Fatalf("%s: unexpected click_id %v", f.key, v)
			}
			seen[idx]++
		}
	}
	var dups, gaps int
	for i, c := range seen {
		switch {
		case c == 0:
			gaps++
			if gaps < 5 {
				t.Errorf("click %d missing", i)
			}
		case c > 1:
			dups++
			if dups < 5 {
				t.Errorf("click %d written %d times", i, c)
			}
		}
	}
	if rows != int64(n) || dups > 0 || gaps > 0 {
		t.Fatalf("read back %d rows for %d produced: %d duplicated, %d missing", rows, n, dups, gaps)
	}
}

// Kill the sink again and again while a load is produced: crashes right
// after an object is written (before the commit) and at random polls, with
// different rotation settings each time so batches end elsewhere after
// every restart. The lake must hold every record exactly once.
func TestCrashLoopExactlyOnce(t *testing.T) {
	b := startBroker(t, 4, "clickstream")
	const n = 20000
	events := clickEvents(n, 700*time.Millisecond) // ~4 hours of event time
	var produced atomic.Bool
	go func() {
		for i := 0; i < n; i += 500 {
			produce(t, b, "clickstream", events[i:i+500])
			time.Sleep(10 * time.Millisecond)
		}
		produced.Store(true)
	}()

	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	crashes := 0
	for run := 0; ; run++ {
		final := produced.Load() && run >= 6
		hooks := &testHooks{}
		if !final {
			var puts atomic.Int64
			limit := int64(1 + rng.IntN(12))
			hooks.afterPut = func(string) bool { return puts.Add(1) == limit }
			crash := make(chan struct{})
			hooks.crash = crash
			time.AfterFunc(time.Duration(50+rng.IntN(300))*time.Millisecond, func() { close(crash) })
		}
		cfg := Config{Kafka: kafkaCfg(b), Group: "crash", To: "file://" + dir,
			Tables:        []Table{{Topic: "clickstream", Schema: builtin(t, "clickstream")}},
			FlushRecords:  int64(100 + rng.IntN(700)),
			FlushInterval: time.Duration(50+rng.IntN(200)) * time.Millisecond,
			hooks:         hooks}
		if !final {
			err := Run(context.Background(), cfg)
			if err != errCrashed {
				t.Fatalf("run %d: %v, want a simulated crash", run, err)
			}
			crashes++
			continue
		}
		stop := runSink(t, cfg)
		waitFor(t, "the group to commit everything", 60*time.Second, func() bool {
			return committedAll(t, b, "crash", "clickstream")
		})
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		break
	}
	t.Logf("%d crashes", crashes)
	checkExactlyOnce(t, dir, n)
}

// Members join and leave while a load is consumed: revoked partitions are
// flushed and committed by their old owner, the new owner continues after.
func TestRebalanceExactlyOnce(t *testing.T) {
	b := startBroker(t, 6, "clickstream")
	const n = 12000
	events := clickEvents(n, time.Second)
	dir := t.TempDir()
	regs := []*prometheus.Registry{}
	cfg := func() Config {
		reg := prometheus.NewRegistry()
		regs = append(regs, reg)
		return Config{Kafka: kafkaCfg(b), Group: "rb", To: "file://" + dir, Reg: reg,
			Tables:        []Table{{Topic: "clickstream", Schema: builtin(t, "clickstream")}},
			FlushInterval: 2 * time.Second}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < n; i += 400 {
			produce(t, b, "clickstream", events[i:i+400])
			time.Sleep(15 * time.Millisecond)
		}
	}()
	stopA := runSink(t, cfg())
	time.Sleep(150 * time.Millisecond)
	stopB := runSink(t, cfg())
	time.Sleep(200 * time.Millisecond)
	if err := stopA(); err != nil {
		t.Fatal(err)
	}
	stopC := runSink(t, cfg())
	wg.Wait()
	waitFor(t, "the group to commit everything", 60*time.Second, func() bool {
		return committedAll(t, b, "rb", "clickstream")
	})
	revokes := 0.0
	for _, reg := range regs {
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() == "sluice_sink_flushes_total" {
				for _, m := range mf.GetMetric() {
					if m.GetLabel()[0].GetValue() == "revoke" {
						revokes += m.GetCounter().GetValue()
					}
				}
			}
		}
	}
	if revokes == 0 {
		t.Error("no partition was flushed on revoke")
	}
	if err := stopB(); err != nil {
		t.Fatal(err)
	}
	if err := stopC(); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, dir, n)
}
