package rule

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"
)

// Window state keeps nothing that refers to an event's bytes: the worker
// decodes with schema.Codec.DecodeIntoRef, whose strings refer to the
// fetched record, reused after the transaction. Here every input is
// overwritten before the windows close; the results must be those of
// copying decodes.
func TestKeptStringsDoNotReferToTheInput(t *testing.T) {
	rules := map[string]string{
		"tumbling": "window: {type: tumbling, size: 1m}\ngroup_by: [user_id, event_name]\naggregate: {n: count(), first: min(event_name), last: max(user_id)}\n",
		"session":  "window: {type: session, gap: 5m}\ngroup_by: [user_id]\naggregate: {n: count(), last: max(event_name)}\n",
		"hopping":  "window: {type: hopping, size: 2m, every: 1m}\ngroup_by: [event_name]\naggregate: {users: count_distinct(user_id), low: min(user_id)}\n",
	}
	names := []string{"Search", "ViewContent", "AddToCart", "Purchase"}
	var raws [][]byte
	for i := range 200 {
		ev := map[string]any{"timestamp": fmt.Sprintf("2024-01-01 00:%02d:%02d", i/60, i%60), "user_id": fmt.Sprintf("user-%d", i%7),
			"pixel_id": "p", "click_id": "c", "user_ip": "203.0.113.1", "insertion_timestamp": "2024-01-01 00:00:00",
			"event_name": names[i%len(names)], "additional_data": map[string]any{"price": 1.5}}
		raw, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		raws = append(raws, raw)
	}
	for name, body := range rules {
		t.Run(name, func(t *testing.T) {
			r := mustRule(t, body)
			run := func(ref bool) []string {
				task, c := NewTask([]*Rule{r}), &collect{}
				inputs := make([][]byte, len(raws))
				for i, raw := range raws {
					inputs[i] = slices.Clone(raw)
					rec := r.Codec.New()
					decode := r.Codec.DecodeInto
					if ref {
						decode = r.Codec.DecodeIntoRef
					}
					if err := decode(inputs[i], rec); err != nil {
						t.Fatal(err)
					}
					task.Process(rec, r.Codec.EventTime(rec), inputs[i], nil, c)
				}
				for _, in := range inputs {
					copy(in, bytes.Repeat([]byte{'Z'}, len(in))) // as a reused fetch buffer
				}
				task.Advance(c, time.Time{})
				task.Flush(c)
				return c.rows
			}
			want, got := run(false), run(true)
			if len(want) == 0 || !slices.Equal(got, want) {
				t.Fatalf("with strings referring to the input:\n%s\nwith copies:\n%s", got, want)
			}
		})
	}
}
