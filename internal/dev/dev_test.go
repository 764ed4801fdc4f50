package dev

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/internal/lakecheck"
)

// The whole pipeline in one process: embedded broker, generator, processor
// over the shipped rules, sink into a temp lake. The lake is read back with
// an independent Parquet reader and must hold exactly the generated events,
// and the filter rule's table exactly the events that match it.
func TestPipelineEndToEnd(t *testing.T) {
	const n = 20000
	lake := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	sum, err := Run(ctx, Config{Rate: 0, Count: n, Seed: 7, Users: 300, RulesDir: "../../rules", Lake: lake, FlushInterval: 2 * time.Second})
	if err != nil {
		t.Fatalf("dev run: %v", err)
	}
	if sum.Produced != n || !sum.Drained {
		t.Fatalf("produced %d (want %d), drained %v", sum.Produced, n, sum.Drained)
	}

	files, err := lakecheck.ReadTable(lake, "clickstream")
	if err != nil {
		t.Fatal(err)
	}
	wantCols := "additional_data.percent_viewed additional_data.price additional_data.product_id additional_data.time_on_data click_id event_name insertion_timestamp pixel_id timestamp user_id user_ip"
	for _, f := range files {
		var cols []string
		for c := range f.Cols {
			cols = append(cols, c)
		}
		sort.Strings(cols)
		if got := strings.Join(cols, " "); got != wantCols {
			t.Fatalf("%s has columns %s, want the schema's %s", f.Key, got, wantCols)
		}
	}
	clicks := map[string]bool{}
	wantMatches := map[string]bool{}
	var rows int64
	for _, f := range files {
		rows += f.Rows
		for i := int64(0); i < f.Rows; i++ {
			id := f.Cols["click_id"][i].(string)
			if clicks[id] {
				t.Fatalf("duplicate click_id %s in %s", id, f.Key)
			}
			clicks[id] = true
			ts := time.UnixMicro(f.Cols["timestamp"][i].(int64)).UTC()
			if dir := ts.Format("year=2006/month=01/day=02/hour=15"); !strings.Contains(f.Key, dir) {
				t.Fatalf("row with event time %s is in %s", ts, f.Key)
			}
			if f.Cols["event_name"][i] == "ViewContent" && f.Cols["additional_data.percent_viewed"][i].(float64) > 60 {
				wantMatches[id] = true
			}
		}
	}
	if rows != n || len(clicks) != n {
		t.Fatalf("lake has %d rows, %d distinct click_ids; want %d", rows, len(clicks), n)
	}
	if got := sum.Matched["high_intent_views"]; got != int64(len(wantMatches)) {
		t.Fatalf("processor matched %d, the lake's events hold %d matches", got, len(wantMatches))
	}
	if len(wantMatches) == 0 {
		t.Fatal("no event matched the filter: the test proves nothing")
	}

	out, err := lakecheck.ReadTable(lake, "clickstream_high_intent_views")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, f := range out {
		for _, v := range f.Cols["click_id"] {
			if got[v.(string)] || !wantMatches[v.(string)] {
				t.Fatalf("high_intent_views holds %s twice or without a match", v)
			}
			got[v.(string)] = true
		}
	}
	if len(got) != len(wantMatches) {
		t.Fatalf("high_intent_views table has %d rows, want %d", len(got), len(wantMatches))
	}
}

// Bad input fails before anything starts, with nothing written to the lake.
func TestRunRejectsBadInput(t *testing.T) {
	ctx := context.Background()
	lake := filepath.Join(t.TempDir(), "lake")
	if _, err := Run(ctx, Config{RulesDir: filepath.Join(t.TempDir(), "missing"), Lake: lake}); err == nil || !strings.Contains(err.Error(), "--rules") {
		t.Fatalf("missing rules dir: %v", err)
	}

	bad := t.TempDir()
	rule := "name: typo\nsource: clickstream\nwhere: event_nam == \"Search\"\noutput: x\n"
	if err := os.WriteFile(filepath.Join(bad, "typo.yaml"), []byte(rule), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Run(ctx, Config{RulesDir: bad, Lake: lake})
	if err == nil || !strings.Contains(err.Error(), "typo.yaml:3:8") {
		t.Fatalf("unknown field: want an error at typo.yaml:3:8, got %v", err)
	}
	if ents, _ := os.ReadDir(lake); len(ents) != 0 {
		t.Fatalf("the lake got files after a failed start: %v", ents)
	}

	// A bad rate is refused by Validate (a usage error), not later by the
	// generator.
	for _, rate := range []float64{math.NaN(), math.Inf(1), -1} {
		c := Config{RulesDir: "../../rules", Lake: lake, Rate: rate}
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "--rate") {
			t.Fatalf("--rate %v: %v", rate, err)
		}
	}

	// A lake path under a regular file cannot be created, even by root.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Run(ctx, Config{RulesDir: "../../rules", Lake: filepath.Join(file, "lake")}); err == nil || !strings.Contains(err.Error(), "--lake") {
		t.Fatalf("unwritable lake: %v", err)
	}
}
