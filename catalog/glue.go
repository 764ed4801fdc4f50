package catalog

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/glue"
	"github.com/aws/aws-sdk-go-v2/service/glue/types"

	"github.com/sluicehq/sluice/schema"
)

// GlueOptions say where the Glue Data Catalog is.
type GlueOptions struct {
	Database string // required
	Region   string // default: the AWS chain's
	Endpoint string // for tests and VPC endpoints
}

// RegisterGlue creates the table in the Glue Data Catalog, or updates it
// when it exists, with the same columns, partition keys and projection
// properties as DDL. With partition projection, partitions need no
// registration: a new hour is queryable as soon as its first file lands.
func RegisterGlue(ctx context.Context, s *schema.Schema, o DDLOptions, g GlueOptions) error {
	if g.Database == "" {
		return errors.New("--glue-database is required to register in Glue")
	}
	o.Database = g.Database
	t, err := define(s, o)
	if err != nil {
		return err
	}
	var lopts []func(*awsconfig.LoadOptions) error
	if g.Region != "" {
		lopts = append(lopts, awsconfig.WithRegion(g.Region))
	}
	acfg, err := awsconfig.LoadDefaultConfig(ctx, lopts...)
	if err != nil {
		return fmt.Errorf("loading AWS configuration: %w", err)
	}
	cl := glue.NewFromConfig(acfg, func(o *glue.Options) {
		if g.Endpoint != "" {
			o.BaseEndpoint = aws.String(g.Endpoint)
		}
	})
	in := t.glueInput()
	_, err = cl.CreateTable(ctx, &glue.CreateTableInput{DatabaseName: aws.String(t.database), TableInput: in})
	var exists *types.AlreadyExistsException
	if errors.As(err, &exists) {
		_, err = cl.UpdateTable(ctx, &glue.UpdateTableInput{DatabaseName: aws.String(t.database), TableInput: in})
		if err != nil {
			return fmt.Errorf("updating Glue table %s.%s: %w", t.database, t.name, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("creating Glue table %s.%s: %w", t.database, t.name, err)
	}
	return nil
}

func (t *tableDef) glueInput() *types.TableInput {
	cols := func(cs []column) []types.Column {
		out := make([]types.Column, len(cs))
		for i, c := range cs {
			out[i] = types.Column{Name: aws.String(c.name), Type: aws.String(c.typ)}
			if c.comment != "" {
				out[i].Comment = aws.String(c.comment)
			}
		}
		return out
	}
	params := map[string]string{"EXTERNAL": "TRUE", "classification": "parquet"}
	for _, p := range t.props {
		params[p[0]] = p[1]
	}
	return &types.TableInput{
		Name:          aws.String(t.name),
		Description:   aws.String(oneLine(t.schema.Description)),
		TableType:     aws.String("EXTERNAL_TABLE"),
		Parameters:    params,
		PartitionKeys: cols(t.parts),
		StorageDescriptor: &types.StorageDescriptor{
			Columns:      cols(t.columns),
			Location:     aws.String(t.location),
			InputFormat:  aws.String("org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"),
			OutputFormat: aws.String("org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"),
			SerdeInfo: &types.SerDeInfo{
				SerializationLibrary: aws.String("org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"),
				Parameters:           map[string]string{"serialization.format": "1"},
			},
		},
	}
}
