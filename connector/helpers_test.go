package connector

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/xitongsys/parquet-go-source/buffer"
	"github.com/xitongsys/parquet-go/reader"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/internal/kclient"
	"github.com/sluicehq/sluice/schema"
)

func startBroker(t testing.TB, partitions int32, topics ...string) *broker.Broker {
	t.Helper()
	b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0", Topics: topics, Partitions: partitions})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func kafkaCfg(b *broker.Broker) kclient.Config {
	return kclient.Config{Brokers: b.Addrs(), ClientID: "test"}
}

// produce writes values to topic and waits for the broker's acks.
func produce(t testing.TB, b *broker.Broker, topic string, values [][]byte) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.DefaultProduceTopic(topic),
		kgo.ProducerLinger(0), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, len(values))
	for i, v := range values {
		recs[i] = &kgo.Record{Value: v}
	}
	for start := 0; start < len(recs); start += 10000 {
		end := min(start+10000, len(recs))
		if err := cl.ProduceSync(context.Background(), recs[start:end]...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

var clickBase = time.Date(2021, 7, 12, 10, 0, 0, 0, time.UTC)

// clickEvent is the i-th clickstream event; its event time steps through
// hours so a load spans several folders.
func clickEvent(i int, step time.Duration) []byte {
	ts := clickBase.Add(time.Duration(i) * step)
	names := []string{"Search", "ViewContent", "AddToCart", "Purchase"}
	// click_id: the index in its first 8 hex digits, then hash noise like
	// a real random id, so compression figures are not flattered.
	h1, h2 := mix(uint64(i)), mix(uint64(i)+1<<40)
	return fmt.Appendf(nil, `{"timestamp": %q, "user_id": "%d", "pixel_id": "%010x", "click_id": "%08x%016x%08x", `+
		`"insertion_timestamp": %q, "event_name": %q, "user_ip": "203.0.113.%d", `+
		`"additional_data": {"time_on_data": %d, "percent_viewed": %d.5, "product_id": %d, "price": %d.25}}`,
		ts.Format("2006-01-02 15:04:05.000000"), i%500, h2%(1<<40), i, h1, h2>>32, ts.Add(time.Millisecond).Format("2006-01-02 15:04:05.000000"),
		names[i%4], i%250, i%600, i%100, 100000+i, i%1000)
}

func clickEvents(n int, step time.Duration) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = clickEvent(i, step)
	}
	return out
}

func builtin(t testing.TB, name string) *schema.Schema {
	t.Helper()
	s, err := schema.Resolve(name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// lakeFile is one Parquet object read back with xitongsys/parquet-go, an
// implementation independent of the writer.
type lakeFile struct {
	key  string
	rows int64
	cols map[string][]any // leaf path without the root, e.g. "additional_data.price"
}

func readParquet(t testing.TB, key string, data []byte) lakeFile {
	t.Helper()
	pr, err := reader.NewParquetColumnReader(buffer.NewBufferFileFromBytes(data), 1)
	if err != nil {
		t.Fatalf("%s: independent reader cannot open it: %v", key, err)
	}
	defer pr.ReadStop()
	lf := lakeFile{key: key, rows: pr.GetNumRows(), cols: map[string][]any{}}
	for _, p := range pr.SchemaHandler.ValueColumns {
		vals, _, _, err := pr.ReadColumnByPath(p, lf.rows)
		if err != nil {
			t.Fatalf("%s: reading %s: %v", key, p, err)
		}
		ex := pr.SchemaHandler.InPathToExPath[p]
		parts := strings.Split(ex, "\x01")
		lf.cols[strings.Join(parts[1:], ".")] = vals
	}
	return lf
}

// readLake reads every Parquet file under dir/table.
func readLake(t testing.TB, dir, table string) []lakeFile {
	t.Helper()
	var out []lakeFile
	root := filepath.Join(dir, table)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.HasSuffix(p, ".tmp") {
			t.Errorf("temporary file left behind: %s", p)
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, readParquet(t, filepath.ToSlash(rel), data))
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return out
}

// readNDJSON reads every gzip NDJSON object under dir/sub.
func readNDJSON(t testing.TB, dir, sub string) []map[string]any {
	t.Helper()
	var out []map[string]any
	_ = filepath.WalkDir(filepath.Join(dir, sub), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		sc := bufio.NewScanner(zr)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var m map[string]any
			if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
				t.Fatalf("%s: line %q: %v", p, sc.Text(), err)
			}
			out = append(out, m)
		}
		return nil
	})
	return out
}

// runSink starts Run in the background and returns a stop function that
// cancels it and returns its error.
func runSink(t testing.TB, cfg Config) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	var stopped bool
	var res error
	stop = func() error {
		if !stopped {
			stopped = true
			cancel()
			select {
			case res = <-done:
			case <-time.After(60 * time.Second):
				t.Fatal("sink did not stop")
			}
		}
		return res
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fmtSscanHex reads the event index back from a click_id.
func fmtSscanHex(s string, v *int) (int, error) {
	if len(s) != 32 {
		return 0, fmt.Errorf("click_id %q is not 32 hex digits", s)
	}
	return fmt.Sscanf(s[:8], "%x", v)
}

func mix(x uint64) uint64 { // splitmix64
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func newProducer(t testing.TB, brokers []string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic("clickstream"),
		kgo.RecordPartitioner(kgo.RoundRobinPartitioner()), kgo.ProducerBatchMaxBytes(1<<20))
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func toRecords(values [][]byte) []*kgo.Record {
	recs := make([]*kgo.Record, len(values))
	for i, v := range values {
		recs[i] = &kgo.Record{Value: v}
	}
	return recs
}
