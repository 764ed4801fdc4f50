package connector

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/internal/benchutil"
	"github.com/sluicehq/sluice/internal/kclient"
)

// TestMain doubles as the embedded broker of benchmarks: run as a child
// process, so the CPU the benchmarks measure is the sink's alone.
func TestMain(m *testing.M) {
	if os.Getenv("SLUICE_TEST_BROKER") != "" {
		b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0", Topics: []string{"clickstream"}, Partitions: 6})
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println(strings.Join(b.Addrs(), ","))
		_, _ = io.Copy(io.Discard, os.Stdin) // until the parent closes stdin
		b.Close()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// childBroker starts the embedded broker in a child process.
func childBroker(b *testing.B) kclient.Config {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SLUICE_TEST_BROKER=1")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.HasPrefix(line, "error") {
		b.Fatalf("child broker: %q %v", line, err)
	}
	return kclient.Config{Brokers: strings.Split(strings.TrimSpace(line), ","), ClientID: "bench"}
}

// produceTo produces n clickstream events, generated chunk by chunk so the
// benchmark process does not hold them all, and returns their NDJSON size.
func produceTo(b *testing.B, kc kclient.Config, n int, step time.Duration) int64 {
	b.Helper()
	var jsonBytes int64
	cl := newProducer(b, kc.Brokers)
	defer cl.Close()
	for start := 0; start < n; start += 20000 {
		chunk := make([][]byte, 0, 20000)
		for i := start; i < min(start+20000, n); i++ {
			e := clickEvent(i, step)
			jsonBytes += int64(len(e)) + 1
			chunk = append(chunk, e)
		}
		if err := cl.ProduceSync(context.Background(), toRecords(chunk)...).FirstErr(); err != nil {
			b.Fatal(err)
		}
	}
	return jsonBytes
}

// resetPeakRSS returns the data generation's memory to the OS and resets
// the kernel's peak-RSS mark (Linux clear_refs 5), so the peak reported is
// the sink's.
func resetPeakRSS() {
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

func dirSize(dir, suffix string) (n int64, files int) {
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, suffix) {
			if st, err := d.Info(); err == nil {
				n += st.Size()
				files++
			}
		}
		return nil
	})
	return n, files
}

// BenchmarkSinkClickstream: clickstream JSON in a topic (broker in another
// process) to local Snappy Parquet, timed until every row is durable and
// committed. Reports rows per CPU-second of the sink and how much smaller
// the Parquet is than the JSON it came from.
func BenchmarkSinkClickstream(b *testing.B) {
	const n = 300_000
	kc := childBroker(b)
	jsonBytes := produceTo(b, kc, n, 15*time.Millisecond)
	sch := builtin(b, "clickstream")
	var pqBytes int64
	resetPeakRSS()
	m := benchutil.Start(b)
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		stats := &Stats{}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- Run(ctx, Config{Kafka: kc, Group: fmt.Sprintf("bench-%d", i), To: "file://" + dir,
				Tables: []Table{{Topic: "clickstream", Schema: sch}}, Stats: stats, FlushInterval: 10 * time.Second})
		}()
		for stats.Consumed("clickstream") < n {
			time.Sleep(5 * time.Millisecond)
		}
		cancel() // shutdown flushes and commits what is open
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		if stats.Rows() != n {
			b.Fatalf("%d rows", stats.Rows())
		}
		pqBytes, _ = dirSize(dir, ".parquet")
	}
	m.Report(int64(n) * int64(b.N))
	b.ReportMetric(float64(jsonBytes)/float64(pqBytes), "x-smaller-than-JSON")
}

// BenchmarkSinkManyPartitions: events spread over 500 hour folders and
// 4 event names (2,000 folders per Kafka partition) with a 64 MiB budget and
// 256 open files: the peak RSS stays bounded by the budget.
func BenchmarkSinkManyPartitions(b *testing.B) {
	const n = 200_000
	kc := childBroker(b)
	produceTo(b, kc, n, 9*time.Second)
	sch := builtin(b, "clickstream")
	resetPeakRSS()
	m := benchutil.Start(b)
	var files int
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		stats := &Stats{}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			done <- Run(ctx, Config{Kafka: kc, Group: fmt.Sprintf("many-%d", i), To: "file://" + dir,
				Tables: []Table{{Topic: "clickstream", Schema: sch}}, Stats: stats, PartitionCol: "event_name",
				MemoryBudget: 64 << 20, MaxOpenFiles: 256, FlushInterval: time.Minute})
		}()
		for stats.Consumed("clickstream") < n {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		_, files = dirSize(dir, ".parquet")
	}
	m.Report(int64(n) * int64(b.N))
	b.ReportMetric(float64(files), "files")
}
