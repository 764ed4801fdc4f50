package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/catalog"
)

func newSchemaCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "schema",
		Short: "Work with schema files",
	}
	c.AddCommand(newSchemaInferCmd())
	return group(c)
}

func newSchemaInferCmd() *cobra.Command {
	var (
		o   catalog.InferOptions
		out string
	)
	c := &cobra.Command{
		Use:   "infer FILE|-",
		Short: "Print a schema file inferred from sample events",
		Long: `Reads sample events (NDJSON, or JSON objects one after another as Firehose
writes them to S3) and prints a schema file that decodes all of them, like a
Glue crawler: types widened across samples (int, then float, then string),
nested objects as struct columns, timestamp formats detected, fields missing
or null in some samples marked optional, small closed sets of strings
proposed as enums, a timestamp picked as event_time. Notes on fields left
out (arrays, keys that are not identifiers) go to stderr and into the file
as comments. Review the result before using it.`,
		Example: `  sluice schema infer PUT-S3-clickstreamdata-1-2024-04-23-10-02-19-... --name beer_clicks > beer_clicks.yaml
  kcat -C -t orders -c 1000 -e | sluice schema infer - --name orders -o orders.yaml`,
		Args: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErr(fmt.Errorf("%s: want one FILE (or - for stdin)", c.CommandPath()))
			}
			return nil
		},
		RunE: func(c *cobra.Command, args []string) error {
			if err := o.Validate(); err != nil {
				return usageErr(err)
			}
			var r io.Reader = c.InOrStdin()
			if args[0] != "-" {
				f, err := os.Open(args[0])
				if err != nil {
					return usageErr(err)
				}
				defer f.Close()
				r = f
			}
			inf, err := catalog.Infer(r, o)
			if err != nil {
				return fmt.Errorf("inferring from %s: %w", args[0], err)
			}
			for _, n := range inf.Notes {
				fmt.Fprintln(c.ErrOrStderr(), "note:", n)
			}
			if out == "" {
				_, err = c.OutOrStdout().Write(inf.YAML)
				return err
			}
			if err := os.WriteFile(filepath.Clean(out), inf.YAML, 0o644); err != nil {
				return fmt.Errorf("writing %s: %w", out, err)
			}
			fmt.Fprintf(c.ErrOrStderr(), "wrote %s (%d columns from %d events)\n", out, len(inf.Schema.Columns), inf.Samples)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&o.Name, "name", "events", "schema name (an identifier)")
	f.StringVar(&o.Topic, "topic", "", "topic of the stream (default: the name)")
	f.StringVar(&o.Zone, "zone", "UTC", "zone of timestamps written without one")
	f.StringVarP(&out, "out", "o", "", "write the schema here instead of stdout")
	return c
}
