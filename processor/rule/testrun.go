package rule

import (
	"bytes"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	json "github.com/goccy/go-json"

	"github.com/sluicehq/sluice/schema"
)

// TestResult is the outcome of one inline test.
type TestResult struct {
	Rule string
	Name string
	At   string // file:line:col of the test
	Fail string // empty when the test passed; else a readable diff
}

// Passed says whether the test passed.
func (t TestResult) Passed() bool { return t.Fail == "" }

// testBase is the event time tests use when an event gives none.
var testBase = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// RunTests runs the rule's inline tests.
func (r *Rule) RunTests() []TestResult {
	var out []TestResult
	for _, t := range r.Spec.Tests {
		at := r.Spec.Loc.Errorf(t.Path+".name", "").Error()
		if !strings.Contains(at, ":") || strings.HasSuffix(strings.TrimSuffix(at, ": "), r.Spec.File) {
			at = r.Spec.Loc.Errorf(t.Path, "").Error()
		}
		res := TestResult{Rule: r.Name, Name: t.Name, At: strings.TrimSuffix(at, ": ")}
		res.Fail = r.runTest(t)
		out = append(out, res)
	}
	return out
}

// testSink collects a task's outputs during a test.
type testSink struct {
	rows [][]byte
	late []string
	errs []string
}

func (s *testSink) Output(_ *Rule, _, v []byte) { s.rows = append(s.rows, bytes.Clone(v)) }
func (s *testSink) Late(_ *Rule, reason string) { s.late = append(s.late, reason) }
func (s *testSink) Error(_ *Rule, err error)    { s.errs = append(s.errs, err.Error()) }

func (r *Rule) runTest(t Test) string {
	if r.IsFilter() {
		if t.Event == nil || (t.Expect != "match" && t.Expect != "no_match") {
			return "a filter test needs event: {...} and expect: match or no_match"
		}
		raw, rec, err := r.TestEvent(t.Event)
		if err != nil {
			return err.Error()
		}
		task, sink := NewTask([]*Rule{r}), &testSink{}
		task.Process(rec, r.Codec.EventTime(rec), raw, nil, sink)
		if len(sink.errs) > 0 {
			return "error: " + strings.Join(sink.errs, "; ")
		}
		got := "no_match"
		if len(sink.rows) > 0 {
			got = "match"
		}
		if got != t.Expect {
			return fmt.Sprintf("expected %s, got %s\n    event: %s", t.Expect, got, raw)
		}
		if t.Output != nil && got == "match" {
			var row map[string]any
			if err := json.Unmarshal(sink.rows[0], &row); err != nil {
				return "output is not JSON: " + err.Error()
			}
			if d := rowDiff(t.Output, row); d != "" {
				return fmt.Sprintf("output differs:\n%s    got: %s", d, sink.rows[0])
			}
		}
		return ""
	}
	if t.Events == nil || t.Rows == nil {
		return "a window test needs events: [...] and expect: [rows...] (expect: [] for no rows)"
	}
	task, sink := NewTask([]*Rule{r}), &testSink{}
	for i, e := range t.Events {
		raw, rec, err := r.TestEvent(e)
		if err != nil {
			return fmt.Sprintf("event %d: %v", i+1, err)
		}
		task.Process(rec, r.Codec.EventTime(rec), raw, nil, sink)
		task.Advance(sink, time.Time{})
	}
	task.Flush(sink)
	if len(sink.errs) > 0 {
		return "error: " + strings.Join(sink.errs, "; ")
	}
	var got []map[string]any
	for _, b := range sink.rows {
		var row map[string]any
		if err := json.Unmarshal(b, &row); err != nil {
			return "output is not JSON: " + err.Error()
		}
		got = append(got, row)
	}
	return rowsDiff(t.Rows, got, sink.late)
}

// rowsDiff matches expected rows (each on the columns it names) against
// the rows produced, in any order.
func rowsDiff(want, got []map[string]any, late []string) string {
	used := make([]bool, len(got))
	var b strings.Builder
	for _, w := range want {
		found := false
		for i, g := range got {
			if !used[i] && rowDiff(w, g) == "" {
				used[i], found = true, true
				break
			}
		}
		if !found {
			fmt.Fprintf(&b, "    - missing: %s\n", canon(w))
		}
	}
	for i, g := range got {
		if !used[i] {
			fmt.Fprintf(&b, "    + unexpected: %s\n", canon(g))
		}
	}
	if b.Len() == 0 {
		return ""
	}
	for _, l := range late {
		fmt.Fprintf(&b, "    (late event dropped from the windows: %s)\n", l)
	}
	return "rows differ (- expected, + got):\n" + strings.TrimRight(b.String(), "\n")
}

func canon(m map[string]any) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		v, _ := json.Marshal(m[k])
		parts[i] = fmt.Sprintf("%s: %s", k, v)
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// rowDiff compares the columns want names; empty when they agree.
func rowDiff(want, got map[string]any) string {
	var b strings.Builder
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		g, ok := got[k]
		if !ok {
			fmt.Fprintf(&b, "    %s: expected %v, column missing\n", k, want[k])
			continue
		}
		if !sameValue(want[k], g) {
			fmt.Fprintf(&b, "    %s: expected %s, got %s\n", k, shown(want[k]), shown(g))
		}
	}
	return b.String()
}

func sameValue(w, g any) bool {
	if wf, ok := toFloat(w); ok {
		gf, ok := toFloat(g)
		return ok && (wf == gf || math.Abs(wf-gf) <= 1e-9*math.Max(math.Abs(wf), math.Abs(gf)))
	}
	if wt, ok := toTime(w); ok {
		gt, ok := toTime(g)
		return ok && wt.Equal(gt)
	}
	// A string and a number that print alike are not the same value: the
	// rule's readers decode one or the other.
	_, ws := w.(string)
	_, gs := g.(string)
	return ws == gs && fmt.Sprint(w) == fmt.Sprint(g)
}

// shown is v as a test's output shows it: JSON, so a string is quoted and
// a number is not.
func shown(v any) string {
	if t, ok := v.(time.Time); ok {
		return t.Format(time.RFC3339Nano)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func toFloat(v any) (float64, bool) {
	switch x := v.(type) {
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

var testTimeLayouts = []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02 15:04", "2006-01-02T15:04"}

func toTime(v any) (time.Time, bool) {
	switch x := v.(type) {
	case time.Time:
		return x, true
	case string:
		for _, l := range testTimeLayouts {
			if t, err := time.Parse(l, x); err == nil {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

// TestEvent builds a full event from a test's partial one: columns the test
// leaves out get a plain valid value (the first enum value, "test", 0, the
// time 2024-01-01T00:00:00Z), and timestamps may be written in RFC 3339 or
// "2006-01-02 15:04:05" as well as in the schema's format. It returns the
// JSON and the decoded record.
func (r *Rule) TestEvent(partial map[string]any) ([]byte, any, error) {
	ev, err := fillColumns(r.Schema.Columns, partial, "")
	if err != nil {
		return nil, nil, err
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding test event: %w", err)
	}
	rec, err := r.Codec.Decode(raw)
	if err != nil {
		return raw, nil, fmt.Errorf("test event does not fit schema %s: %w", r.Schema.Name, err)
	}
	return raw, rec, nil
}

func fillColumns(cols []schema.Column, given map[string]any, prefix string) (map[string]any, error) {
	out := make(map[string]any, len(cols))
	known := map[string]bool{}
	for i := range cols {
		c := &cols[i]
		known[c.Name] = true
		v, ok := given[c.Name]
		switch {
		case c.Type == schema.Struct:
			sub, _ := v.(map[string]any)
			if ok && sub == nil && v != nil {
				return nil, fmt.Errorf("%s%s is an object", prefix, c.Name)
			}
			m, err := fillColumns(c.Fields, sub, prefix+c.Name+".")
			if err != nil {
				return nil, err
			}
			out[c.Name] = m
		case c.Type == schema.Timestamp:
			t := testBase
			if ok {
				var tt time.Time
				good := false
				if s, isStr := v.(string); isStr {
					if p, err := c.ParseTime(s); err == nil {
						tt, good = p, true
					}
				}
				if !good {
					tt, good = toTime(v)
				}
				if !good {
					return nil, fmt.Errorf("%s%s: %v is not a time (write 2024-01-01 00:00:30 or RFC 3339)", prefix, c.Name, v)
				}
				t = tt
			}
			out[c.Name] = c.FormatTime(t)
		case ok:
			out[c.Name] = v
		case c.Optional:
		case len(c.Enum) > 0:
			out[c.Name] = c.Enum[0]
		case c.Type == schema.String:
			out[c.Name] = "test"
		case c.Type == schema.Int, c.Type == schema.Float:
			out[c.Name] = 0
		case c.Type == schema.Bool:
			out[c.Name] = false
		}
	}
	for k := range given {
		if !known[k] {
			return nil, fmt.Errorf("test event names %s%s, which is not in the schema", prefix, k)
		}
	}
	return out, nil
}
