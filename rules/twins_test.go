package rules_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/fixtures"
	"github.com/sluicehq/sluice/processor"
	"github.com/sluicehq/sluice/processor/rule"
	"github.com/sluicehq/sluice/producer"
	"github.com/sluicehq/sluice/schema"
)

// The SQL twins in sql/ must produce exactly what their YAML rules produce:
// the same keys and the same output bytes, in the same order, over the same
// generated input (out of order, with late events), run through the same
// path `sluice rules run` uses.
func TestSQLTwinsMatchYAMLRules(t *testing.T) {
	yamlRules := loadRules(t, ".", ".yaml")
	sqlRules := loadRules(t, "sql", ".sql")
	if len(sqlRules) != len(yamlRules) {
		t.Errorf("%d YAML rules but %d SQL twins in sql/: every shipped YAML rule needs a twin", len(yamlRules), len(sqlRules))
	}
	inputs := map[string][]byte{"clickstream": generated(t, "clickstream", 20000), "beer_clicks": generated(t, "beer_clicks", 20000)}
	for name, y := range yamlRules {
		s, ok := sqlRules[name]
		if !ok {
			t.Errorf("%s: no SQL twin sql/%s.sql", y.Spec.File, name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			if len(s.Spec.Tests) == 0 {
				t.Errorf("%s: a twin needs inline tests", s.Spec.File)
			}
			for _, res := range s.RunTests() {
				if !res.Passed() {
					t.Errorf("%s: %s: %s", res.At, res.Name, res.Fail)
				}
			}
			if s.Source != y.Source || s.Output != y.Output || s.IsFilter() != y.IsFilter() {
				t.Fatalf("twin differs: source %s/%s, output %s/%s", s.Source, y.Source, s.Output, y.Output)
			}
			if y.Window != nil && *y.Window != *s.Window {
				t.Fatalf("window differs: yaml %+v, sql %+v", *y.Window, *s.Window)
			}
			sameOutputs(t, y, s, inputs[y.Source], 10)
			if y.Source == "beer_clicks" {
				// Real data from the field too: the Firehose object.
				sameOutputs(t, y, s, fixtures.FirehoseObject(), 1)
			}
			yo, so := y.OutputSchema(), s.OutputSchema()
			if cols(yo.Columns) != cols(so.Columns) || yo.EventTime != so.EventTime {
				t.Errorf("output schemas differ:\n yaml: %s %s\n  sql: %s %s", cols(yo.Columns), yo.EventTime, cols(so.Columns), so.EventTime)
			}
		})
	}
}

// sameOutputs requires the twins to write the same keys and bytes, in the
// same order, and the YAML rule to write at least min records.
func sameOutputs(t *testing.T, y, s *rule.Rule, in []byte, min int) {
	t.Helper()
	want := backtest(t, y, in)
	got := backtest(t, s, in)
	t.Logf("%d outputs", len(want))
	if len(want) < min {
		t.Fatalf("only %d outputs from the YAML rule: the input does not exercise it", len(want))
	}
	if len(got) != len(want) {
		t.Fatalf("SQL twin produced %d outputs, YAML rule %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("output %d differs:\n yaml: %s\n  sql: %s", i, want[i], got[i])
		}
	}
}

// cols describes output columns: names, types, formats, nesting.
func cols(cs []schema.Column) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "%s:%s:%s:%v{%s} ", c.Name, c.Type, c.Format, c.Optional, cols(c.Fields))
	}
	return b.String()
}

func loadRules(t testing.TB, dir, ext string) map[string]*rule.Rule {
	t.Helper()
	rules, err := rule.LoadDir(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*rule.Rule{}
	for _, r := range rules {
		if filepath.Ext(r.Spec.File) == ext {
			out[r.Name] = r
		}
	}
	return out
}

// backtest runs one rule over the input and returns "key\tvalue" lines.
func backtest(t testing.TB, r *rule.Rule, in []byte) []string {
	t.Helper()
	var out []string
	res, err := processor.Backtest([]*rule.Rule{r}, r.Source, bytes.NewReader(in), func(_ *rule.Rule, k, v []byte) error {
		out = append(out, string(k)+"\t"+string(v))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Invalid > 0 {
		t.Fatalf("%d invalid input events: %v", res.Invalid, res.FirstInvalid)
	}
	return out
}

// generated returns n events of a schema from the product's generator (the
// events `sluice produce` sends): reproducible, half a second apart, a zipf
// user pool (busy users whose sessions never end, occasional ones whose
// sessions do), and 5% of events up to 90 s late, so windows see
// out-of-order and late events.
func generated(t testing.TB, name string, n int) []byte {
	t.Helper()
	sc, err := schema.Resolve(name)
	if err != nil {
		t.Fatal(err)
	}
	src, err := producer.NewEventSource(producer.GenConfig{Schema: sc, Seed: 7,
		Start: time.Date(2024, 4, 23, 10, 0, 0, 0, time.UTC), Interval: 500 * time.Millisecond,
		Users: 300, UserDist: "zipf", LateFraction: 0.05, MaxDelay: 90 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var b []byte
	for i := 0; i < n; i++ {
		b, _ = src.Append(b)
		b = append(b, '\n')
	}
	return b
}

// The KDA rule shipped in this directory runs the retired service's query
// unchanged: the statement text is the one from the KDA application.
func TestKDAQueryShippedVerbatim(t *testing.T) {
	data, err := os.ReadFile("kda_high_intent_views.sql")
	if err != nil {
		t.Fatal(err)
	}
	const kda = `SELECT STREAM "COL_timestamp", "event_name", "percent_viewed", "product_id", "price" FROM "SOURCE_SQL_STREAM_001" WHERE "event_name" = 'ViewContent' AND "percent_viewed" > 60;`
	if !strings.Contains(string(data), kda) {
		t.Fatalf("kda_high_intent_views.sql no longer holds the KDA query verbatim")
	}
	rules := loadRules(t, ".", ".sql")
	kr, ok := rules["kda_high_intent_views"]
	if !ok {
		t.Fatal("kda_high_intent_views not loaded")
	}
	// Same events as high_intent_views, with the KDA column names.
	hi := loadRules(t, ".", ".yaml")["high_intent_views"]
	in := generated(t, "clickstream", 5000)
	got, want := backtest(t, kr, in), backtest(t, hi, in)
	if len(got) != len(want) || len(got) < 10 {
		t.Fatalf("KDA rule: %d outputs, high_intent_views: %d", len(got), len(want))
	}
	if !strings.Contains(got[0], `"COL_timestamp":`) || !strings.Contains(got[0], `"percent_viewed":`) {
		t.Errorf("KDA columns missing: %s", got[0])
	}
}
