package rule

import (
	"bytes"
	"testing"
	"time"

	"github.com/sluicehq/sluice/schema"
)

// TestOutputSchemaDecodesOutputs checks the contract with the sink: every
// output record of a rule decodes with a codec of its OutputSchema, and the
// schema's event time is the right column.
func TestOutputSchemaDecodesOutputs(t *testing.T) {
	rules, err := LoadDir("../../rules", nil)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*Rule{}
	for _, r := range rules {
		byName[r.Name] = r
	}
	checks := map[string]struct {
		eventTime string
		columns   []string
	}{
		"high_intent_views":         {"timestamp", nil},
		"beer_cart_clicks":          {"client_timestamp", []string{"client_timestamp", "user_id", "client_event", "mobile"}},
		"events_per_minute":         {"window_start", []string{"event_name", "events", "window_start", "window_end"}},
		"revenue_per_product":       {"window_start", []string{"product_id", "revenue", "purchases", "buyers", "window_start", "window_end"}},
		"abandoned_carts":           {"window_start", []string{"user_id", "carts", "purchases", "events", "last_event", "window_start", "window_end"}},
		"beer_checkouts_per_device": {"window_start", []string{"device_id", "checkouts", "buyers", "window_start", "window_end"}},
	}
	for name, want := range checks {
		r := byName[name]
		if r == nil {
			t.Fatalf("rule %s not shipped", name)
		}
		out := r.OutputSchema()
		if out.Topic != r.Output || out.EventTime != want.eventTime {
			t.Errorf("%s: topic %q event time %q", name, out.Topic, out.EventTime)
		}
		if want.columns != nil {
			var got []string
			for _, c := range out.Columns {
				got = append(got, c.Name)
			}
			if len(got) != len(want.columns) {
				t.Errorf("%s: columns %v, want %v", name, got, want.columns)
			}
		}
		codec := schema.NewCodec(out)
		// Every inline test's outputs must decode with the output codec.
		for _, tc := range r.Spec.Tests {
			events := tc.Events
			if tc.Event != nil {
				events = []map[string]any{tc.Event}
			}
			task, sink := NewTask([]*Rule{r}), &testSink{}
			for _, e := range events {
				raw, rec, err := r.TestEvent(e)
				if err != nil {
					t.Fatal(err)
				}
				task.Process(rec, r.Codec.EventTime(rec), raw, nil, sink)
			}
			task.Flush(sink)
			for _, row := range sink.rows {
				rec, err := codec.Decode(row)
				if err != nil {
					t.Fatalf("%s: output %s does not decode with its schema: %v", name, row, err)
				}
				if codec.EventTime(rec).Before(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)) {
					t.Errorf("%s: no event time in %s", name, row)
				}
			}
		}
	}
}

func TestProjectionWithObjectAndKey(t *testing.T) {
	r := mustRule(t, "where: event_name == \"Purchase\"\nkey: additional_data.product_id\nselect: [user_id, additional_data, {cents: int(additional_data.price * 100)}]\n")
	raw, rec, err := r.TestEvent(map[string]any{"event_name": "Purchase", "user_id": "u9", "timestamp": "2024-01-01 10:00:00.5",
		"additional_data": map[string]any{"product_id": 42, "price": 1.25}})
	if err != nil {
		t.Fatal(err)
	}
	var ev Eval
	out, err := r.Project(&ev, rec, raw)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"user_id":"u9","additional_data":{"time_on_data":0,"percent_viewed":0,"product_id":42,"price":1.25},"cents":125,"timestamp":"2024-01-01 10:00:00.500000"}`
	if string(out) != want {
		t.Fatalf("got  %s\nwant %s", out, want)
	}
	key, _ := r.Key(&ev, rec, nil)
	if !bytes.Equal(key, []byte("42")) {
		t.Fatalf("key %q", key)
	}
	if _, err := schema.NewCodec(r.OutputSchema()).Decode(out); err != nil {
		t.Fatal(err)
	}
}
