package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/catalog"
	"github.com/sluicehq/sluice/processor/rule"
	"github.com/sluicehq/sluice/schema"
)

func newCatalogCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "catalog",
		Short: "Table definitions for Athena and Glue over the lake the sink writes",
	}
	c.AddCommand(newCatalogDDLCmd())
	return group(c)
}

func newCatalogDDLCmd() *cobra.Command {
	var (
		o        catalog.DDLOptions
		g        catalog.GlueOptions
		ref      string
		rulesDir string
		ruleName string
		schemas  []string
	)
	c := &cobra.Command{
		Use:   "ddl",
		Short: "Print the Athena CREATE EXTERNAL TABLE for a schema, with partition projection",
		Long: `Prints the CREATE EXTERNAL TABLE statement for the table 'sluice sink'
writes for a schema: Parquet, nested objects as struct<...>, timestamps as
timestamp, and year/month/day/hour partitions found by partition projection,
so new hours are queryable at once without a crawler or MSCK REPAIR TABLE.

--location is the sink's --to (s3://bucket/prefix); the table folder is
appended, as the sink does. Give the sink's --partition-column and
--compression too if you set them.

With --glue-database, the table is also created (or updated) in the Glue
Data Catalog through the Glue API, with credentials from the standard AWS
chain. Partition projection means no partition ever needs registering.`,
		Example: `  sluice catalog ddl --schema clickstream --location s3://my-lake/events --database lake
  sluice catalog ddl --schema ./schemas/orders.yaml --location s3://lake/raw --partition-column event_name
  sluice catalog ddl --rules rules/ --rule events_per_minute --location s3://my-lake/events   # a rule's output table
  sluice catalog ddl --schema clickstream --location s3://my-lake/events --glue-database lake --glue-region eu-west-1`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			s, err := ddlSchema(ref, rulesDir, ruleName, schemas)
			if err != nil {
				return usageErr(err)
			}
			ddl, err := catalog.DDL(s, o)
			if err != nil {
				return usageErr(err)
			}
			if _, err := fmt.Fprint(c.OutOrStdout(), ddl); err != nil {
				return err
			}
			if g.Database == "" {
				return nil
			}
			if err := catalog.RegisterGlue(c.Context(), s, o, g); err != nil {
				return err
			}
			fmt.Fprintf(c.ErrOrStderr(), "registered the table in Glue database %s\n", g.Database)
			return nil
		},
	}
	f := c.Flags()
	f.StringVar(&ref, "schema", "", "schema file or built-in name (or --rules with --rule)")
	f.StringVar(&rulesDir, "rules", "", "directory of rule files, for --rule")
	f.StringVar(&ruleName, "rule", "", "the rule whose output table to describe (with --rules)")
	f.StringSliceVar(&schemas, "schemas", schema.Builtin(), "with --rules: schemas the rules may use as source, as for sluice process")
	f.StringVar(&o.Location, "location", "", "the sink's --to: s3://bucket/prefix (required)")
	f.StringVar(&o.Database, "database", "", "database (Glue catalog) to create the table in")
	f.StringVar(&o.Table, "table", "", "table and folder name (default: the sink's, the topic with non-identifier characters as _)")
	f.StringVar(&o.PartitionCol, "partition-column", "", "the sink's --partition-column, if set")
	f.StringVar(&o.Compression, "compression", "snappy", "the sink's --compression")
	f.StringVar(&o.YearRange, "year-range", "2020,2035", "years partition projection covers, FROM,TO")
	f.StringVar(&g.Database, "glue-database", "", "also create or update the table in this Glue database")
	f.StringVar(&g.Region, "glue-region", "", "Glue region (default: the AWS chain's)")
	f.StringVar(&g.Endpoint, "glue-endpoint", "", "Glue endpoint URL (VPC endpoints, tests)")
	return c
}

// ddlSchema is the schema the DDL describes: a schema file or built-in, or
// the output schema of a rule (a window rule's table has its own columns).
func ddlSchema(ref, rulesDir, ruleName string, schemas []string) (*schema.Schema, error) {
	switch {
	case ref != "" && (rulesDir != "" || ruleName != ""):
		return nil, fmt.Errorf("give --schema, or --rules with --rule, not both")
	case ref != "":
		return schema.Resolve(ref)
	case rulesDir == "" || ruleName == "":
		return nil, fmt.Errorf("--schema, or --rules with --rule, is required")
	}
	// The directory loads as sluice process loads it: with the built-ins
	// alone, one rule on a schema of the user's own would fail them all.
	sc, err := resolveSchemas(schemas)
	if err != nil {
		return nil, err
	}
	rs, err := rule.LoadDir(rulesDir, sc)
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		if r.Name == ruleName {
			return r.OutputSchema(), nil
		}
	}
	return nil, fmt.Errorf("--rule %s: no such rule in %s", ruleName, rulesDir)
}
