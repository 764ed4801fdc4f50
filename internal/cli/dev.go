package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/internal/dev"
)

func newDevCmd() *cobra.Command {
	var (
		cfg dev.Config
		obs obsFlags
	)
	c := &cobra.Command{
		Use:   "dev",
		Short: "Run the whole pipeline in one process on an embedded broker",
		Long: `Starts the embedded Kafka-compatible broker, a clickstream generator, the
processor over the rule files and the Parquet sink writing Hive-partitioned
files into a local lake. Shows a live status line; on Ctrl-C or after
--duration it stops generating, lets the workers catch up, flushes, and prints
a summary with how to query the lake.`,
		Example: `  sluice dev                                  # until Ctrl-C, 1000 events/s, lake in ./lake
  sluice dev --duration 20s --lake /tmp/lake
  sluice dev --rate 0 --count 100000          # as fast as possible`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if err := cfg.Validate(); err != nil {
				return usageErr(err)
			}
			rt, err := obs.start(c)
			if err != nil {
				return err
			}
			defer rt.close()
			cfg.Log, cfg.Reg, cfg.Status = rt.log, rt.reg, c.OutOrStdout()
			fmt.Fprintf(c.OutOrStdout(), "sluice dev: rules from %s, lake in %s (Ctrl-C stops and flushes)\n", cfg.RulesDir, cfg.Lake)
			sum, err := dev.Run(c.Context(), cfg)
			if sum != nil {
				sum.Print(c.OutOrStdout())
			}
			return err
		},
	}
	f := c.Flags()
	f.Float64Var(&cfg.Rate, "rate", 1000, "events per second to generate (0: as fast as possible)")
	f.DurationVar(&cfg.Duration, "duration", 0, "stop after this long (0: until Ctrl-C)")
	f.Int64Var(&cfg.Count, "count", 0, "stop after this many events (0: no limit)")
	f.Int64Var(&cfg.Seed, "seed", 0, "generator seed (0: random, logged)")
	f.IntVar(&cfg.Users, "users", 1000, "distinct users in the generated traffic")
	f.StringVar(&cfg.Schema, "schema", "clickstream", "schema of the generated events (built-in name or file)")
	f.StringVar(&cfg.RulesDir, "rules", "rules", "directory of rule files")
	f.StringVar(&cfg.Lake, "lake", "lake", "directory the Parquet lake is written to")
	f.DurationVar(&cfg.FlushInterval, "flush-interval", 0, "close Parquet files at least this often (default 10s in dev)")
	f.StringVar(&cfg.BrokerAddr, "broker-listen", "127.0.0.1:0", "address of the embedded broker (fixed port: other clients can join)")
	obs.add(c, "")
	return c
}
