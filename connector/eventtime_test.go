package connector

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/schema"
)

// A schema may let the event time be absent. An event-time folder cannot
// hold such a record (it would go to year=0001, which no query reads), so
// it goes to the error prefix with the reason; arrival-time folders keep
// it as a row. Nothing is lost either way.
func TestMissingOptionalEventTime(t *testing.T) {
	sch, err := schema.Parse("opt_time", []byte("name: opt_time\ntopic: opt_time\nevent_time: ts\ncolumns:\n"+
		"  - {name: id, type: string}\n  - {name: ts, type: timestamp, format: rfc3339, optional: true}\n"))
	if err != nil {
		t.Fatal(err)
	}
	values := [][]byte{[]byte(`{"id": "a", "ts": "2024-03-01T10:15:00Z"}`), []byte(`{"id": "b"}`), []byte(`{"id": "c", "ts": "2024-03-01T11:45:00Z"}`)}
	for _, by := range []string{"event-time", "arrival-time"} {
		t.Run(by, func(t *testing.T) {
			b := startBroker(t, 1, "opt_time")
			produce(t, b, "opt_time", values)
			dir, stats := t.TempDir(), &Stats{}
			stop := runSink(t, Config{Kafka: kafkaCfg(b), Group: "g", To: "file://" + dir, PartitionBy: by,
				Tables: []Table{{Topic: "opt_time", Schema: sch}}, Stats: stats})
			waitFor(t, "all records consumed", 30*time.Second, func() bool { return stats.Consumed("opt_time") == 3 })
			if err := stop(); err != nil {
				t.Fatal(err)
			}
			folders := map[string]string{} // id → hour folder
			for _, f := range readLake(t, dir, "opt_time") {
				for _, id := range f.cols["id"] {
					folders[id.(string)] = f.key[:strings.LastIndex(f.key, "/")]
				}
			}
			errs := readNDJSON(t, dir, "errors/opt_time")
			if by == "arrival-time" {
				if len(folders) != 3 || len(errs) != 0 {
					t.Fatalf("rows %v, errors %v: want all 3 as rows", folders, errs)
				}
				return
			}
			if len(folders) != 2 || folders["a"] != "opt_time/year=2024/month=03/day=01/hour=10" || folders["c"] != "opt_time/year=2024/month=03/day=01/hour=11" {
				t.Fatalf("rows in %v, want a and c in their event hours", folders)
			}
			if len(errs) != 1 || errs[0]["value"] != `{"id": "b"}` || !strings.Contains(errs[0]["reason"].(string), "no ts") {
				t.Fatalf("error records %v, want b with the reason", errs)
			}
		})
	}
}
