package schema

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

const sample = `{"timestamp": "2021-07-12 12:01:58.732726", "user_id": "35", "pixel_id": "wjgao4w1oi",
 "click_id": "a5cf179b9c9d483abf6d424d44a293be", "insertion_timestamp": "2021-07-12 12:01:58.732754",
 "event_name": "Search", "user_ip": "203.0.113.7",
 "additional_data": {"time_on_data": 79, "percent_viewed": 39.7, "product_id": 557246, "price": 417.97}}`

func mustBuiltin(t testing.TB, name string) *Codec {
	t.Helper()
	s, err := Resolve(name)
	if err != nil {
		t.Fatal(err)
	}
	return NewCodec(s)
}

func TestDecodeClickstream(t *testing.T) {
	c := mustBuiltin(t, "clickstream")
	rec, err := c.Decode([]byte(sample))
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2021, 7, 12, 12, 1, 58, 732726000, time.UTC)
	if got := c.EventTime(rec); !got.Equal(want) {
		t.Fatalf("event time %v, want %v", got, want)
	}
	out, err := c.Encode(rec)
	if err != nil {
		t.Fatal(err)
	}
	back, err := c.Decode(out)
	if err != nil {
		t.Fatalf("re-decoding %s: %v", out, err)
	}
	if !c.EventTime(back).Equal(want) {
		t.Fatalf("round trip changed the event time: %s", out)
	}
}

// DecodeIntoRef decodes as DecodeInto does, the rejections included, with
// the strings referring to the input: changing the input changes them.
func TestDecodeIntoRefRefersToTheInput(t *testing.T) {
	c := mustBuiltin(t, "clickstream")
	esc := strings.Replace(sample, `"user_ip": "203.0.113.7"`, `"user_ip": "203.0.113.\u0037"`, 1)
	for _, ev := range []string{sample, esc} {
		copied, ref := c.New(), c.New()
		if err := c.DecodeInto([]byte(ev), copied); err != nil {
			t.Fatal(err)
		}
		data := []byte(ev)
		if err := c.DecodeIntoRef(data, ref); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(copied, ref) {
			t.Fatalf("DecodeIntoRef gave %+v, DecodeInto %+v", ref, copied)
		}
		copy(data[bytes.Index(data, []byte(`"Search"`))+1:], "Xearch")
		if got := reflect.ValueOf(ref).Elem().FieldByName("F5").String(); got != "Xearch" {
			t.Fatalf("event_name after changing the input: %q (want the input's bytes)", got)
		}
	}
	if err := c.DecodeIntoRef([]byte(`{"timestamp": 1}`), c.New()); !errors.Is(err, ErrInvalid) {
		t.Fatalf("got %v, want a schema error", err)
	}
}

func TestDecodeRejects(t *testing.T) {
	c := mustBuiltin(t, "clickstream")
	for name, ev := range map[string]string{
		"bad json":       `{"timestamp": `,
		"wrong type":     `{"timestamp": "2021-07-12 12:01:58.1", "user_id": 35, "event_name": "Search", "pixel_id": "a", "click_id": "b", "user_ip": "c", "insertion_timestamp": "2021-07-12 12:01:58.1"}`,
		"bad timestamp":  `{"timestamp": "12/07/2021", "user_id": "35", "event_name": "Search", "pixel_id": "a", "click_id": "b", "user_ip": "c", "insertion_timestamp": "2021-07-12 12:01:58.1"}`,
		"enum":           `{"timestamp": "2021-07-12 12:01:58.1", "user_id": "35", "event_name": "Click", "pixel_id": "a", "click_id": "b", "user_ip": "c", "insertion_timestamp": "2021-07-12 12:01:58.1"}`,
		"missing string": `{"timestamp": "2021-07-12 12:01:58.1", "event_name": "Search", "pixel_id": "a", "click_id": "b", "user_ip": "c", "insertion_timestamp": "2021-07-12 12:01:58.1"}`,
	} {
		if _, err := c.Decode([]byte(ev)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: got %v, want a schema error", name, err)
		}
	}
}

func TestBeerClicksZone(t *testing.T) {
	s, err := Resolve("beer_clicks")
	if err != nil {
		t.Fatal(err)
	}
	s.Columns[3].loc = time.FixedZone("UTC+2", 2*3600)
	c := NewCodec(s)
	rec, err := c.Decode([]byte(`{"user_id": 54, "device_id": "mobile", "client_event": "beer_products", "client_timestamp": "2024-04-23T12:02:20.256387"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.EventTime(rec).UTC().Hour(); got != 10 {
		t.Fatalf("hour in UTC = %d, want 10", got)
	}
}

func TestSchemaErrorsHavePositions(t *testing.T) {
	_, err := Parse("s.yaml", []byte("name: x\nevent_time: ts\ncolumns:\n  - name: ts\n    type: timestamp\n  - name: y\n    type: integer\n"))
	if err == nil || err.Error() != `s.yaml:7:11: unknown type "integer" (want string, int, float, bool, timestamp or struct)` {
		t.Fatalf("got %v", err)
	}
	_, err = Parse("s.yaml", []byte("name: x\nevnt_time: ts\n"))
	if err == nil || err.Error()[:9] != "s.yaml:2:" {
		t.Fatalf("unknown key: got %v", err)
	}
}

func TestFormatTime(t *testing.T) {
	c := mustBuiltin(t, "clickstream").Schema.Column("timestamp")
	ts := time.Date(2021, 7, 12, 12, 1, 58, 700000000, time.UTC)
	if got := c.FormatTime(ts); got != "2021-07-12 12:01:58.700000" {
		t.Fatalf("got %q", got)
	}
}
