package dev

import (
	"fmt"
	"io"
	"path/filepath"
	"sort"
)

// Summary is what a dev run did.
type Summary struct {
	Produced  int64            // events the broker acknowledged
	Processed int64            // source records the processor committed
	Matched   map[string]int64 // per rule
	Outputs   map[string]int64 // committed output records per rule output topic
	Rows      int64            // Parquet rows written, all tables
	Files     int64
	Errors    int64 // records the sink sent to the error prefix
	Tables    []TableSummary
	Lake      string
	Schema    string // the generated events' schema, as given
	Drained   bool   // every produced record and rule output reached the sink
}

// TableSummary counts the records one table received.
type TableSummary struct {
	Name, Topic string
	Records     int64
}

func (p *pipeline) summary(lake string, drained bool) *Summary {
	s := &Summary{
		Produced: p.gen.Produced.Load(), Processed: p.proc.Consumed(),
		Matched: map[string]int64{}, Outputs: map[string]int64{},
		Rows: p.sink.Rows(), Files: p.sink.Files(), Errors: p.sink.Errors(), Lake: lake, Drained: drained,
	}
	for _, r := range p.rules {
		s.Matched[r.Name] = p.proc.Matched(r.Name)
		s.Outputs[r.Output] = p.proc.Produced(r.Output)
	}
	for _, t := range p.tables {
		s.Tables = append(s.Tables, TableSummary{Name: t.Name, Topic: t.Topic, Records: p.sink.Consumed(t.Topic)})
	}
	return s
}

// Print writes the summary and how to query the lake.
func (s *Summary) Print(w io.Writer) {
	fmt.Fprintf(w, "\nproduced %d events, processed %d, wrote %d rows in %d Parquet files to %s\n",
		s.Produced, s.Processed, s.Rows, s.Files, s.Lake)
	for _, t := range s.Tables {
		fmt.Fprintf(w, "  %-32s %8d records  (topic %s)\n", t.Name, t.Records, t.Topic)
	}
	if len(s.Matched) > 0 {
		fmt.Fprintln(w, "events that passed each rule's where clause:")
		names := make([]string, 0, len(s.Matched))
		for n := range s.Matched {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(w, "  %-32s %8d\n", n, s.Matched[n])
		}
	}
	if s.Errors > 0 {
		fmt.Fprintf(w, "%d records could not be converted: see %s\n", s.Errors, filepath.Join(s.Lake, "errors"))
	}
	source := s.Tables[0].Name // the generated events' table comes first
	glob := filepath.Join(s.Lake, source, "**", "*.parquet")
	fmt.Fprintf(w, `
Query the lake with DuckDB:
  duckdb -c "SELECT year, month, day, hour, count(*) AS events FROM read_parquet('%s', hive_partitioning=true) GROUP BY ALL ORDER BY ALL"
Register it in Athena (upload the lake to S3 first), no crawler needed:
  sluice catalog ddl --schema %s --location s3://YOUR-BUCKET/lake
`, glob, s.Schema)
}
