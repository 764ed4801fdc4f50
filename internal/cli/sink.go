package cli

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/processor/rule"
	"github.com/sluicehq/sluice/schema"
)

func newSinkCmd() *cobra.Command {
	var (
		cfg     connector.Config
		obs     obsFlags
		topics  []string
		schemas []string
		sources []string // with --rules: the schemas rules may read
		rules   string
		size    = byteSize(128 << 20)
		budget  = byteSize(512 << 20)
	)
	c := &cobra.Command{
		Use:   "sink",
		Short: "Write topics to Hive-partitioned Parquet on S3 or a local directory, exactly once",
		Long: `Consumes topics with a consumer group and writes each one as a table of
Parquet files (Snappy by default) under
  <prefix>/<table>/year=YYYY/month=MM/day=DD/hour=HH/<topic>+<partition>+<first offset>.snappy.parquet
partitioned by event time (default) or by the Kafka record timestamp
(arrival time, as Firehose does). Offsets are committed only after the files
holding them are durable, and names depend only on content, so a crash or a
rebalance never duplicates nor loses a row. Names also depend on
--compression, --zone, --partition-by, --partition-column and the schema:
change those only after a clean shutdown (exit 0), or the replay of a batch
lost in a crash lands beside the old files instead of replacing them.

Which schema converts a topic: --schema TOPIC=FILE|NAME when given (a schema
file, or a built-in name: ` + strings.Join(schema.Builtin(), ", ") + `), else the built-in
schema whose topic is the topic. The table (folder) is the topic with every
character but letters, digits and _ replaced by _.

Files rotate at --flush-size bytes, at --flush-records records, or
--flush-interval after their first record (even when no more data arrives).
Records that do not match their schema go to <prefix>/errors/<table>/ as gzip
NDJSON with the reason; --backup keeps every source record under
<prefix>/raw/<table>/.

S3 options ride on the URL: region, endpoint (MinIO and other S3-compatible
stores), use_path_style=true, sse=AES256|aws:kms, kms_key_id, storage_class.
Credentials come from the standard AWS chain (environment, profile, IRSA).`,
		Example: `  sluice sink --brokers localhost:9092 --topics clickstream --to file:///data/lake
  sluice sink --topics clickstream,clickstream.high_intent_views \
      --schema clickstream.high_intent_views=clickstream \
      --to 's3://my-lake/events?region=eu-west-1&sse=aws:kms&kms_key_id=alias/lake' \
      --flush-interval 5m --flush-size 256MiB --partition-column event_name
  sluice sink --topics beer_clicks --partition-by arrival-time --zone Europe/Paris \
      --to 's3://lake/raw?endpoint=http://minio:9000&use_path_style=true&region=us-east-1'`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := zeroSinkFlags(&cfg); err != nil {
				return usageErr(err)
			}
			tables, err := sinkTables(topics, schemas, rules, sources)
			if err != nil {
				return usageErr(err)
			}
			cfg.Tables = tables
			cfg.FlushSize, cfg.MemoryBudget = int64(size), int64(budget)
			if err := cfg.Validate(); err != nil {
				return usageErr(err)
			}
			rt, err := obs.start(c)
			if err != nil {
				return err
			}
			defer rt.close()
			cfg.Log, cfg.Reg = rt.log, rt.reg
			return connector.Run(c.Context(), cfg)
		},
	}
	f := c.Flags()
	cfg.Kafka.AddFlags(f)
	f.StringVar(&cfg.Group, "group", "sluice-sink", "consumer group")
	f.StringSliceVar(&topics, "topics", nil, "topics to write, comma separated (required)")
	f.StringVar(&rules, "rules", "", "directory of rule files: each rule's output topic gets the rule's output schema")
	f.StringArrayVar(&schemas, "schema", nil, "TOPIC=FILE|NAME: the schema of a topic (default: the built-in schema of that topic); repeatable, once per topic")
	f.StringSliceVar(&sources, "schemas", schema.Builtin(), "with --rules: schemas the rules may use as source, as for sluice process")
	f.StringVar(&cfg.To, "to", "", "destination: file:///absolute/dir or s3://bucket/prefix?region=..&endpoint=..&use_path_style=true (required)")
	f.DurationVar(&cfg.FlushInterval, "flush-interval", 60*time.Second, "close a partition's files this long after their first record")
	f.Var(&size, "flush-size", "close a partition's files when they hold this much (e.g. 128MiB)")
	f.Int64Var(&cfg.FlushRecords, "flush-records", 0, "close a partition's files after this many records (0: no limit)")
	f.StringVar(&cfg.PartitionBy, "partition-by", "event-time", "hour folders by event-time (the schema's event_time column) or arrival-time (Kafka record timestamp)")
	f.StringVar(&cfg.PartitionCol, "partition-column", "", "also partition by this top-level column, e.g. event_name (values are escaped to stay in their folder)")
	f.StringVar(&cfg.Zone, "zone", "UTC", "time zone of the year/month/day/hour folders")
	f.StringVar(&cfg.Compression, "compression", "snappy", "Parquet compression: snappy, zstd, gzip or none")
	f.BoolVar(&cfg.Backup, "backup", false, "also keep every source record as gzip NDJSON under <prefix>/raw/<table>/")
	f.Var(&budget, "memory-budget", "bytes held by all open files together; the largest partition is flushed when over")
	f.IntVar(&cfg.MaxOpenFiles, "max-open-files", 128, "files open at once across all partitions; the partition with most is flushed when over")
	obs.add(c, "")
	return c
}

// zeroSinkFlags rejects a 0 the user typed where the library reads 0 as
// "the default": --flush-interval 0 would silently become 60s and
// --max-open-files 0 would become 128. (--flush-records 0 means "no limit",
// and the byte sizes refuse 0 when parsed.)
func zeroSinkFlags(cfg *connector.Config) error {
	if cfg.FlushInterval == 0 {
		return fmt.Errorf("--flush-interval 0: give a positive duration")
	}
	if cfg.MaxOpenFiles == 0 {
		return fmt.Errorf("--max-open-files 0: give a positive number")
	}
	return nil
}

// sinkTables maps each topic to its schema: a --schema flag first, then
// the output schema of the rule in rulesDir (loaded with the source
// schemas sources, as sluice process loads it) that writes the topic, then
// the built-in schema of that topic.
func sinkTables(topics, schemas []string, rulesDir string, sources []string) ([]connector.Table, error) {
	if len(topics) == 0 {
		return nil, fmt.Errorf("--topics is required")
	}
	given, err := givenSchemas(schemas)
	if err != nil {
		return nil, err
	}
	byTopic := map[string]string{}
	for _, n := range schema.Builtin() {
		if s, err := schema.Resolve(n); err == nil {
			byTopic[s.Topic] = n
		}
	}
	ruleOut := map[string]*schema.Schema{}
	if rulesDir != "" {
		sc, err := resolveSchemas(sources)
		if err != nil {
			return nil, err
		}
		rs, err := rule.LoadDir(rulesDir, sc)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			ruleOut[r.Output] = r.OutputSchema()
		}
	}
	var tables []connector.Table
	for _, t := range topics {
		ref, ok := given[t]
		if !ok {
			if s, ok := ruleOut[t]; ok {
				tables = append(tables, connector.Table{Topic: t, Schema: s})
				continue
			}
			if ref, ok = byTopic[t]; !ok {
				return nil, fmt.Errorf("topic %q has no schema: give --schema %s=FILE|NAME, or --rules with the rule that writes it", t, t)
			}
		}
		delete(given, t)
		s, err := schema.Resolve(ref)
		if err != nil {
			return nil, fmt.Errorf("--schema for topic %s: %w", t, err)
		}
		tables = append(tables, connector.Table{Topic: t, Schema: s})
	}
	if len(given) > 0 {
		var extra []string
		for t := range given {
			extra = append(extra, t)
		}
		sort.Strings(extra)
		return nil, fmt.Errorf("--schema given for topics not in --topics: %s", strings.Join(extra, ", "))
	}
	return tables, nil
}

// givenSchemas maps each topic of the --schema TOPIC=FILE|NAME flags to its
// schema reference. A topic given twice is an error: keeping the last one
// in silence would convert the topic with a schema the user may not expect.
func givenSchemas(schemas []string) (map[string]string, error) {
	given := map[string]string{}
	for _, s := range schemas {
		topic, ref, ok := strings.Cut(s, "=")
		if !ok || topic == "" || ref == "" {
			return nil, fmt.Errorf("--schema %q: want TOPIC=FILE|NAME", s)
		}
		if prev, dup := given[topic]; dup {
			return nil, fmt.Errorf("--schema given twice for topic %q (%s and %s): give it once", topic, prev, ref)
		}
		given[topic] = ref
	}
	return given, nil
}

// byteSize is a flag of bytes that accepts KiB/MiB/GiB and KB/MB/GB suffixes.
type byteSize int64

func (b *byteSize) String() string {
	v := int64(*b)
	for _, u := range []struct {
		s string
		n int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if v >= u.n && v%u.n == 0 {
			return strconv.FormatInt(v/u.n, 10) + u.s
		}
	}
	return strconv.FormatInt(v, 10)
}

func (b *byteSize) Set(s string) error {
	units := []struct {
		s string
		n int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	num, mult := s, int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.s) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(s, u.s)), u.n
			break
		}
	}
	v, err := strconv.ParseInt(num, 10, 64)
	// Check before multiplying: v * mult would wrap around silently, e.g.
	// (2^34+1)GiB to exactly 1GiB.
	if errors.Is(err, strconv.ErrRange) || (err == nil && v > math.MaxInt64/mult) {
		return fmt.Errorf("%q is too large: at most %d bytes", s, int64(math.MaxInt64))
	}
	if err != nil || v <= 0 {
		return fmt.Errorf("%q is not a positive size like 128MiB", s)
	}
	*b = byteSize(v * mult)
	return nil
}

func (b *byteSize) Type() string { return "bytes" }
