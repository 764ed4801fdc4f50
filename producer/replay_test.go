package producer

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	json "github.com/goccy/go-json"

	"github.com/sluicehq/sluice/internal/fixtures"
	"github.com/sluicehq/sluice/internal/kclient"
)

func fixture(t testing.TB) string { return fixtures.FirehosePath(t) }

func TestReplayFirehoseFixture(t *testing.T) {
	path := fixture(t)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Split(bytes.TrimSpace(raw), []byte("\n"))
	// As delivered, gzipped, and with the newlines removed (concatenated).
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(raw)
	_ = zw.Close()
	for name, in := range map[string][]byte{"ndjson": raw, "gzip": gz.Bytes(), "concatenated": bytes.ReplaceAll(raw, []byte("\n"), nil)} {
		t.Run(name, func(t *testing.T) {
			_, k := startBroker(t, "", "beer_clicks")
			stats := &Stats{}
			err := Replay(context.Background(), ReplayConfig{Kafka: k, Schema: mustSchema(t, "beer_clicks"),
				From: path, Reader: bytes.NewReader(in), Stats: stats})
			if err != nil {
				t.Fatal(err)
			}
			if stats.Invalid.Load() != 0 || stats.Produced.Load() != int64(len(want)) {
				t.Fatalf("invalid %d produced %d, want 0/%d", stats.Invalid.Load(), stats.Produced.Load(), len(want))
			}
			recs := readAll(t, k, "beer_clicks", len(want), 10*time.Second)
			got := map[string]bool{}
			for _, r := range recs {
				var e struct {
					UserID int `json:"user_id"`
				}
				if err := json.Unmarshal(r.Value, &e); err != nil || string(r.Key) != strconv.Itoa(e.UserID) {
					t.Fatalf("record %s keyed %q", r.Value, r.Key)
				}
				got[string(r.Value)] = true
			}
			for _, w := range want {
				if !got[string(w)] {
					t.Fatalf("missing %s", w)
				}
			}
		})
	}
}

const mixed = `{"user_id": 1, "device_id": "mobile", "client_event": "beer_cart", "client_timestamp": "2024-04-23T12:02:20.256387"}
{"user_id": 2, "device_id": "phone", "client_event": "beer_cart", "client_timestamp": "2024-04-23T12:02:20.256387"}
not json at all
{"user_id": 3, "device_id": "tablet", "client_event": "beer_cart", "client_timestamp": "2024-04-23T12:02:21.000001"}
{"user_id": 4, "device_id": "tablet", "client_event": "beer_cart", "client_timestamp": "yesterday"}
{"user_id": 5, "device_id": "tablet",`

func TestReplayInvalid(t *testing.T) {
	s := mustSchema(t, "beer_clicks")
	t.Run("deadletter", func(t *testing.T) {
		_, k := startBroker(t, "", "beer_clicks")
		stats := &Stats{}
		err := Replay(context.Background(), ReplayConfig{Kafka: k, Schema: s, From: "mixed.ndjson", Reader: strings.NewReader(mixed), Stats: stats})
		if err != nil {
			t.Fatal(err)
		}
		if stats.Invalid.Load() != 4 {
			t.Fatalf("invalid = %d, want 4", stats.Invalid.Load())
		}
		good := readAll(t, k, "beer_clicks", 2, 10*time.Second)
		dead := readAll(t, k, "beer_clicks.deadletter", 4, 10*time.Second)
		if len(good) != 2 || len(dead) != 4 {
			t.Fatalf("good %d dead %d, want 2/4", len(good), len(dead))
		}
		wantDead := map[int]string{2: "device_id", 3: "expected a JSON object", 5: "client_timestamp", 6: "truncated"}
		for _, r := range dead {
			h := map[string]string{}
			for _, x := range r.Headers {
				h[x.Key] = string(x.Value)
			}
			line, _ := strconv.Atoi(h[HeaderLine])
			reason, ok := wantDead[line]
			off, _ := strconv.Atoi(h[HeaderOffset])
			if !ok || !strings.Contains(h[HeaderError], reason) || h[HeaderSource] != "mixed.ndjson" || h[HeaderTopic] != "beer_clicks" ||
				!strings.HasPrefix(mixed[off:], string(r.Value)) {
				t.Fatalf("dead letter %q with headers %v", r.Value, h)
			}
		}
	})
	t.Run("skip", func(t *testing.T) {
		_, k := startBroker(t, "", "beer_clicks")
		stats := &Stats{}
		err := Replay(context.Background(), ReplayConfig{Kafka: k, Schema: s, Reader: strings.NewReader(mixed), OnInvalid: OnInvalidSkip, Stats: stats})
		if err != nil || stats.Produced.Load() != 2 || stats.Invalid.Load() != 4 {
			t.Fatalf("err %v produced %d invalid %d", err, stats.Produced.Load(), stats.Invalid.Load())
		}
	})
	t.Run("fail", func(t *testing.T) {
		_, k := startBroker(t, "", "beer_clicks")
		stats := &Stats{}
		err := Replay(context.Background(), ReplayConfig{Kafka: k, Schema: s, From: "x", Reader: strings.NewReader(mixed), OnInvalid: OnInvalidFail, Stats: stats})
		if !errors.Is(err, ErrInvalidEvent) || !strings.Contains(err.Error(), "offset 117 (line 2)") {
			t.Fatalf("err = %v", err)
		}
		if stats.Produced.Load() != 1 {
			t.Fatalf("produced %d before the invalid event, want 1", stats.Produced.Load())
		}
	})
}

// A dead-letter topic that cannot be created stops the replay before it
// writes anything, as a missing topic does: otherwise the run goes on and
// every invalid event it meets is lost (or fails only at the end).
func TestReplayDeadLetterTopicNotCreatable(t *testing.T) {
	// The broker refuses "dead.letters": it collides with "dead_letters"
	// (Kafka treats '.' and '_' alike in topic names).
	_, k := startBroker(t, "", "beer_clicks", "dead_letters")
	stats := &Stats{}
	err := Replay(context.Background(), ReplayConfig{Kafka: k, Schema: mustSchema(t, "beer_clicks"),
		Reader: strings.NewReader(mixed), DeadLetterTopic: "dead.letters", DeliveryTimeout: 2 * time.Second, Stats: stats})
	if err == nil || !strings.Contains(err.Error(), `creating topic "dead.letters"`) {
		t.Fatalf("err = %v, want the dead-letter topic's creation error", err)
	}
	if n := stats.Produced.Load() + stats.Failed.Load(); n != 0 {
		t.Fatalf("%d records were produced before the error, want none", n)
	}
}

// An NDJSON line cut inside a string (a writer that crashed mid-line) is
// one invalid event; the lines after it are still replayed. A raw newline
// cannot be part of a JSON string, so the reader resynchronises there.
func TestReplayLineCutInsideString(t *testing.T) {
	lines := strings.Split(mixed, "\n") // lines 0 and 3 are valid
	in := lines[0] + "\n" + `{"user_id": 9, "device_id": "tab` + "\n" + lines[3] + "\n" + strings.Replace(lines[0], `"user_id": 1`, `"user_id": 8`, 1) + "\n"
	_, k := startBroker(t, "", "beer_clicks")
	stats := &Stats{}
	err := Replay(context.Background(), ReplayConfig{Kafka: k, Schema: mustSchema(t, "beer_clicks"),
		From: "cut.ndjson", Reader: strings.NewReader(in), Stats: stats})
	if err != nil {
		t.Fatal(err)
	}
	if stats.Produced.Load() != 4 || stats.Invalid.Load() != 1 {
		t.Fatalf("produced %d (3 events, 1 dead letter) invalid %d, want 4/1", stats.Produced.Load(), stats.Invalid.Load())
	}
	dead := readAll(t, k, "beer_clicks.deadletter", 1, 10*time.Second)
	if len(dead) != 1 || string(dead[0].Value) != `{"user_id": 9, "device_id": "tab` {
		t.Fatalf("dead letters %v", dead)
	}
}

// A rate must be a finite number >= 0, as for the generator: NaN passed a
// "< 0" check and made the limiter never wait.
func TestReplayConfigRejectsBadRate(t *testing.T) {
	for _, rate := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), -1} {
		cfg := ReplayConfig{Kafka: kclient.Config{Brokers: []string{"127.0.0.1:9092"}}, Schema: mustSchema(t, "beer_clicks"),
			Reader: strings.NewReader(""), Rate: rate}
		if err := cfg.Validate(); !errors.Is(err, ErrBadRate) {
			t.Errorf("rate %v: %v, want ErrBadRate", rate, err)
		}
	}
	for _, rate := range []float64{0, 0.5, 1e6} {
		cfg := ReplayConfig{Kafka: kclient.Config{Brokers: []string{"127.0.0.1:9092"}}, Schema: mustSchema(t, "beer_clicks"),
			Reader: strings.NewReader(""), Rate: rate}
		if err := cfg.Validate(); err != nil {
			t.Errorf("rate %v: %v", rate, err)
		}
	}
}
