package processor

import (
	"bytes"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestChunkedRecordsKeepTheirOrigin: rules run over chunks of records, so
// each output, dead letter and late event must still come from its own
// input record. One partition of several chunks mixes matches, rule
// errors, late events and undecodable records; every record the worker
// wrote is checked against the input at the offset it names.
func TestChunkedRecordsKeepTheirOrigin(t *testing.T) {
	b := startBroker(t, 1, "clickstream")
	dir := t.TempDir()
	for name, body := range map[string]string{
		// split(...)[1] fails on users without a "-": a rule error.
		"second_part_x": "where: split(user_id, \"-\")[1] == \"x\"\n",
		"per_minute":    "window: {type: tumbling, size: 1m}\naggregate: {n: count()}\n",
	} {
		writeFile(t, dir, name+".yaml", "name: "+name+"\nsource: clickstream\noutput: out."+name+"\n"+body)
	}
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	n := 3*chunkEvents + 100
	var recs []*kgo.Record
	want := map[string]int{}
	late := map[string]bool{} // the late events' offsets
	for i := range n {
		ts, user := start.Add(time.Duration(i)*time.Second), "u"+strconv.Itoa(i%7)
		user += [3]string{"-x", "-y", ""}[i%3] // a match, no match, a rule error
		if i > 700 && i%50 == 0 {
			ts = ts.Add(-10 * time.Minute) // its window closed long ago
		}
		v := fmt.Appendf(nil, `{"timestamp": %q, "user_id": %q, "pixel_id": "px", "click_id": "c%d", "insertion_timestamp": %q, "event_name": "Search", "user_ip": "203.0.113.7", "additional_data": {"time_on_data": 5, "percent_viewed": 1, "product_id": 1, "price": 1}}`,
			ts.Format("2006-01-02 15:04:05"), user, i, ts.Format("2006-01-02 15:04:05"))
		switch {
		case i%97 == 0:
			v = v[:20] // not JSON
			want["invalid"]++
		case i%3 == 0:
			want["match"]++
		case i%3 == 2:
			want["rule_error"]++
		}
		if i > 700 && i%50 == 0 && i%97 != 0 {
			late[strconv.Itoa(i)] = true
		}
		recs = append(recs, &kgo.Record{Partition: 0, Value: v})
	}
	want["late"] = len(late)
	produce(t, b, "clickstream", recs...)
	stats := &Stats{}
	stop := startRun(t, Config{Kafka: kafkaCfg(b), RulesDir: dir, Group: "g", InstanceID: "t", Log: testLog(t), Stats: stats, NoWatch: true})
	waitFor(t, 60*time.Second, "all records consumed", settled(stats, int64(n)))
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	input := func(r *kgo.Record) []byte {
		off, err := strconv.Atoi(header(r, "source_offset"))
		if err != nil || off < 0 || off >= n || header(r, "source_partition") != "0" {
			t.Fatalf("bad origin headers %v", r.Headers)
		}
		return recs[off].Value
	}
	got := map[string]int{}
	for _, r := range readCommitted(t, b, "sluice.dead-letter") {
		reason := "invalid"
		if header(r, "rule") == "second_part_x" {
			reason = "rule_error"
		}
		got[reason]++
		in := input(r)
		if !bytes.Equal(r.Value, in) {
			t.Fatalf("%s dead letter %s names the input %s", reason, r.Value, in)
		}
		if bytes.Contains(in, []byte(`-x"`)) || bytes.Contains(in, []byte(`-y"`)) {
			t.Fatalf("dead letter %s: its user has a second part (%s)", in, header(r, "error"))
		}
	}
	for _, r := range readCommitted(t, b, "sluice.late") {
		got["late"]++
		if in := input(r); !bytes.Equal(r.Value, in) || header(r, "rule") != "per_minute" {
			t.Fatalf("late event %s (rule %q) names the input %s", r.Value, header(r, "rule"), in)
		}
		if off := header(r, "source_offset"); !late[off] {
			t.Fatalf("late event at offset %s: not one of the late events, or sent twice", off)
		}
		delete(late, header(r, "source_offset"))
	}
	var matched [][]byte
	for _, r := range readCommitted(t, b, "out.second_part_x") {
		matched = append(matched, r.Value)
	}
	got["match"] = len(matched)
	for i, j := 0, 0; i < n; i++ {
		if v := recs[i].Value; bytes.Contains(v, []byte(`-x"`)) {
			if j >= len(matched) || !bytes.Equal(matched[j], v) {
				t.Fatalf("output %d is not input %d, the next match", j, i)
			}
			j++
		}
	}
	for _, k := range []string{"match", "rule_error", "late", "invalid"} {
		if got[k] != want[k] || want[k] == 0 {
			t.Errorf("%s: %d records, want %d", k, got[k], want[k])
		}
	}
}
