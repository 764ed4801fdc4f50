package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/internal/kclient"
	"github.com/sluicehq/sluice/processor"
	"github.com/sluicehq/sluice/schema"
)

// runProcessor runs the processor; tests replace it to see the config the
// flags make.
var runProcessor = processor.Run

func newProcessCmd() *cobra.Command {
	var (
		cfg     processor.Config
		obs     obsFlags
		schemas []string
	)
	c := &cobra.Command{
		Use:   "process",
		Short: "Run rule files over Kafka topics: filters and windowed aggregations, exactly once",
		Long: `Runs every rule file in --rules over its source topic and writes each rule's
output topic. Outputs, window state and input offsets are committed in one
Kafka transaction, so read_committed consumers see every output exactly once
across crashes and rebalances. Events that do not fit their schema go to the
dead-letter topic, events later than their window to the late topic, both
with headers saying why. Rule files are reloaded when they change; an
invalid edit is logged and the previous rules keep running.

Rule file reference: docs/processor.md.`,
		Example: `  sluice process --brokers localhost:9092 --rules ./rules
  sluice process --brokers b-1.msk:9098 --sasl-mechanism aws-msk-iam --tls --rules /etc/sluice/rules --group fraud`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			var err error
			if cfg.Schemas, err = resolveSchemas(schemas); err != nil {
				return usageErr(err)
			}
			// The library reads 0 as "the default"; on the command line a
			// 0 the user typed would silently become 1m or 10000.
			if cfg.IdleTimeout == 0 {
				return usageErr(fmt.Errorf("--idle-timeout 0: give a positive duration, or a negative one for never"))
			}
			if cfg.CommitInterval == 0 {
				cfg.CommitInterval = -1 // typed 0: a transaction per poll
			}
			if cfg.MaxPollRecords == 0 {
				return usageErr(fmt.Errorf("--max-poll-records 0: give a positive number"))
			}
			if err := cfg.Validate(); err != nil {
				return usageErr(err)
			}
			rt, err := obs.start(c)
			if err != nil {
				return err
			}
			defer rt.close()
			cfg.Log, cfg.Reg = rt.log, rt.reg
			return runProcessor(c.Context(), cfg)
		},
	}
	f := c.Flags()
	cfg.Kafka.AddFlags(f)
	f.StringVar(&cfg.RulesDir, "rules", "rules", "directory of rule files (*.yaml, *.sql), watched for changes")
	f.StringVar(&cfg.Group, "group", "sluice-process", "consumer group; workers of one group share the source partitions")
	f.StringVar(&cfg.InstanceID, "instance-id", "", "this worker's stable, unique name in the group (default: the host name); the transactional ID is GROUP-INSTANCE")
	f.StringVar(&cfg.DeadLetterTopic, "dead-letter-topic", "sluice.dead-letter", "topic for undecodable or schema-invalid events")
	f.StringVar(&cfg.LateTopic, "late-topic", "sluice.late", "topic for events that arrive after their window closed")
	f.DurationVar(&cfg.IdleTimeout, "idle-timeout", time.Minute, "a partition without events this long stops holding windows open (negative: never)")
	f.IntVar(&cfg.MaxPollRecords, "max-poll-records", 10000, "most input records per transaction")
	f.DurationVar(&cfg.CommitInterval, "commit-interval", 100*time.Millisecond, "a transaction gathers input this long unless --max-poll-records come first (0: a transaction per poll)")
	f.StringVar(&cfg.Compression, "compression", "snappy", "batch compression of what the worker writes (outputs, state, internal topics): "+kclient.Compressions)
	f.BoolVar(&cfg.NoWatch, "no-watch", false, "do not reload rule files when they change")
	f.StringSliceVar(&schemas, "schemas", schema.Builtin(), "schemas rules may use as source: built-in names or schema files")
	obs.add(c, "")
	return c
}

// resolveSchemas loads the named schemas, keyed by schema name.
func resolveSchemas(names []string) (map[string]*schema.Schema, error) {
	m, err := schema.ResolveAll(names)
	if err != nil {
		return nil, fmt.Errorf("--schemas: %w", err)
	}
	return m, nil
}
