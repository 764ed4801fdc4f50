// Package catalog turns schema files into what a query engine needs: the
// Athena/Glue CREATE EXTERNAL TABLE for the sink's layout (with partition
// projection, so no crawler and no MSCK REPAIR), and infers schema files
// from sample events, as a Glue crawler would.
package catalog

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/schema"
)

// DDLOptions describe where and how the sink wrote a table.
type DDLOptions struct {
	Database     string // optional: qualifies the table name
	Table        string // table and folder name; default the sink's: the topic with non-identifier characters as _
	Location     string // the sink's --to: s3://bucket/prefix (the table folder is appended)
	PartitionCol string // the sink's --partition-column, if any
	Compression  string // snappy (default), zstd, gzip or none
	YearRange    string // projected years, "2020,2035" by default
}

// Named errors of DDL.
var (
	ErrLocation = errors.New("--location must be s3://bucket/prefix (the sink's --to)")
	ErrYears    = errors.New("--year-range must be FROM,TO years")
)

var simpleIdent = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// reserved are names Athena's DDL parser (Hive) needs quoted inside struct<>.
var reserved = map[string]bool{"timestamp": true, "date": true, "time": true, "interval": true, "user": true,
	"order": true, "group": true, "table": true, "select": true, "from": true, "where": true, "partition": true,
	"year": false, "values": true, "function": true, "current_date": true, "current_timestamp": true}

// tableDef is the table the sink writes for a schema, whatever renders it
// (DDL text or a Glue TableInput).
type tableDef struct {
	schema   *schema.Schema
	database string
	name     string
	location string
	columns  []column // data columns
	parts    []column // partition keys
	props    [][2]string
}

type column struct{ name, typ, comment string }

func define(s *schema.Schema, o DDLOptions) (*tableDef, error) {
	u, err := url.Parse(o.Location)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return nil, fmt.Errorf("%w (got %q)", ErrLocation, o.Location)
	}
	if o.Table == "" {
		o.Table = connector.TableName(s.Topic)
	}
	if o.YearRange == "" {
		o.YearRange = "2020,2035"
	}
	from, to, ok := strings.Cut(o.YearRange, ",")
	y1, e1 := strconv.Atoi(strings.TrimSpace(from))
	y2, e2 := strconv.Atoi(strings.TrimSpace(to))
	if !ok || e1 != nil || e2 != nil || y1 < 1000 || y2 > 9999 || y1 > y2 {
		return nil, fmt.Errorf("%w (got %q)", ErrYears, o.YearRange)
	}
	comp := map[string]string{"": "SNAPPY", "snappy": "SNAPPY", "zstd": "ZSTD", "gzip": "GZIP", "none": "UNCOMPRESSED"}[strings.ToLower(o.Compression)]
	if comp == "" {
		return nil, fmt.Errorf("--compression %q: want snappy, zstd, gzip or none", o.Compression)
	}
	var pcol *schema.Column
	if connector.IsFolderKey(o.PartitionCol) {
		return nil, fmt.Errorf("%w, not %q", connector.ErrFolderKeyPartColumn, o.PartitionCol)
	}
	if o.PartitionCol != "" {
		pcol = s.Column(o.PartitionCol)
		if pcol == nil || (pcol.Type != schema.String && pcol.Type != schema.Int && pcol.Type != schema.Bool) {
			return nil, fmt.Errorf("--partition-column %q must name a top-level string, int or bool column", o.PartitionCol)
		}
	}
	t := &tableDef{schema: s, database: strings.ToLower(o.Database), name: strings.ToLower(o.Table)}
	t.location = "s3://" + u.Host + "/"
	if p := strings.Trim(u.Path, "/"); p != "" {
		t.location += p + "/"
	}
	t.location += o.Table + "/"
	for i := range s.Columns {
		c := &s.Columns[i]
		if pcol != nil && c.Name == pcol.Name {
			// Athena forbids a partition key with the name of a column:
			// the value is read from the folder instead.
			continue
		}
		t.columns = append(t.columns, column{c.Name, athenaType(c), oneLine(c.Description)})
	}
	for _, p := range []string{"year", "month", "day", "hour"} {
		t.parts = append(t.parts, column{name: p, typ: "int"})
	}
	if pcol != nil {
		t.parts = append(t.parts, column{name: pcol.Name, typ: "string"})
	}
	t.props = [][2]string{
		{"parquet.compression", comp},
		{"projection.enabled", "true"},
		{"projection.year.type", "integer"},
		{"projection.year.range", fmt.Sprintf("%d,%d", y1, y2)},
		{"projection.month.type", "integer"},
		{"projection.month.range", "1,12"},
		{"projection.month.digits", "2"},
		{"projection.day.type", "integer"},
		{"projection.day.range", "1,31"},
		{"projection.day.digits", "2"},
		{"projection.hour.type", "integer"},
		{"projection.hour.range", "0,23"},
		{"projection.hour.digits", "2"},
	}
	tmpl := t.location + "year=${year}/month=${month}/day=${day}/hour=${hour}"
	if pcol != nil {
		if len(pcol.Enum) > 0 {
			t.props = append(t.props, [2]string{"projection." + pcol.Name + ".type", "enum"},
				[2]string{"projection." + pcol.Name + ".values", strings.Join(pcol.Enum, ",")})
		} else {
			// Free-form values: queries name the value they want.
			t.props = append(t.props, [2]string{"projection." + pcol.Name + ".type", "injected"})
		}
		tmpl += "/" + pcol.Name + "=${" + pcol.Name + "}"
	}
	t.props = append(t.props, [2]string{"storage.location.template", tmpl + "/"})
	return t, nil
}

// DDL returns the Athena CREATE EXTERNAL TABLE statement for s as written
// by the sink: Parquet, nested objects as struct<...>, timestamps as
// timestamp (the sink writes TIMESTAMP(MICROS) in UTC), and year/month/day/
// hour partitions found by projection.
func DDL(s *schema.Schema, o DDLOptions) (string, error) {
	t, err := define(s, o)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	name := "`" + t.name + "`"
	if t.database != "" {
		name = "`" + t.database + "`." + name
	}
	fmt.Fprintf(&b, "-- %s: %s\n", s.Name, oneLine(s.Description))
	fmt.Fprintf(&b, "-- Written by `sluice sink` under %s; partitions are projected, no crawler or MSCK REPAIR needed.\n", t.location)
	fmt.Fprintf(&b, "CREATE EXTERNAL TABLE IF NOT EXISTS %s (\n", name)
	cols := make([]string, len(t.columns))
	for i, c := range t.columns {
		cols[i] = fmt.Sprintf("  `%s` %s", c.name, c.typ)
		if c.comment != "" {
			cols[i] += fmt.Sprintf(" COMMENT '%s'", sqlString(c.comment))
		}
	}
	b.WriteString(strings.Join(cols, ",\n"))
	b.WriteString("\n)\n")
	parts := make([]string, len(t.parts))
	for i, p := range t.parts {
		parts[i] = fmt.Sprintf("`%s` %s", p.name, p.typ)
	}
	fmt.Fprintf(&b, "PARTITIONED BY (%s)\n", strings.Join(parts, ", "))
	b.WriteString("STORED AS PARQUET\n")
	fmt.Fprintf(&b, "LOCATION '%s'\n", sqlString(t.location))
	b.WriteString("TBLPROPERTIES (\n")
	for i, p := range t.props {
		sep := ","
		if i == len(t.props)-1 {
			sep = ""
		}
		fmt.Fprintf(&b, "  '%s'='%s'%s\n", p[0], sqlString(p[1]), sep)
	}
	b.WriteString(");\n")
	return b.String(), nil
}

// athenaType is the Athena (Hive DDL) type of a column.
func athenaType(c *schema.Column) string {
	switch c.Type {
	case schema.Int:
		return "bigint"
	case schema.Float:
		return "double"
	case schema.Bool:
		return "boolean"
	case schema.Timestamp:
		return "timestamp"
	case schema.Struct:
		fields := make([]string, len(c.Fields))
		for i := range c.Fields {
			f := &c.Fields[i]
			n := f.Name
			if !simpleIdent.MatchString(n) || reserved[n] {
				n = "`" + n + "`"
			}
			fields[i] = n + ":" + athenaType(f)
		}
		return "struct<" + strings.Join(fields, ",") + ">"
	}
	return "string"
}

func sqlString(s string) string { return strings.ReplaceAll(s, "'", "''") }

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
