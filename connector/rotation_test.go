package connector

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/schema"
)

func clickTable(t testing.TB) []Table {
	return []Table{{Topic: "clickstream", Schema: builtin(t, "clickstream")}}
}

func TestRotateByRecords(t *testing.T) {
	b := startBroker(t, 1, "clickstream")
	produce(t, b, "clickstream", clickEvents(1050, time.Millisecond))
	dir := t.TempDir()
	stats := &Stats{}
	stop := runSink(t, Config{Kafka: kafkaCfg(b), To: "file://" + dir, Tables: clickTable(t), Stats: stats,
		FlushRecords: 100, FlushInterval: time.Hour})
	waitFor(t, "ten full files", 20*time.Second, func() bool { return stats.Rows() == 1000 })
	if err := stop(); err != nil { // shutdown flushes the last 50
		t.Fatal(err)
	}
	files := readLake(t, dir, "clickstream")
	if len(files) != 11 {
		t.Fatalf("%d files, want 11", len(files))
	}
	var total int64
	for _, f := range files {
		if f.rows != 100 && f.rows != 50 {
			t.Errorf("%s has %d rows", f.key, f.rows)
		}
		total += f.rows
	}
	if total != 1050 {
		t.Fatalf("%d rows", total)
	}
}

func TestRotateBySize(t *testing.T) {
	b := startBroker(t, 1, "clickstream")
	produce(t, b, "clickstream", clickEvents(6000, time.Millisecond))
	dir := t.TempDir()
	stats := &Stats{}
	const size = 128 << 10
	stop := runSink(t, Config{Kafka: kafkaCfg(b), To: "file://" + dir, Tables: clickTable(t), Stats: stats,
		FlushSize: size, FlushInterval: time.Hour})
	waitFor(t, "consumed", 20*time.Second, func() bool { return stats.Consumed("clickstream") == 6000 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	files := readLake(t, dir, "clickstream")
	if len(files) < 3 {
		t.Fatalf("%d files for ~2 MB of JSON with a %d byte flush size", len(files), size)
	}
	var total int64
	for _, f := range files {
		total += f.rows
		st, err := os.Stat(filepath.Join(dir, f.key))
		if err != nil {
			t.Fatal(err)
		}
		if st.Size() > size {
			t.Errorf("%s is %d bytes, over the flush size", f.key, st.Size())
		}
	}
	if total != 6000 {
		t.Fatalf("%d rows", total)
	}
}

// The time trigger fires although no record follows: a quiet topic still
// gets its data written within the flush interval.
func TestRotateIdle(t *testing.T) {
	b := startBroker(t, 1, "clickstream")
	dir := t.TempDir()
	stats := &Stats{}
	runSink(t, Config{Kafka: kafkaCfg(b), To: "file://" + dir, Tables: clickTable(t), Stats: stats,
		FlushInterval: 400 * time.Millisecond})
	time.Sleep(300 * time.Millisecond) // let the group settle
	start := time.Now()
	produce(t, b, "clickstream", clickEvents(10, time.Second))
	waitFor(t, "the idle flush", 10*time.Second, func() bool { return stats.Files() == 1 })
	if d := time.Since(start); d < 400*time.Millisecond {
		t.Fatalf("flushed after %v, before the interval", d)
	}
	if files := readLake(t, dir, "clickstream"); len(files) != 1 || files[0].rows != 10 {
		t.Fatalf("want one file of 10 rows on disk while the sink runs, got %v", files)
	}
}

// Many folders at once (events spread over hundreds of hours): open files
// and buffered bytes stay within their limits and nothing is lost.
func TestBoundedOpenFilesAndMemory(t *testing.T) {
	b := startBroker(t, 2, "clickstream")
	const n = 8000
	produce(t, b, "clickstream", clickEvents(n, 7*time.Minute)) // ~930 hours
	dir := t.TempDir()
	stats := &Stats{}
	var maxFiles int
	var maxBytes int64
	const budget = 1 << 20
	stop := runSink(t, Config{Kafka: kafkaCfg(b), To: "file://" + dir, Tables: clickTable(t), Stats: stats,
		MaxOpenFiles: 40, MemoryBudget: budget, FlushInterval: time.Hour,
		hooks: &testHooks{polled: func(f int, b int64) { maxFiles, maxBytes = max(maxFiles, f), max(maxBytes, b) }}})
	waitFor(t, "consumed", 30*time.Second, func() bool { return stats.Consumed("clickstream") == n })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if maxFiles > 40 || maxBytes > budget {
		t.Fatalf("peak %d open files, %d buffered bytes; limits 40 and %d", maxFiles, maxBytes, budget)
	}
	checkExactlyOnce(t, dir, n)
}

const tagSchema = `
name: tagged
topic: tagged
event_time: ts
columns:
  - {name: ts, type: timestamp, format: rfc3339}
  - {name: id, type: int}
  - {name: tag, type: string, optional: true}
  - name: meta
    type: struct
    optional: true
    fields:
      - {name: score, type: float, optional: true}
`

// An extra partition by a free-form column: hostile values stay inside
// their table's folder, and arrival-time folders follow the zone.
func TestPartitionColumnAndArrivalTime(t *testing.T) {
	b := startBroker(t, 1, "tagged")
	s, err := schema.Parse("tagged.yaml", []byte(tagSchema))
	if err != nil {
		t.Fatal(err)
	}
	tags := []string{"../../../etc", "a/b", "..", ".", "x\x00y\n", strings.Repeat("long", 400), "", "ok", "%2F", "é"}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.DefaultProduceTopic("tagged"))
	if err != nil {
		t.Fatal(err)
	}
	arrival := time.Date(2024, 4, 23, 10, 2, 19, 0, time.UTC)
	for i, tag := range tags {
		v := []byte(`{"ts": "2024-04-23T12:05:48Z", "id": ` + string(rune('0'+i)) + `, "tag": ` + quote(tag) + `}`)
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Value: v, Timestamp: arrival}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	cl.Close()
	dir := t.TempDir()
	stats := &Stats{}
	stop := runSink(t, Config{Kafka: kafkaCfg(b), To: "file://" + dir, Stats: stats,
		Tables: []Table{{Topic: "tagged", Schema: s}}, PartitionCol: "tag", PartitionBy: "arrival-time", Zone: "Asia/Kolkata"})
	waitFor(t, "consumed", 20*time.Second, func() bool { return stats.Consumed("tagged") == int64(len(tags)) })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if stats.Rows() != int64(len(tags)) {
		t.Fatalf("%d rows, %d errors", stats.Rows(), stats.Errors())
	}
	var n int64
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if !strings.HasPrefix(rel, "tagged/year=2024/month=04/day=23/hour=15/tag=") {
			t.Errorf("file outside its table and arrival hour (10:02 UTC is 15:32 in Kolkata): %q", rel)
		}
		if strings.Count(rel, "/") != 6 || len(rel) > 300 {
			t.Errorf("value escaped its folder or is overlong: %q", rel)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len(tags)) {
		t.Fatalf("%d files, want one per distinct tag (%d)", n, len(tags))
	}
	// NULL: an absent optional field reads back as NULL, not as "" or 0.
	for _, f := range readLake(t, dir, "tagged") {
		if strings.Contains(f.key, "tag="+nullPartition+"/") {
			if f.cols["tag"][0] != nil || f.cols["meta.score"][0] != nil {
				t.Fatalf("empty tag and absent meta.score: got %v and %v, want NULLs", f.cols["tag"][0], f.cols["meta.score"][0])
			}
		} else if f.cols["tag"][0] == nil {
			t.Fatalf("%s: tag is NULL", f.key)
		}
	}
}

func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteString(`\` + string(r))
		case r < 0x20:
			b.WriteString(`\u00` + string("0123456789abcdef"[r>>4]) + string("0123456789abcdef"[r&15]))
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func TestBackupAndCompression(t *testing.T) {
	b := startBroker(t, 2, "clickstream")
	events := clickEvents(500, time.Second)
	produce(t, b, "clickstream", append(events, []byte(`{"broken": true}`)))
	for _, comp := range []string{"zstd", "gzip", "none"} {
		t.Run(comp, func(t *testing.T) {
			dir := t.TempDir()
			stats := &Stats{}
			stop := runSink(t, Config{Kafka: kafkaCfg(b), Group: "g-" + comp, To: "file://" + dir, Tables: clickTable(t),
				Stats: stats, Compression: comp, Backup: true})
			waitFor(t, "consumed", 20*time.Second, func() bool { return stats.Consumed("clickstream") == 501 })
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			ext := map[string]string{"zstd": ".zstd.parquet", "gzip": ".gz.parquet", "none": "0.parquet"}[comp]
			var rows int64
			for _, f := range readLake(t, dir, "clickstream") {
				if !strings.HasSuffix(f.key, ext) {
					t.Errorf("%s: want suffix %s", f.key, ext)
				}
				rows += f.rows
			}
			raw := readNDJSON(t, dir, "raw/clickstream")
			if rows != 500 || len(raw) != 501 || stats.Errors() != 1 {
				t.Fatalf("%d rows, %d raw records, %d errors; want 500, 501, 1", rows, len(raw), stats.Errors())
			}
		})
	}
}
