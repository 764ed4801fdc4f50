package cli

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/schema"
)

// runSinkCmd runs sluice sink against a real embedded broker, bounded by a
// deadline: a bad flag the command wrongly accepts starts the sink, which
// stops cleanly at the deadline (exit 0) instead of hanging the test.
func runSinkCmd(t *testing.T, args ...string) (code int, stderr string) {
	t.Helper()
	b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0", Topics: []string{"clickstream"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	root := NewRoot(&out, &errb)
	root.SetArgs(append([]string{"sink", "--brokers", b.Addrs()[0], "--topics", "clickstream", "--to", "file://" + t.TempDir()}, args...))
	if err := root.ExecuteContext(ctx); err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			return ee.code, err.Error()
		}
		return 1, err.Error()
	}
	return 0, errb.String()
}

// A 0 typed on the command line must not silently become the library's
// default (60s, 128): each is a usage error naming its flag.
func TestSinkZeroFlagsAreUsageErrors(t *testing.T) {
	for _, tc := range []struct{ args []string }{
		{[]string{"--flush-interval", "0"}},
		{[]string{"--max-open-files", "0"}},
		{[]string{"--flush-size", "0"}},
		{[]string{"--memory-budget", "0"}},
	} {
		code, stderr := runSinkCmd(t, tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.args[0]) {
			t.Errorf("%v: exit %d, %q; want a usage error naming %s", tc.args, code, stderr, tc.args[0])
		}
	}
}

func TestSinkTables(t *testing.T) {
	tables, err := sinkTables([]string{"clickstream", "clickstream.high_intent_views"},
		[]string{"clickstream.high_intent_views=clickstream"}, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) != 2 || tables[0].Schema.Name != "clickstream" || tables[1].Schema.Name != "clickstream" ||
		tables[1].Topic != "clickstream.high_intent_views" {
		t.Fatalf("%+v", tables)
	}
	for _, bad := range [][2][]string{
		{{"unknown_topic"}, nil},
		{{"clickstream"}, {"other=clickstream"}},
		{{"clickstream"}, {"clickstream"}},
		{{"clickstream"}, {"clickstream=/no/such/file.yaml"}},
		{nil, nil},
	} {
		if _, err := sinkTables(bad[0], bad[1], "", nil); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// --schema given twice for one topic is a usage error: silently keeping
// the last would convert the topic with a schema the user may not expect.
func TestSinkSchemaGivenTwice(t *testing.T) {
	code, stderr := runSinkCmd(t, "--schema", "clickstream=clickstream", "--schema", "clickstream=beer_clicks")
	if code != 2 || !strings.Contains(stderr, `--schema given twice for topic "clickstream"`) {
		t.Fatalf("exit %d, %q; want a usage error naming the topic", code, stderr)
	}
}

// A rule's output topic takes the rule's output schema: window results
// have their own columns.
func TestSinkTablesFromRules(t *testing.T) {
	tables, err := sinkTables([]string{"clickstream", "clickstream.events_per_minute"}, nil, "../../rules", schema.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	if len(tables) != 2 || tables[1].Schema.Column("window_start") == nil || tables[1].Schema.Column("events") == nil {
		t.Fatalf("%+v", tables)
	}
	if _, err := sinkTables([]string{"clickstream.nobody_writes_this"}, nil, "../../rules", schema.Builtin()); err == nil {
		t.Fatal("a topic no rule writes got a schema")
	}
}

func TestSinkUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"sink", "--topics", "clickstream"},
		{"sink", "--topics", "clickstream", "--to", "lake/"},
		{"sink", "--topics", "clickstream", "--to", "file:///tmp/x", "--flush-size", "lots"},
		{"sink", "--topics", "clickstream", "--to", "file:///tmp/x", "--compression", "lz4"},
		{"catalog", "ddl", "--schema", "clickstream"},
		{"schema", "infer"},
	} {
		var out, errb bytes.Buffer
		if code := Main(args, &out, &errb); code != 2 {
			t.Errorf("%v: exit %d (%s), want 2", args, code, errb.String())
		}
	}
	var out, errb bytes.Buffer
	if code := Main([]string{"catalog", "ddl", "--schema", "clickstream", "--location", "s3://b/p"}, &out, &errb); code != 0 ||
		!strings.Contains(out.String(), "LOCATION 's3://b/p/clickstream/'") {
		t.Fatalf("exit %d: %s %s", code, out.String(), errb.String())
	}
	var size byteSize
	for in, want := range map[string]int64{"128MiB": 128 << 20, "1GiB": 1 << 30, "64KB": 64000, "1000": 1000} {
		if err := size.Set(in); err != nil || int64(size) != want {
			t.Errorf("%s: %d %v", in, size, err)
		}
	}
}

// A size too large for int64 is an error, not a wrapped value:
// (2^34+1) GiB wraps to exactly 1 GiB, 2^33 GiB to a negative number.
func TestByteSizeOverflow(t *testing.T) {
	for _, in := range []string{"17179869185GiB", "8589934592GiB", "9223372036854775807KB"} {
		var size byteSize
		if err := size.Set(in); err == nil || !strings.Contains(err.Error(), "too large") {
			t.Errorf("%s: got %d (%v), want a too-large error", in, int64(size), err)
		}
	}
	var size byteSize
	if err := size.Set("8589934591GiB"); err != nil || int64(size) != 8589934591<<30 {
		t.Errorf("largest GiB that fits: %d %v", int64(size), err)
	}
	code, stderr := runSinkCmd(t, "--memory-budget", "17179869185GiB")
	if code != 2 || !strings.Contains(stderr, "--memory-budget") || !strings.Contains(stderr, "too large") {
		t.Errorf("exit %d, %q; want a usage error naming --memory-budget", code, stderr)
	}
}

// The DDL of a rule's output table has the rule's output columns.
func TestCatalogDDLForRule(t *testing.T) {
	code, out, errb := run("catalog", "ddl", "--rules", "../../rules", "--rule", "events_per_minute", "--location", "s3://b/p")
	if code != 0 || !strings.Contains(out, "`window_start` timestamp") || !strings.Contains(out, "LOCATION 's3://b/p/clickstream_events_per_minute/'") {
		t.Fatalf("exit %d: %s %s", code, out, errb)
	}
	for _, args := range [][]string{
		{"catalog", "ddl", "--rules", "../../rules", "--rule", "nope", "--location", "s3://b/p"},
		{"catalog", "ddl", "--rules", "../../rules", "--location", "s3://b/p"},
		{"catalog", "ddl", "--schema", "clickstream", "--rule", "events_per_minute", "--location", "s3://b/p"},
	} {
		if code, _, _ := run(args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
