package connector

import (
	"path"
	"regexp"
	"strings"
	"testing"
	"time"
)

var keyRe = regexp.MustCompile(`^clickstream/year=(\d{4})/month=(\d\d)/day=(\d\d)/hour=(\d\d)/clickstream\+(\d)\+(\d{20})\.snappy\.parquet$`)

// The whole path on local disk: records land once each in the hour folder
// of their event time, read back by an independent Parquet reader with
// their values; bad records go to the error prefix with their reason.
func TestSinkToLocalDisk(t *testing.T) {
	b := startBroker(t, 3, "clickstream")
	const n = 3000
	events := clickEvents(n, 3*time.Second) // 2.5 hours of event time
	bad := [][]byte{[]byte(`{"timestamp": "yesterday"}`), []byte(`not json`), []byte("\xff\xfe")}
	produce(t, b, "clickstream", append(events[:n/2:n/2], bad...))
	produce(t, b, "clickstream", events[n/2:])

	dir := t.TempDir()
	stats := &Stats{}
	stop := runSink(t, Config{Kafka: kafkaCfg(b), Group: "g1", To: "file://" + dir,
		Tables: []Table{{Topic: "clickstream", Schema: builtin(t, "clickstream")}}, Stats: stats})
	waitFor(t, "all records consumed", 30*time.Second, func() bool { return stats.Consumed("clickstream") == n+3 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if stats.Rows() != n || stats.Errors() != 3 {
		t.Fatalf("rows %d errors %d, want %d and 3", stats.Rows(), stats.Errors(), n)
	}

	files := readLake(t, dir, "clickstream")
	seen := map[string]bool{}
	for _, f := range files {
		m := keyRe.FindStringSubmatch(f.key)
		if m == nil {
			t.Fatalf("unexpected object name %s", f.key)
		}
		folderHour := m[1] + "-" + m[2] + "-" + m[3] + " " + m[4]
		for i := range f.rows {
			id := f.cols["click_id"][i].(string)
			if seen[id] {
				t.Fatalf("duplicate click_id %s", id)
			}
			seen[id] = true
			var idx int
			if _, err := fmtSscanHex(id, &idx); err != nil {
				t.Fatal(err)
			}
			ts := time.UnixMicro(f.cols["timestamp"][i].(int64)).UTC()
			if want := clickBase.Add(time.Duration(idx) * 3 * time.Second); !ts.Equal(want) {
				t.Fatalf("row %d: timestamp %v, want %v", idx, ts, want)
			}
			if got := ts.Format("2006-01-02 15"); got != folderHour {
				t.Fatalf("row at %v in folder %s", ts, folderHour)
			}
			if got, want := f.cols["additional_data.product_id"][i].(int64), int64(100000+idx); got != want {
				t.Fatalf("row %d: product_id %d, want %d", idx, got, want)
			}
			if got, want := f.cols["additional_data.price"][i].(float64), float64(idx%1000)+0.25; got != want {
				t.Fatalf("row %d: price %v, want %v", idx, got, want)
			}
			if got, want := f.cols["event_name"][i].(string), []string{"Search", "ViewContent", "AddToCart", "Purchase"}[idx%4]; got != want {
				t.Fatalf("row %d: event_name %s, want %s", idx, got, want)
			}
		}
	}
	if len(seen) != n {
		t.Fatalf("read back %d distinct rows, want %d", len(seen), n)
	}
	if len(files) < 3*3 {
		t.Fatalf("%d files, want at least one per hour and partition", len(files))
	}

	errs := readNDJSON(t, dir, "errors/clickstream")
	if len(errs) != 3 {
		t.Fatalf("%d error records, want 3: %v", len(errs), errs)
	}
	for _, e := range errs {
		if e["reason"] == "" || e["topic"] != "clickstream" {
			t.Errorf("error record without reason or source: %v", e)
		}
		if e["value"] == nil && e["value_base64"] == nil {
			t.Errorf("error record without the record: %v", e)
		}
	}
	_ = path.Base
	_ = strings.Contains
}
