package processor

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/internal/benchutil"
	"github.com/sluicehq/sluice/internal/kclient"
	"github.com/sluicehq/sluice/processor/rule"
	"github.com/sluicehq/sluice/schema"
)

// TestMain doubles as the embedded broker of the topic-to-topic benchmarks:
// run in a child process, so the processor's CPU figures exclude the
// broker's.
func TestMain(m *testing.M) {
	if os.Getenv("SLUICE_BENCH_BROKER") != "" {
		b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0", Topics: []string{"clickstream"}, Partitions: 6})
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println(b.Addrs()[0])
		in := bufio.NewReader(os.Stdin)
		if rate := os.Getenv("SLUICE_BENCH_RATE"); rate != "" {
			// The input of BenchmarkSteadyRate, produced here so that its
			// CPU is not the processor's: once the parent says go.
			if _, err := in.ReadString('\n'); err == nil {
				go produceAtRate(b.Addrs()[0], rate)
			}
		}
		in.ReadString('\n') // until the parent closes stdin
		b.Close()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// benchEvents returns n clickstream events of ~330 bytes: users u0..u(users-1),
// event times advancing 10 ms per event.
func benchEvents(n, users int) [][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	ts := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([][]byte, n)
	for i := range out {
		ts = ts.Add(10 * time.Millisecond)
		out[i] = benchEvent(rng, ts, users)
	}
	return out
}

func benchEvent(rng *rand.Rand, ts time.Time, users int) []byte {
	t := ts.Format("2006-01-02 15:04:05.000000")
	return fmt.Appendf(nil, `{"timestamp": %q, "user_id": "%d", "pixel_id": "wjgao4w1oi", "click_id": "a5cf179b9c9d483abf6d424d44a2%04x", "insertion_timestamp": %q, "event_name": %q, "user_ip": "203.0.113.%d", "additional_data": {"time_on_data": %d, "percent_viewed": %.1f, "product_id": %d, "price": %.2f}}`,
		t, rng.IntN(users), rng.IntN(65536), t, eventNames[rng.IntN(4)], rng.IntN(255), rng.IntN(600), rng.Float64()*100, 100000+rng.IntN(900), rng.Float64()*1000)
}

// twentyRules writes 20 rule files: 12 filters, 4 tumbling, 2 hopping and
// 2 session windows. The rules per product repartition, as the shipped
// revenue_per_product does: a partition sees few events of a product per
// window.
func twentyRules(t testing.TB) string {
	dir := t.TempDir()
	w := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name+".yaml"), []byte("name: "+name+"\nsource: clickstream\noutput: bench."+name+"\n"+body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 12; i++ {
		w(fmt.Sprintf("filter_%d", i), fmt.Sprintf("where: event_name == %q && additional_data.percent_viewed > %d\n", eventNames[i%4], 50+i*4))
	}
	groups := []string{"[event_name]", "[user_id]", "[{product: additional_data.product_id}]", "[]"}
	for i, g := range groups {
		rep := ""
		if strings.Contains(g, "product") {
			rep = ", repartition: true"
		}
		w(fmt.Sprintf("tumbling_%d", i), fmt.Sprintf("window: {type: tumbling, size: %dm%s}\ngroup_by: %s\naggregate: {n: count(), s: sum(additional_data.price)}\n", i+1, rep, g))
	}
	for i := 0; i < 2; i++ {
		w(fmt.Sprintf("hopping_%d", i), fmt.Sprintf("where: event_name == \"Purchase\"\nwindow: {type: hopping, size: %dm, every: 1m, repartition: true}\ngroup_by: [{product: additional_data.product_id}]\naggregate: {revenue: sum(additional_data.price), buyers: count_distinct(user_id)}\n", 2+i))
	}
	w("session_0", "window: {type: session, gap: 30m}\ngroup_by: [user_id]\naggregate: {n: count(), spent: sum(additional_data.price)}\n")
	w("session_1", "where: event_name != \"Search\"\nwindow: {type: session, gap: 10m}\ngroup_by: [user_id]\naggregate: {n: count(), hi: max(additional_data.price)}\n")
	return dir
}

func benchRules(b *testing.B, which string) string {
	switch which {
	case "filter":
		return writeRules(b, "high_intent_views")
	case "tumbling":
		return writeRules(b, "events_per_minute")
	case "session_user", "session_product":
		// The same sessions, per user (the record key: per partition) and
		// per product (through the repartition topic).
		group := map[string]string{"session_user": "[user_id]", "session_product": "[{product: additional_data.product_id}]"}[which]
		dir := b.TempDir()
		if err := os.WriteFile(filepath.Join(dir, which+".yaml"), []byte("name: "+which+"\nsource: clickstream\noutput: bench."+which+
			"\nwindow: {type: session, gap: 5m}\ngroup_by: "+group+"\naggregate: {n: count(), spent: sum(additional_data.price)}\n"), 0o644); err != nil {
			b.Fatal(err)
		}
		return dir
	default:
		return twentyRules(b)
	}
}

type nopSink struct{ n int }

func (s *nopSink) Output(*rule.Rule, []byte, []byte) { s.n++ }
func (s *nopSink) Late(*rule.Rule, string)           {}
func (s *nopSink) Error(*rule.Rule, error)           {}
func (s *nopSink) At(int)                            {}

// BenchmarkEngine measures decode + rules, no Kafka, as the worker runs
// them (chunks of chunkEvents, rule by rule): one op is one event.
func BenchmarkEngine(b *testing.B) {
	for _, which := range []string{"filter", "tumbling", "20rules"} {
		b.Run(which, func(b *testing.B) {
			// Events in event-time order; past 500k they repeat (and are late).
			evs := benchEvents(min(b.N, 500_000), 10_000)
			rules, err := rule.LoadDir(benchRules(b, which), nil)
			if err != nil {
				b.Fatal(err)
			}
			task, sink := rule.NewTask(rules), &nopSink{}
			d := newDecoded(rules[0].Codec)
			m := benchutil.Start(b)
			b.ReportAllocs()
			for i := 0; i < b.N; i += chunkEvents {
				chunk := d.evs[:0]
				for j := i; j < min(i+chunkEvents, b.N); j++ {
					raw := evs[j%len(evs)]
					rec := d.slot(len(chunk))
					if err := d.codec.DecodeIntoRef(raw, rec); err != nil {
						b.Fatal(err)
					}
					chunk = append(chunk, rule.Event{Rec: rec, Time: d.codec.EventTime(rec), Raw: raw})
				}
				d.evs = chunk
				task.ProcessBatch(chunk, sink)
				if i/chunkEvents%2 == 1 {
					task.Advance(sink, time.Time{})
				}
			}
			m.Report(int64(b.N))
		})
	}
}

// BenchmarkTopicToTopic measures the processor reading clickstream from the
// embedded broker (in a child process) and committing its outputs in
// transactions: one op is one event.
func BenchmarkTopicToTopic(b *testing.B) {
	for _, which := range []string{"filter", "tumbling", "20rules", "session_user", "session_product"} {
		b.Run(which, func(b *testing.B) {
			n := max(b.N, 50_000)
			addr := childBroker(b)
			evs := benchEvents(n, 10_000) // event-time order: no late events
			cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("clickstream"), kgo.ProducerBatchMaxBytes(1<<20))
			if err != nil {
				b.Fatal(err)
			}
			for i := 0; i < n; i++ {
				raw := evs[i%len(evs)]
				cl.Produce(context.Background(), &kgo.Record{Key: benchKey(raw), Value: raw}, nil)
			}
			if err := cl.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
			cl.Close()
			evs = nil
			runtime.GC() // the input's garbage is not the processor's work
			stats, reg := &Stats{}, prometheus.NewRegistry()
			cfg := Config{Kafka: kclient.Config{Brokers: []string{addr}, ClientID: "bench"}, RulesDir: benchRules(b, which),
				Group: "bench", InstanceID: "b", NoWatch: true, Stats: stats, Reg: reg}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			m := benchutil.Start(b)
			if f := os.Getenv("SLUICE_BENCH_CPUPROFILE"); f != "" {
				// Profiles the measured part alone (not the input's production).
				pf, err := os.Create(f)
				if err != nil {
					b.Fatal(err)
				}
				if err := pprof.StartCPUProfile(pf); err != nil {
					b.Fatal(err)
				}
				defer pprof.StopCPUProfile()
			}
			go func() { done <- Run(ctx, cfg) }()
			for stats.Consumed() < int64(n) {
				select {
				case err := <-done:
					b.Fatal(err)
				case <-time.After(5 * time.Millisecond):
				}
			}
			waitDrained(b, addr, "bench") // the combiners' and owners' work counts too
			m.Report(int64(n))
			b.ReportMetric(float64(stats.producedTotal())/float64(n), "outputs/event")
			// A backlog fills a transaction per poll: fewer, larger ones write fewer
			// changelog records per event.
			b.ReportMetric(gathered(b, reg, "sluice_process_transactions_total"), "txns")
			cancel()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		})
	}
}

// waitDrained waits until group has committed every record of its
// internal topics (partials, repartition).
func waitDrained(b *testing.B, addr, group string) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx := context.Background()
	td, err := adm.ListTopics(ctx)
	if err != nil {
		b.Fatal(err)
	}
	var topics []string
	for _, t := range td.Names() {
		if strings.HasPrefix(t, group+".") && (strings.HasSuffix(t, ".partials") || strings.HasSuffix(t, ".repartition")) {
			topics = append(topics, t)
		}
	}
	if len(topics) == 0 {
		return
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		ends, err := adm.ListEndOffsets(ctx, topics...)
		if err != nil {
			b.Fatal(err)
		}
		committed, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			b.Fatal(err)
		}
		left := false
		ends.Each(func(o kadm.ListedOffset) {
			if c, ok := committed.Lookup(o.Topic, o.Partition); o.Offset > 0 && (!ok || c.At < o.Offset-1) {
				left = true // the last record may be a transaction marker
			}
		})
		if !left {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%v not drained", topics)
		}
	}
}

// benchKey is the event's user_id: clickstream records are keyed by user
// (schema `key: user_id`), which spreads them over the partitions and keeps
// each user's events in one.
func benchKey(raw []byte) []byte {
	const field = `"user_id": "`
	i := bytes.Index(raw, []byte(field)) + len(field)
	return raw[i : i+bytes.IndexByte(raw[i:], '"')]
}

// childBroker starts the embedded broker in a child process and returns
// its address.
func childBroker(b *testing.B) string {
	addr, _ := childBrokerStdin(b)
	return addr
}

// childBrokerStdin is childBroker with env added to the child's
// environment; it also returns the child's stdin, for BenchmarkSteadyRate's
// go (the test's cleanup closes it, which stops the child).
func childBrokerStdin(b *testing.B, env ...string) (string, io.Writer) {
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(append(os.Environ(), "SLUICE_BENCH_BROKER=1"), env...)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.HasPrefix(line, "error") {
		b.Fatalf("child broker: %v %s", err, line)
	}
	b.Cleanup(func() { stdin.Close(); cmd.Wait() })
	return strings.TrimSpace(line), stdin
}

// BenchmarkMemory10M runs 10 million events from 10,000 users through the
// tumbling count and the session rule (engine only) and reports peak RSS.
// Opt-in: SLUICE_BENCH_LARGE=1.
func BenchmarkMemory10M(b *testing.B) {
	if os.Getenv("SLUICE_BENCH_LARGE") == "" {
		b.Skip("set SLUICE_BENCH_LARGE=1 to run 10M events")
	}
	rules, err := rule.LoadDir(writeRules(b, "events_per_minute", "abandoned_carts"), nil)
	if err != nil {
		b.Fatal(err)
	}
	codec := schema.NewCodec(rules[0].Schema)
	rec := codec.New()
	rng := rand.New(rand.NewPCG(5, 6))
	ts := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 10_000_000
	m := benchutil.Start(b)
	for i := 0; i < b.N; i++ {
		task, sink := rule.NewTask(rules), &nopSink{}
		for j := 0; j < n; j++ {
			ts = ts.Add(10 * time.Millisecond)
			raw := benchEvent(rng, ts, 10_000)
			if err := codec.DecodeIntoRef(raw, rec); err != nil {
				b.Fatal(err)
			}
			task.Process(rec, codec.EventTime(rec), raw, nil, sink)
			if j%1000 == 999 {
				task.Advance(sink, time.Time{})
			}
		}
	}
	m.Report(int64(n * b.N))
}
