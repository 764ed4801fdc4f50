package connector

import (
	"fmt"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/sluicehq/sluice/schema"
)

const allTypesSchema = `
name: all
event_time: ts
columns:
  - {name: ts, type: timestamp, format: rfc3339}
  - {name: ots, type: timestamp, format: rfc3339, optional: true}
  - {name: s, type: string}
  - {name: os, type: string, optional: true}
  - {name: i, type: int}
  - {name: oi, type: int, optional: true}
  - {name: f, type: float}
  - {name: of, type: float, optional: true}
  - {name: b, type: bool}
  - {name: ob, type: bool, optional: true}
  - name: st
    type: struct
    fields:
      - {name: x, type: int}
      - {name: ox, type: string, optional: true}
      - name: deep
        type: struct
        fields:
          - {name: y, type: float, optional: true}
`

// The row builder must give exactly what parquet-go's Deconstruct gives,
// for every column type, set and unset.
func FuzzRowBuilder(f *testing.F) {
	s, err := schema.Parse("all.yaml", []byte(allTypesSchema))
	if err != nil {
		f.Fatal(err)
	}
	codec := schema.NewCodec(s)
	ts, err := newTableState(Table{Topic: "all", Schema: s}, &Config{MemoryBudget: 1 << 20, MaxOpenFiles: 8})
	if err != nil {
		f.Fatal(err)
	}
	if ts.rows == nil {
		f.Fatal("no row builder for a schema of every type")
	}
	f.Add(`{"ts": "2024-01-02T03:04:05.123456Z", "s": "a", "i": 1, "f": 1.5, "b": true, "st": {"x": 3, "deep": {}}}`)
	f.Add(`{"ts": "2024-01-02T03:04:05Z", "ots": "2024-01-02T03:04:05+02:00", "s": "a", "os": "b", "i": -1, "oi": 0, "f": 0, "of": 0, "b": false, "ob": false, "st": {"x": 0, "ox": "", "deep": {"y": 0}}}`)
	f.Add(`{"ts": "2024-01-02T03:04:05Z", "s": "é\u0000", "oi": 7, "of": -2.5, "ob": true, "st": {"ox": "z", "deep": {"y": 1e300}}}`)
	f.Fuzz(func(t *testing.T, ev string) {
		rec, err := codec.Decode([]byte(ev))
		if err != nil {
			return
		}
		want := ts.pq.Deconstruct(nil, rec)
		got := ts.rows.build(nil, rec)
		if len(got) != len(want) {
			t.Fatalf("%d values, want %d", len(got), len(want))
		}
		for i := range want {
			g, w := got[i], want[i]
			if !parquet.DeepEqual(g, w) || g.Column() != w.Column() || g.DefinitionLevel() != w.DefinitionLevel() ||
				g.RepetitionLevel() != w.RepetitionLevel() || g.IsNull() != w.IsNull() {
				t.Fatalf("value %d: got %s, want %s", i, show(g), show(w))
			}
		}
	})
}

func show(v parquet.Value) string {
	return fmt.Sprintf("%v (col %d, def %d, null %v)", v, v.Column(), v.DefinitionLevel(), v.IsNull())
}
