// Package connector is the sink: it consumes topics with a consumer group,
// converts each record with its table's schema and writes Hive-partitioned
// Parquet to object storage (a local directory or S3), committing offsets
// only after the objects that hold them are durable. It is the MSK Connect /
// Firehose replacement that fills the lake.
package connector

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/internal/kclient"
	"github.com/sluicehq/sluice/schema"
)

// Table maps one topic to the folder its rows land in.
type Table struct {
	Topic  string
	Name   string // folder under the prefix; default the topic with every character but letters, digits and _ made _
	Schema *schema.Schema
}

// Config configures the sink. Zero values take the defaults named below.
type Config struct {
	Kafka  kclient.Config
	Group  string // consumer group; default "sluice-sink"
	Tables []Table
	// To is file:///abs/dir or s3://bucket/prefix?region=..&endpoint=..&use_path_style=true
	// (also sse=AES256|aws:kms, kms_key_id=.., storage_class=..).
	To string

	FlushInterval time.Duration // rotate a partition's files this long after its first record; default 60s
	FlushSize     int64         // rotate when a partition's open files reach this many bytes; default 128 MiB
	FlushRecords  int64         // rotate after this many records in a partition; default 0 (off)
	PartitionBy   string        // event-time (default) or arrival-time (the Kafka record timestamp, as Firehose does)
	PartitionCol  string        // optional extra partition column (top-level string/int/bool), e.g. event_name
	Zone          string        // zone of the year/month/day/hour folders; default UTC
	Compression   string        // snappy (default), zstd, gzip or none
	Backup        bool          // also keep every source record as gzip NDJSON under raw/

	MemoryBudget int64 // bytes buffered across all open files; default 512 MiB
	MaxOpenFiles int   // open files across all partitions; default 128
	RowGroupSize int64 // bytes of a Parquet row group before it is cut; default 32 MiB

	StoreTimeout time.Duration // one object write attempt; default 60s
	RetryBackoff time.Duration // cap of the backoff between write attempts; default 30s
	ShutdownWait time.Duration // how long a shutdown may spend flushing; default 60s

	Log   *slog.Logger
	Reg   prometheus.Registerer
	Stats *Stats // counters the caller can read while Run runs; optional

	// Now is the clock for rotation; default time.Now (tests inject one).
	Now func() time.Time

	loc   *time.Location
	hooks *testHooks
}

// Named configuration errors.
var (
	ErrNoTables      = errors.New("no tables: give at least one topic with its schema")
	ErrBadDest       = errors.New("--to must be file:///absolute/dir or s3://bucket/prefix")
	ErrBadPartition  = errors.New("--partition-by must be event-time or arrival-time")
	ErrBadCompress   = errors.New("--compression must be snappy, zstd, gzip or none")
	ErrBadFlush      = errors.New("flush thresholds and limits must not be negative")
	ErrBadPartColumn = errors.New("--partition-column must name a top-level string, int or bool column of every table")
	// ErrFolderKeyPartColumn: a partition column named year, month, day or
	// hour would repeat that key in the path (year=2024/.../year=x/), and a
	// Hive, Glue or Athena table cannot have two partition keys of one name.
	ErrFolderKeyPartColumn = errors.New("--partition-column cannot be year, month, day or hour: the hour folders use those keys")
)

var nameRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)

// Validate fills defaults and checks the configuration without connecting.
func (c *Config) Validate() error {
	if err := c.Kafka.Validate(); err != nil {
		return err
	}
	if c.Group == "" {
		c.Group = "sluice-sink"
	}
	if len(c.Tables) == 0 {
		return ErrNoTables
	}
	if IsFolderKey(c.PartitionCol) {
		return fmt.Errorf("%w, not %q", ErrFolderKeyPartColumn, c.PartitionCol)
	}
	seenTopic, seenName := map[string]bool{}, map[string]bool{}
	for i := range c.Tables {
		t := &c.Tables[i]
		if t.Schema == nil {
			return fmt.Errorf("table for topic %q: no schema", t.Topic)
		}
		if t.Topic == "" {
			t.Topic = t.Schema.Topic
		}
		if t.Name == "" {
			t.Name = TableName(t.Topic)
		}
		if !nameRe.MatchString(t.Name) || t.Name == "errors" || t.Name == "raw" {
			return fmt.Errorf("table name %q: want letters, digits, _ . - (and not errors or raw, which hold error and backup output)", t.Name)
		}
		if seenTopic[t.Topic] {
			return fmt.Errorf("topic %q is given twice", t.Topic)
		}
		if seenName[t.Name] {
			return fmt.Errorf("table %q is given twice", t.Name)
		}
		seenTopic[t.Topic], seenName[t.Name] = true, true
		if c.PartitionCol != "" {
			col := t.Schema.Column(c.PartitionCol)
			if col == nil || (col.Type != schema.String && col.Type != schema.Int && col.Type != schema.Bool) {
				return fmt.Errorf("%w (table %s)", ErrBadPartColumn, t.Name)
			}
		}
	}
	if _, _, err := parseDest(c.To); err != nil {
		return err
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = 60 * time.Second
	}
	if c.FlushSize == 0 {
		c.FlushSize = 128 << 20
	}
	if c.MemoryBudget == 0 {
		c.MemoryBudget = 512 << 20
	}
	if c.MaxOpenFiles == 0 {
		c.MaxOpenFiles = 128
	}
	if c.RowGroupSize == 0 {
		c.RowGroupSize = 32 << 20
	}
	if c.StoreTimeout == 0 {
		c.StoreTimeout = 60 * time.Second
	}
	if c.RetryBackoff == 0 {
		c.RetryBackoff = 30 * time.Second
	}
	if c.ShutdownWait == 0 {
		c.ShutdownWait = 60 * time.Second
	}
	if err := c.checkLimits(); err != nil {
		return err
	}
	switch c.PartitionBy {
	case "":
		c.PartitionBy = "event-time"
	case "event-time", "arrival-time":
	default:
		return fmt.Errorf("%w, not %q", ErrBadPartition, c.PartitionBy)
	}
	if c.Zone == "" {
		c.Zone = "UTC"
	}
	loc, err := time.LoadLocation(c.Zone)
	if err != nil {
		return fmt.Errorf("--zone %q: %w", c.Zone, err)
	}
	c.loc = loc
	c.Compression = strings.ToLower(c.Compression)
	if c.Compression == "" {
		c.Compression = "snappy"
	}
	if _, ok := codecs[c.Compression]; !ok {
		return fmt.Errorf("%w, not %q", ErrBadCompress, c.Compression)
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Reg == nil {
		c.Reg = prometheus.NewRegistry()
	}
	if c.Stats == nil {
		c.Stats = &Stats{}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return nil
}

// checkLimits names the first flush threshold or limit out of range.
func (c *Config) checkLimits() error {
	for _, l := range []struct {
		name string
		bad  bool
		val  any
	}{
		{"--flush-interval", c.FlushInterval < 0, c.FlushInterval},
		{"--flush-size", c.FlushSize < 0, c.FlushSize},
		{"--flush-records", c.FlushRecords < 0, c.FlushRecords},
		{"--memory-budget", c.MemoryBudget < 0, c.MemoryBudget},
		{"RowGroupSize", c.RowGroupSize < 0, c.RowGroupSize},
		{"StoreTimeout", c.StoreTimeout < 0, c.StoreTimeout},
		{"RetryBackoff", c.RetryBackoff < 0, c.RetryBackoff},
		{"ShutdownWait", c.ShutdownWait < 0, c.ShutdownWait},
	} {
		if l.bad {
			return fmt.Errorf("%w: %s is %v", ErrBadFlush, l.name, l.val)
		}
	}
	if c.MaxOpenFiles < filesPerRecord {
		return fmt.Errorf("%w: --max-open-files must be at least %d (one record may open %d files), not %d",
			ErrBadFlush, filesPerRecord, filesPerRecord, c.MaxOpenFiles)
	}
	return nil
}

// IsFolderKey reports whether col is a key of the hour folders. Glue and
// Hive fold names to lower case, so the match ignores case.
func IsFolderKey(col string) bool {
	switch strings.ToLower(col) {
	case "year", "month", "day", "hour":
		return true
	}
	return false
}

// TableName is the default table (folder) name of a topic: letters, digits
// and underscores, as Athena wants table names.
func TableName(topic string) string {
	b := []byte(topic)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}
