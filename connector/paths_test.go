package connector

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/kclient"
	"github.com/sluicehq/sluice/schema"
)

func TestPartValue(t *testing.T) {
	for in, want := range map[string]string{
		"Search":        "Search",
		"":              nullPartition,
		"..":            "%2E%2E",
		".":             "%2E",
		"../../etc":     "..%2F..%2Fetc",
		"a/b\\c":        "a%2Fb%5Cc",
		"x\x00y\n":      "x%00y%0A",
		"k=v%":          "k%3Dv%25",
		"v1.2-beta_3":   "v1.2-beta_3",
		"é":             "%C3%A9",
		"with space":    "with%20space",
		"__HIVE_x__":    "__HIVE_x__",
		"%2F":           "%252F",
		"dots...inside": "dots...inside",
	} {
		if got := partValue(in); got != want {
			t.Errorf("partValue(%q) = %q, want %q", in, got, want)
		}
	}
	long1, long2 := strings.Repeat("a", 500)+"1", strings.Repeat("a", 500)+"2"
	if p1, p2 := partValue(long1), partValue(long2); len(p1) > maxPartValue || p1 == p2 {
		t.Errorf("overlong values: %q (%d bytes), %q", p1, len(p1), p2)
	}
}

// No value can leave its folder, name a parent, or grow without bound.
func FuzzPartValue(f *testing.F) {
	for _, s := range []string{"", "..", "../x", "/", "a\x00", strings.Repeat("%", 300), "Search"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		p := partValue(v)
		if p == "" || p == "." || p == ".." || strings.ContainsAny(p, "/\\\x00\n\r") || len(p) > maxPartValue {
			t.Fatalf("partValue(%q) = %q", v, p)
		}
		for _, c := range []byte(p) {
			if c < 0x20 || c > 0x7e {
				t.Fatalf("partValue(%q) = %q has byte %#x", v, p, c)
			}
		}
	})
}

func TestObjectKey(t *testing.T) {
	h := hourOf(time.Date(2024, 4, 23, 10, 2, 19, 0, time.UTC), time.UTC)
	got := objectKey("clickstream", folderKey{kind: kindParquet, hour: h, part: "Search"}, "event_name", "clickstream", 3, 42, "snappy.parquet")
	want := "clickstream/year=2024/month=04/day=23/hour=10/event_name=Search/clickstream+3+00000000000000000042.snappy.parquet"
	if got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
	got = objectKey("clickstream", folderKey{kind: kindErrors, hour: h}, "event_name", "clickstream", 0, 7, "ndjson.gz")
	if want := "errors/clickstream/year=2024/month=04/day=23/hour=10/clickstream+0+00000000000000000007.ndjson.gz"; got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
	paris, _ := time.LoadLocation("Europe/Paris")
	if got := hourOf(time.Date(2024, 12, 31, 23, 30, 0, 0, time.UTC), paris).path(); got != "year=2025/month=01/day=01/hour=00" {
		t.Fatalf("zone: %s", got)
	}
}

func TestConfigValidate(t *testing.T) {
	sch := builtin(t, "clickstream")
	ok := func() Config {
		return Config{Kafka: kclient.Config{Brokers: []string{"127.0.0.1:9092"}}, To: "file:///tmp/lake", Tables: []Table{{Topic: "clickstream", Schema: sch}}}
	}
	c := ok()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.FlushInterval != time.Minute || c.FlushSize != 128<<20 || c.Compression != "snappy" || c.PartitionBy != "event-time" ||
		c.Tables[0].Name != "clickstream" || c.Group != "sluice-sink" {
		t.Fatalf("defaults: %+v", c)
	}
	for name, tc := range map[string]struct {
		mod  func(*Config)
		want error
	}{
		"no tables":       {func(c *Config) { c.Tables = nil }, ErrNoTables},
		"relative file":   {func(c *Config) { c.To = "file://lake" }, ErrBadDest},
		"no scheme":       {func(c *Config) { c.To = "/tmp/lake" }, ErrBadDest},
		"gs":              {func(c *Config) { c.To = "gs://b/p" }, ErrBadDest},
		"s3 no bucket":    {func(c *Config) { c.To = "s3:///p" }, ErrBadDest},
		"s3 bad option":   {func(c *Config) { c.To = "s3://b/p?regoin=x" }, ErrBadDest},
		"s3 bad sse":      {func(c *Config) { c.To = "s3://b/p?sse=des" }, ErrBadDest},
		"partition by":    {func(c *Config) { c.PartitionBy = "offset" }, ErrBadPartition},
		"compression":     {func(c *Config) { c.Compression = "lz5" }, ErrBadCompress},
		"negative size":   {func(c *Config) { c.FlushSize = -1 }, ErrBadFlush},
		"partition col":   {func(c *Config) { c.PartitionCol = "additional_data" }, ErrBadPartColumn},
		"unknown pcol":    {func(c *Config) { c.PartitionCol = "nope" }, ErrBadPartColumn},
		"reserved table":  {func(c *Config) { c.Tables[0].Name = "errors" }, nil},
		"traversal table": {func(c *Config) { c.Tables[0].Name = "../x" }, nil},
		"zone":            {func(c *Config) { c.Zone = "Mars/Olympus" }, nil},
	} {
		c := ok()
		tc.mod(&c)
		err := c.Validate()
		if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: got %v, want %v", name, err, tc.want)
		}
	}
	c = ok()
	c.To = "s3://lake/events?region=eu-west-1&endpoint=http://127.0.0.1:9000&use_path_style=true&sse=aws:kms&kms_key_id=k&storage_class=STANDARD_IA"
	c.PartitionCol = "event_name"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if TableName("clickstream.high_intent-views") != "clickstream_high_intent_views" {
		t.Fatal(TableName("clickstream.high_intent-views"))
	}
	// An out-of-range limit is named, with the bound it misses.
	for want, mod := range map[string]func(*Config){
		"--max-open-files must be at least 2": func(c *Config) { c.MaxOpenFiles = 1 },
		"--flush-interval is -1s":             func(c *Config) { c.FlushInterval = -time.Second },
	} {
		c := ok()
		mod(&c)
		if err := c.Validate(); !errors.Is(err, ErrBadFlush) || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want ErrBadFlush saying %q", err, want)
		}
	}
}

// A partition column named like a folder key of the hour folders would put
// that key twice in the path (year=2024/.../year=x/), which Athena, Glue and
// Hive cannot express; Glue folds names to lower case, so Hour clashes too.
func TestConfigRejectsFolderKeyAsPartitionColumn(t *testing.T) {
	sch, err := schema.Parse("folder_keys.yaml", []byte(`name: folder_keys
topic: folder_keys
event_time: ts
columns:
  - {name: ts, type: timestamp, format: rfc3339}
  - {name: year, type: int}
  - {name: month, type: string}
  - {name: day, type: bool}
  - {name: Hour, type: int}
  - {name: page, type: string}
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg := func(col string) Config {
		return Config{Kafka: kclient.Config{Brokers: []string{"127.0.0.1:9092"}}, To: "file:///tmp/lake",
			Tables: []Table{{Topic: "folder_keys", Schema: sch}}, PartitionCol: col}
	}
	for _, col := range []string{"year", "month", "day", "Hour"} {
		c := cfg(col)
		if err := c.Validate(); !errors.Is(err, ErrFolderKeyPartColumn) {
			t.Errorf("--partition-column %s: got %v, want ErrFolderKeyPartColumn", col, err)
		}
	}
	c := cfg("page")
	if err := c.Validate(); err != nil {
		t.Fatalf("--partition-column page: %v", err)
	}
}
