package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/fixtures"
)

func TestRulesTestCommand(t *testing.T) {
	code, out, errs := run("rules", "test", "../../rules")
	if code != 0 || !strings.Contains(out, "0 failed") {
		t.Fatalf("shipped rules: exit %d\n%s%s", code, out, errs)
	}
	dir := t.TempDir()
	data, _ := os.ReadFile("../../rules/events_per_minute.yaml")
	bad := strings.Replace(string(data), "event_name: Search, events: 2}", "event_name: Search, events: 5}", 1)
	os.WriteFile(filepath.Join(dir, "epm.yaml"), []byte(bad), 0o644)
	code, out, _ = run("rules", "test", dir)
	if code != 1 || !strings.Contains(out, "FAIL events_per_minute") || !strings.Contains(out, "- missing:") || !strings.Contains(out, "+ unexpected:") {
		t.Fatalf("failing test: exit %d\n%s", code, out)
	}
}

func TestRulesLintCommand(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.yaml"), []byte("name: a\nsource: clickstream\nwhere: evnt == 1\noutput: o\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "b.yaml"), []byte("name: b\nsource: clickstream\noutput: o2\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "c.yaml"), []byte("name: c\nsource: clickstream\noutput: o3\nwindow: {type: tumbling, size: 1m, repartition: true}\ngroup_by: [user_id]\naggregate: {n: count()}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "d.yaml"), []byte("name: d\nsource: clickstream\noutput: o4\nwindow: {type: session, gap: 5m, repartition: true}\ngroup_by: [event_name]\naggregate: {n: count()}\n"), 0o644)
	code, out, _ := run("rules", "lint", dir)
	if code != 1 || !strings.Contains(out, "a.yaml:3:8: error: unknown field evnt") || !strings.Contains(out, "b.yaml:1:7: warning: rule has no tests") ||
		!strings.Contains(out, "c.yaml:4:9: warning: repartition has no effect: the rule groups by the record key (user_id)") ||
		!strings.Contains(out, "d.yaml:4:9: warning: repartition has no effect: session rules and rules with emit_every always repartition") {
		t.Fatalf("exit %d\n%s", code, out)
	}
}

func TestRulesRunCommand(t *testing.T) {
	in := filepath.Join(t.TempDir(), "events.json")
	// Firehose-style: the real object's events back to back, no newlines.
	if err := os.WriteFile(in, bytes.ReplaceAll(fixtures.FirehoseObject(), []byte("}\n{"), []byte("}{")), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := run("rules", "run", "--rules", "../../rules", "--source", "beer_clicks", "--from", in)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	rules := map[string]int{}
	for _, l := range lines {
		var rec struct {
			Rule   string          `json:"rule"`
			Record json.RawMessage `json:"record"`
		}
		if err := json.Unmarshal([]byte(l), &rec); err != nil || len(rec.Record) == 0 {
			t.Fatalf("line %q: %v", l, err)
		}
		rules[rec.Rule]++
	}
	if rules["beer_cart_clicks"] == 0 || rules["beer_checkouts_per_device"] == 0 || !strings.Contains(errs, "invalid)") {
		t.Fatalf("outputs %v\nstderr %s", rules, errs)
	}
}
