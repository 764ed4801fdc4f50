package cli

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// prettyEvent is one valid clickstream event that high_intent_views
// matches, indented over several lines as a pretty-printer writes it.
const prettyEvent = `{
  "timestamp": "2024-01-01 00:00:30.000000",
  "user_id": "1",
  "pixel_id": "p",
  "click_id": "c",
  "insertion_timestamp": "2024-01-01 00:00:30.000000",
  "event_name": "ViewContent",
  "user_ip": "203.0.113.7",
  "additional_data": {"time_on_data": 1, "percent_viewed": 70, "product_id": 1, "price": 1.5}
}`

func writeEvents(t *testing.T, events ...string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "events.json")
	if err := os.WriteFile(p, []byte(strings.Join(events, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// Concatenated JSON may be pretty-printed; the outputs must still be one
// JSON object per line, as the docs promise, with and without --raw.
func TestRulesRunOutputsOneObjectPerLine(t *testing.T) {
	in := writeEvents(t, prettyEvent, "\n", prettyEvent)
	for _, raw := range []bool{false, true} {
		args := []string{"rules", "run", "--rules", "../../rules", "--rule", "high_intent_views", "--from", in}
		if raw {
			args = append(args, "--raw")
		}
		code, out, errs := run(args...)
		if code != 0 {
			t.Fatalf("raw=%v: exit %d: %s", raw, code, errs)
		}
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if len(lines) != 2 {
			t.Fatalf("raw=%v: want 2 output lines, got %d:\n%s", raw, len(lines), out)
		}
		for _, l := range lines {
			if !json.Valid([]byte(l)) {
				t.Fatalf("raw=%v: line is not a JSON object: %q", raw, l)
			}
		}
	}
}

// A --rule name that no rule file has is a usage error that names it, not
// a run of the other rules (or of none).
func TestRulesRunUnknownRuleFails(t *testing.T) {
	in := writeEvents(t, prettyEvent)
	for _, only := range []string{"high_intent_view", "high_intent_views,no_such_rule"} {
		code, _, errs := run("rules", "run", "--rules", "../../rules", "--source", "clickstream", "--rule", only, "--from", in)
		bad := only[strings.LastIndexByte(only, ',')+1:]
		if code != 2 || !strings.Contains(errs, `--rule `+bad+`: no such rule`) {
			t.Fatalf("--rule %s: exit %d, stderr %q", only, code, errs)
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

// A backtest whose outputs cannot be written (disk full, closed pipe) must
// not exit 0 as if outputs.ndjson were complete.
func TestRulesRunFailsWhenOutputCannotBeWritten(t *testing.T) {
	in := writeEvents(t, prettyEvent)
	for _, raw := range []string{"--raw=false", "--raw=true"} {
		var errb bytes.Buffer
		code := Main([]string{"rules", "run", "--rules", "../../rules", "--rule", "high_intent_views", raw, "--from", in}, failingWriter{}, &errb)
		if code != 1 || !strings.Contains(errb.String(), "no space left on device") {
			t.Fatalf("%s: exit %d, stderr %q", raw, code, errb.String())
		}
	}
}

// rules run reads files as produce --from does: gzipped, after a
// byte-order mark, and past pieces that are not JSON objects (a garbage
// line, a line cut inside a string), which are counted as invalid.
func TestRulesRunReadsWhatProduceReads(t *testing.T) {
	var one bytes.Buffer
	if err := json.Compact(&one, []byte(prettyEvent)); err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("\xef\xbb\xbf" + one.String() + "\nnot json\n{\"timestamp\": \"2024-01-0\n" + one.String() + "\n"))
	zw.Close()
	in := filepath.Join(t.TempDir(), "events.json.gz")
	if err := os.WriteFile(in, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := run("rules", "run", "--rules", "../../rules", "--rule", "high_intent_views", "--raw", "--from", in)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if out != one.String()+"\n"+one.String()+"\n" {
		t.Errorf("outputs %q, want the two valid events", out)
	}
	if !strings.Contains(errs, "read 4 events (2 invalid)") || !strings.Contains(errs, "line 3") {
		t.Errorf("summary %q, want 4 events, 2 invalid, the cut line named", errs)
	}
}
