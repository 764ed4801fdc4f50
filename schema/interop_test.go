package schema

import (
	"bytes"
	"testing"

	"github.com/expr-lang/expr"
	"github.com/parquet-go/parquet-go"
)

// The record type must be usable as-is by the libraries the workers feed it
// to: expr type-checks against it, parquet-go writes it.
func TestRecordInterop(t *testing.T) {
	c := mustBuiltin(t, "clickstream")
	prog, err := expr.Compile(`event_name == "Search" && additional_data.percent_viewed > 30 && timestamp.Hour() == 12`,
		expr.Env(c.Zero()), expr.AsBool())
	if err != nil {
		t.Fatal(err)
	}
	rec, err := c.Decode([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	out, err := expr.Run(prog, rec)
	if err != nil || out != true {
		t.Fatalf("expr: %v %v", out, err)
	}
	if _, err := expr.Compile(`additional_data.percent_viewd > 30`, expr.Env(c.Zero()), expr.AsBool()); err == nil {
		t.Fatal("a misspelt field compiled")
	}

	var buf bytes.Buffer
	w := parquet.NewWriter(&buf, parquet.SchemaOf(c.Zero()), parquet.Compression(&parquet.Snappy))
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	t.Log(f.Schema())
	if f.NumRows() != 1 {
		t.Fatalf("rows %d", f.NumRows())
	}
}
