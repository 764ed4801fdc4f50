package processor

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/internal/benchutil"
	"github.com/sluicehq/sluice/internal/kclient"
)

// BenchmarkSteadyRate measures the 20 rules on a live input, as a worker
// beside a busy stream sees it: events arrive at a fixed rate (produced
// by the broker's child process, so their cost is not counted), not as
// the backlog BenchmarkTopicToTopic reads. One op is one event. Beside
// events/CPU-s it reports the share of a core the processor used and its
// transactions per second: at these rates the per-transaction costs, not
// the per-event ones, decide the CPU (see poll.go).
func BenchmarkSteadyRate(b *testing.B) {
	for _, rate := range []int{1000, 5000} {
		b.Run(fmt.Sprintf("20rules_%d_per_s", rate), func(b *testing.B) {
			n := max(b.N, rate) // at least a second of input
			addr, stdin := childBrokerStdin(b, "SLUICE_BENCH_RATE="+strconv.Itoa(rate), "SLUICE_BENCH_EVENTS="+strconv.Itoa(n))
			stats, reg := &Stats{}, prometheus.NewRegistry()
			cfg := Config{Kafka: kclient.Config{Brokers: []string{addr}, ClientID: "bench"}, RulesDir: twentyRules(b),
				Group: "bench", InstanceID: "b", NoWatch: true, Stats: stats, Reg: reg}
			if v := os.Getenv("SLUICE_BENCH_COMMIT_INTERVAL"); v != "" { // to compare settings
				d, err := time.ParseDuration(v)
				if err != nil {
					b.Fatal(err)
				}
				cfg.CommitInterval = d
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- Run(ctx, cfg) }()
			// The worker has joined its group and created its topics once
			// it has run a transaction (an empty one, every idle poll).
			for gathered(b, reg, "sluice_process_transactions_total") == 0 {
				select {
				case err := <-done:
					b.Fatal(err)
				case <-time.After(20 * time.Millisecond):
				}
			}
			runtime.GC()
			m, cpu0 := benchutil.Start(b), benchutil.CPUTime()
			start, txns0 := time.Now(), gathered(b, reg, "sluice_process_transactions_total")
			if _, err := fmt.Fprintln(stdin, "go"); err != nil {
				b.Fatal(err)
			}
			// Checked seldom: this process's CPU is what is measured.
			tick := time.NewTicker(50 * time.Millisecond)
			for stats.Consumed() < int64(n) {
				select {
				case err := <-done:
					b.Fatal(err)
				case <-tick.C:
				}
			}
			tick.Stop()
			waitDrained(b, addr, "bench")
			cpu, wall := benchutil.CPUTime()-cpu0, time.Since(start)
			m.Report(int64(n))
			b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "%core")
			b.ReportMetric((gathered(b, reg, "sluice_process_transactions_total")-txns0)/wall.Seconds(), "txns/s")
			cancel()
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		})
	}
}

// produceAtRate is the child's side of BenchmarkSteadyRate: it produces
// SLUICE_BENCH_EVENTS events at rate events per second, in steps of 10 ms,
// keyed and acknowledged as a producer of clickstream would.
func produceAtRate(addr, rate string) {
	perSec, _ := strconv.Atoi(rate)
	n, _ := strconv.Atoi(os.Getenv("SLUICE_BENCH_EVENTS"))
	evs := benchEvents(n, 10_000)
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("clickstream"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "producer:", err)
		return
	}
	defer cl.Close()
	const step = 10 * time.Millisecond
	start := time.Now()
	for i := 0; i < n; {
		// Events due by now, so a late tick catches up.
		due := min(n, int(time.Since(start)*time.Duration(perSec)/time.Second)+1)
		for ; i < due; i++ {
			cl.Produce(context.Background(), &kgo.Record{Key: benchKey(evs[i]), Value: evs[i]}, nil)
		}
		time.Sleep(step)
	}
	if err := cl.Flush(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "producer:", err)
	}
}
