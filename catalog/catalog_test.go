package catalog

import (
	"errors"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/internal/fixtures"
	"github.com/sluicehq/sluice/schema"
)

// The Firehose object (concatenated JSON) yields a schema that loads and
// decodes every one of its events with the right types.
func TestInferFirehoseFixture(t *testing.T) {
	data := fixtures.FirehoseObject()
	inf, err := Infer(strings.NewReader(string(data)), InferOptions{Name: "beer_clicks"})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", inf.YAML)
	if inf.Samples != 30 {
		t.Fatalf("%d samples, want 30", inf.Samples)
	}
	s, err := schema.Parse("inferred.yaml", inf.YAML)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]schema.Type{"user_id": schema.Int, "device_id": schema.String, "client_event": schema.String, "client_timestamp": schema.Timestamp}
	if len(s.Columns) != len(want) {
		t.Fatalf("columns %+v", s.Columns)
	}
	for _, c := range s.Columns {
		if want[c.Name] != c.Type || c.Optional {
			t.Errorf("column %s: %s optional=%v, want %s", c.Name, c.Type, c.Optional, want[c.Name])
		}
	}
	if s.EventTime != "client_timestamp" {
		t.Fatalf("event_time %q", s.EventTime)
	}
	if dev := s.Column("device_id"); len(dev.Enum) != 3 {
		t.Errorf("device_id enum %v, want mobile, tablet, computer", dev.Enum)
	}
	codec := schema.NewCodec(s)
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		rec, err := codec.Decode([]byte(line))
		if err != nil {
			t.Fatalf("event %d does not decode with the inferred schema: %v", i, err)
		}
		if codec.EventTime(rec).Year() != 2024 {
			t.Fatalf("event %d: event time %v", i, codec.EventTime(rec))
		}
	}
}

func TestInferWidensAndNests(t *testing.T) {
	in := `{"ts": "2021-07-12 12:01:58.732726", "n": 1, "x": 1, "s": "a", "nested": {"a": 1, "deep": {"b": true}}, "arr": [1]}
{"ts": "2021-07-12 12:01:59", "n": 2.5, "x": "one", "nested": {"a": 2, "c": "2021-07-12T10:00:00Z"}, "opt": null, "bad-key": 1}`
	inf, err := Infer(strings.NewReader(in), InferOptions{Name: "t"})
	if err != nil {
		t.Fatal(err)
	}
	s := inf.Schema
	check := func(name string, typ schema.Type, opt bool) {
		t.Helper()
		c := s.Column(name)
		if c == nil || c.Type != typ || c.Optional != opt {
			t.Errorf("%s: got %+v, want %s optional=%v", name, c, typ, opt)
		}
	}
	check("ts", schema.Timestamp, false)
	check("n", schema.Float, false)
	check("x", schema.String, false)
	check("s", schema.String, true)
	check("nested", schema.Struct, false)
	check("opt", schema.String, true)
	if s.Column("arr") != nil || s.Column("bad-key") != nil {
		t.Error("arrays and non-identifier keys must be left out")
	}
	if s.Column("ts").Format != "2006-01-02 15:04:05.999999999" || s.EventTime != "ts" {
		t.Errorf("ts format %q, event time %q", s.Column("ts").Format, s.EventTime)
	}
	n := s.Column("nested")
	byName := map[string]schema.Column{}
	for _, f := range n.Fields {
		byName[f.Name] = f
	}
	if byName["a"].Type != schema.Int || byName["c"].Type != schema.Timestamp || !byName["c"].Optional ||
		byName["deep"].Type != schema.Struct || !byName["deep"].Optional {
		t.Errorf("nested fields %+v", n.Fields)
	}
	if len(inf.Notes) < 2 {
		t.Errorf("want notes about arr and bad-key, got %v", inf.Notes)
	}
	if _, err := Infer(strings.NewReader("  "), InferOptions{}); err != ErrNoSamples {
		t.Fatalf("empty input: %v", err)
	}
	if _, err := Infer(strings.NewReader(`{"a": 1} [1]`), InferOptions{}); err == nil {
		t.Fatal("a non-object sample was accepted")
	}
}

func TestDDLClickstream(t *testing.T) {
	s, err := schema.Resolve("clickstream")
	if err != nil {
		t.Fatal(err)
	}
	ddl, err := DDL(s, DDLOptions{Database: "lake", Location: "s3://my-lake/events/", PartitionCol: "event_name"})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(ddl)
	for _, want := range []string{
		"CREATE EXTERNAL TABLE IF NOT EXISTS `lake`.`clickstream` (",
		"  `timestamp` timestamp COMMENT 'when the event happened on the client',",
		"  `user_id` string,",
		"  `additional_data` struct<time_on_data:bigint,percent_viewed:double,product_id:bigint,price:double>\n)",
		"PARTITIONED BY (`year` int, `month` int, `day` int, `hour` int, `event_name` string)",
		"STORED AS PARQUET",
		"LOCATION 's3://my-lake/events/clickstream/'",
		"'projection.enabled'='true'",
		"'projection.hour.range'='0,23'",
		"'projection.event_name.type'='enum'",
		"'projection.event_name.values'='Search,AddToCart,ViewContent,Purchase'",
		"'storage.location.template'='s3://my-lake/events/clickstream/year=${year}/month=${month}/day=${day}/hour=${hour}/event_name=${event_name}/'",
	} {
		if !strings.Contains(ddl, want) {
			t.Errorf("DDL lacks %q", want)
		}
	}
	if strings.Contains(ddl, "`event_name` string,") {
		t.Error("the partition column is also a data column")
	}
	for _, bad := range []DDLOptions{{Location: "file:///x"}, {Location: "s3://b", YearRange: "2030,2020"},
		{Location: "s3://b", PartitionCol: "additional_data"}, {Location: "s3://b", Compression: "lzo"}} {
		if _, err := DDL(s, bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	// A column named as an hour folder's key would make two partition keys
	// of one name, which Athena cannot create.
	hs, err := schema.Parse("h", []byte("name: h\ntopic: h\nevent_time: ts\ncolumns:\n  - {name: ts, type: timestamp}\n  - {name: Hour, type: string}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DDL(hs, DDLOptions{Location: "s3://b", PartitionCol: "Hour"}); !errors.Is(err, connector.ErrFolderKeyPartColumn) {
		t.Errorf("partition column Hour: %v, want ErrFolderKeyPartColumn", err)
	}
}
