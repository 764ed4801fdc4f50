package rules_test

import (
	"bytes"
	"sort"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/benchutil"
	"github.com/sluicehq/sluice/processor"
	"github.com/sluicehq/sluice/processor/rule"
)

// BenchmarkTwins runs every shipped YAML rule and its SQL twin over the same
// events, one after the other in one run, through the engine the processor
// runs (decode once, Task.Process, windows advanced per event): the SQL
// front end compiles to the same programs, so the figures must match.
//
//	go test -run '^$' -bench Twins -benchtime 3x ./rules/
func BenchmarkTwins(b *testing.B) {
	yamlRules := loadRules(b, ".", ".yaml")
	sqlRules := loadRules(b, "sql", ".sql")
	inputs := map[string][]byte{"clickstream": generated(b, "clickstream", 100000), "beer_clicks": generated(b, "beer_clicks", 100000)}
	var names []string
	for n := range yamlRules {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		y, s := yamlRules[name], sqlRules[name]
		if s == nil {
			b.Fatalf("%s: no SQL twin", name)
		}
		events := decodeAll(b, y, inputs[y.Source])
		for _, v := range []struct {
			kind string
			r    *rule.Rule
		}{{"yaml", y}, {"sql", s}} {
			b.Run(name+"/"+v.kind, func(b *testing.B) {
				m := benchutil.Start(b)
				var outs int64
				for i := 0; i < b.N; i++ {
					outs += runTask(v.r, events)
				}
				m.Report(int64(b.N) * int64(len(events)))
				if outs == 0 {
					b.Fatal("no outputs")
				}
			})
		}
	}
}

type decoded struct {
	raw []byte
	rec any
	et  time.Time
}

func decodeAll(b *testing.B, r *rule.Rule, in []byte) []decoded {
	var out []decoded
	err := processor.ReadEvents(bytes.NewReader(in), func(raw []byte) error {
		raw = bytes.Clone(raw)
		rec, err := r.Codec.Decode(raw)
		if err != nil {
			return err
		}
		out = append(out, decoded{raw: raw, rec: rec, et: r.Codec.EventTime(rec)})
		return nil
	}, func(err error) { b.Fatal(err) })
	if err != nil {
		b.Fatal(err)
	}
	return out
}

type countSink struct{ n int64 }

func (s *countSink) Output(*rule.Rule, []byte, []byte) { s.n++ }
func (s *countSink) Late(*rule.Rule, string)           {}
func (s *countSink) Error(*rule.Rule, error)           {}

// runTask evaluates the rule over pre-decoded events (decoding is the same
// for both twins and would only blur the comparison).
func runTask(r *rule.Rule, events []decoded) int64 {
	task, sink := rule.NewTask([]*rule.Rule{r}), &countSink{}
	for _, e := range events {
		task.Process(e.rec, e.et, e.raw, nil, sink)
		task.Advance(sink, time.Time{})
	}
	task.Flush(sink)
	return sink.n
}
