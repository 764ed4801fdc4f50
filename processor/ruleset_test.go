package processor

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sluicehq/sluice/processor/rule"
)

func TestConsumedChange(t *testing.T) {
	// perKind is a window rule over all partitions: tumbling, it combines
	// through a partials topic; as sessions, through a repartition topic.
	const perKind = "name: per_kind\nsource: clickstream\nwindow: {type: %s}\ngroup_by: [event_name]\naggregate: {events: count()}\noutput: clickstream.per_kind\n"
	w := &worker{cfg: Config{Group: "g"}}
	load := func(files ...string) *ruleSet {
		t.Helper()
		dir := t.TempDir()
		for _, f := range files {
			name := f
			var data []byte
			switch f {
			case "per_kind tumbling":
				name, data = "per_kind", []byte(fmt.Sprintf(perKind, "tumbling, size: 1m"))
			case "per_kind session":
				name, data = "per_kind", []byte(fmt.Sprintf(perKind, "session, gap: 1m"))
			default:
				var err error
				if data, err = os.ReadFile(filepath.Join("..", "rules", f+".yaml")); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(dir, name+".yaml"), data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		rules, err := rule.LoadDir(dir, nil)
		if err != nil {
			t.Fatal(err)
		}
		rs := newRuleSet(rules)
		w.indexPartials(rs)
		w.indexRepartitions(rs)
		return rs
	}
	for _, tc := range []struct {
		name           string
		from, to       []string
		added, removed []string
	}{
		{"a window rule goes: its partials topic", []string{"high_intent_views", "events_per_minute"}, []string{"high_intent_views"},
			nil, []string{"g.events_per_minute.partials"}},
		{"a filter goes: its source is still read", []string{"high_intent_views", "events_per_minute"}, []string{"events_per_minute"},
			nil, nil},
		{"a session rule goes: its repartition topic", []string{"high_intent_views", "product_interest_bursts"}, []string{"high_intent_views"},
			nil, []string{"g.product_interest_bursts.repartition"}},
		{"one of a source's rules goes", []string{"high_intent_views", "beer_cart_clicks", "beer_checkouts_per_device"}, []string{"high_intent_views", "beer_checkouts_per_device"},
			nil, nil},
		{"a source's last rules go", []string{"high_intent_views", "beer_cart_clicks", "beer_checkouts_per_device"}, []string{"high_intent_views"},
			nil, []string{"beer_clicks", "g.beer_checkouts_per_device.partials"}},
		{"a source's rule comes back", []string{"high_intent_views"}, []string{"high_intent_views", "beer_cart_clicks"},
			[]string{"beer_clicks"}, nil},
		{"tumbling to session: partials out, repartition in", []string{"per_kind tumbling"}, []string{"per_kind session"},
			[]string{"g.per_kind.repartition"}, []string{"g.per_kind.partials"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			added, removed := load(tc.from...).consumedChange(load(tc.to...))
			if !slices.Equal(added, tc.added) || !slices.Equal(removed, tc.removed) {
				t.Errorf("added %v, removed %v; want added %v, removed %v", added, removed, tc.added, tc.removed)
			}
		})
	}
}
