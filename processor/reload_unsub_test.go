package processor

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/broker"
)

// groupView reads what a consumer group's members subscribe to and are
// assigned, and its committed offsets, as the broker sees them.
type groupView struct {
	t     *testing.T
	adm   *kadm.Client
	group string
}

func newGroupView(t *testing.T, b *broker.Broker, group string) *groupView {
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return &groupView{t: t, adm: kadm.NewClient(cl), group: group}
}

// topics returns the topics the members joined with and the topics of
// their assigned partitions, each sorted; nil while the group rebalances.
func (g *groupView) topics() (subscribed, assigned []string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ds, err := g.adm.DescribeGroups(ctx, g.group)
	if err != nil {
		return nil, nil
	}
	d := ds[g.group]
	if d.Err != nil || d.State != "Stable" {
		return nil, nil
	}
	return d.JoinTopics(), d.AssignedPartitions().Topics()
}

// waitConsumes waits until the group subscribes to and is assigned
// exactly topics.
func (g *groupView) waitConsumes(topics ...string) {
	g.t.Helper()
	slices.Sort(topics)
	var sub, asg []string
	deadline := time.Now().Add(15 * time.Second)
	for {
		if sub, asg = g.topics(); slices.Equal(sub, topics) && slices.Equal(asg, topics) {
			return
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("group %s subscribes to %v and is assigned %v, want exactly %v", g.group, sub, asg, topics)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// committed returns the group's committed offset of each partition of topic.
func (g *groupView) committed(topic string) map[int32]int64 {
	g.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	offs, err := g.adm.FetchOffsets(ctx, g.group)
	if err != nil {
		g.t.Fatal(err)
	}
	out := map[int32]int64{}
	for p, o := range offs[topic] {
		if o.Err == nil {
			out[p] = o.At
		}
	}
	return out
}

// beerEvents makes n beer_cart clicks with user ids from first on,
// alternating between partitions 0 and 1.
func beerEvents(first, n int) []*kgo.Record {
	recs := make([]*kgo.Record, n)
	for i := range recs {
		u := first + i
		recs[i] = &kgo.Record{Partition: int32(u % 2), Key: fmt.Appendf(nil, "%d", u),
			Value: fmt.Appendf(nil, `{"user_id": %d, "device_id": "mobile", "client_event": "beer_cart", "client_timestamp": "2024-04-23T12:00:%02d.000000"}`, u, u%60)}
	}
	return recs
}

// wantHighIntent is the set of high_intent_views outputs of evs: the
// matching events, byte for byte.
func wantHighIntent(evs []event) map[string]bool {
	want := map[string]bool{}
	for _, e := range evs {
		if e.name == "ViewContent" && e.pct > 60 {
			want[string(e.raw)] = true
		}
	}
	return want
}

// exactlyOnce checks that the committed records of topic are want, each
// exactly once, identified by id.
func exactlyOnce(t *testing.T, b *broker.Broker, topic string, want map[string]bool, id func(*kgo.Record) string) {
	t.Helper()
	got := map[string]int{}
	for _, r := range readCommitted(t, b, topic) {
		got[id(r)]++
	}
	for k, n := range got {
		if !want[k] || n != 1 {
			t.Errorf("%s: %d× %s, want %d", topic, n, k, map[bool]int{true: 1}[want[k]])
		}
	}
	for k := range want {
		if got[k] == 0 {
			t.Errorf("%s: missing %s", topic, k)
		}
	}
	if len(want) == 0 {
		t.Fatalf("%s: the test expects no output: it checks nothing", topic)
	}
}

// hasSeries tells whether reg exports metric name with first label value.
func hasSeries(t *testing.T, reg *prometheus.Registry, name, label string) bool {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if mf.GetName() == name && len(m.GetLabel()) > 0 && m.GetLabel()[0].GetValue() == label {
				return true
			}
		}
	}
	return false
}

func reloadsOK(t *testing.T, reg *prometheus.Registry) float64 {
	return testutil.ToFloat64(mustGet(t, reg, "sluice_process_rules_reloads_total", "ok"))
}

// TestReloadStopsConsumingARemovedRulesPartialsTopic removes a window rule
// whose partials topic only it reads: the group stops consuming that topic
// (its committed offsets stay put while records arrive), and the filter
// rule that remains goes on, exactly once, without a transaction aborted
// by the rebalance.
func TestReloadStopsConsumingARemovedRulesPartialsTopic(t *testing.T) {
	b := startBroker(t, 2, "clickstream")
	dir := writeRules(t, "high_intent_views", "events_per_minute")
	logs := &syncBuf{}
	reg, stats := prometheus.NewRegistry(), &Stats{}
	cfg := Config{Kafka: kafkaCfg(b), RulesDir: dir, Group: "g", InstanceID: "w", Reg: reg, Stats: stats, IdleTimeout: -1,
		Log: slog.New(slog.NewTextHandler(logs, nil))}
	stop := startRun(t, cfg)
	g := newGroupView(t, b, "g")
	const partials = "g.events_per_minute.partials"

	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	first := genEvents(1, 2, 150, start, time.Second) // windows close: partials flow
	produce(t, b, "clickstream", eventRecords(first)...)
	waitFor(t, 30*time.Second, "first events consumed", func() bool { return stats.Consumed() >= int64(len(first)) })
	g.waitConsumes("clickstream", partials)
	waitFor(t, 30*time.Second, "the combiners commit partials", func() bool { return len(g.committed(partials)) > 0 })

	for _, m := range []string{"sluice_process_window_state_size", "sluice_process_watermark_lag_seconds"} {
		waitFor(t, 10*time.Second, m+" of the window rule", func() bool { return hasSeries(t, reg, m, "events_per_minute") })
	}
	if err := os.Remove(filepath.Join(dir, "events_per_minute.yaml")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "reload", func() bool { return reloadsOK(t, reg) >= 1 })
	for _, m := range []string{"sluice_process_window_state_size", "sluice_process_watermark_lag_seconds"} {
		if hasSeries(t, reg, m, "events_per_minute") {
			t.Errorf("%s of the removed rule is still exported", m)
		}
	}
	g.waitConsumes("clickstream")
	before := g.committed(partials)
	// Nobody writes the partials topic now; a record there must stay unread.
	produce(t, b, partials, &kgo.Record{Partition: 0, Value: []byte("x")}, &kgo.Record{Partition: 1, Value: []byte("x")})
	second := genEvents(2, 2, 150, start.Add(time.Hour), time.Second)
	produce(t, b, "clickstream", eventRecords(second)...)
	waitFor(t, 30*time.Second, "second events", settled(stats, int64(len(first)+len(second))))
	if after := g.committed(partials); !maps.Equal(after, before) {
		t.Errorf("offsets of %s moved after its rule was removed: %v, then %v", partials, before, after)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	exactlyOnce(t, b, "clickstream.high_intent_views", wantHighIntent(append(first, second...)),
		func(r *kgo.Record) string { return string(r.Value) })
	if n := testutil.ToFloat64(mustGet(t, reg, "sluice_process_transactions_total", "aborted")); n != 0 {
		t.Errorf("%v transactions aborted: the rebalance of the reload should not abort one", n)
	}
	if l := logs.String(); !strings.Contains(l, "stopped consuming") || !strings.Contains(l, partials) {
		t.Errorf("no log of the topics no longer consumed:\n%s", l)
	}
}

// TestReloadStopsConsumingASourceNoRuleReadsAndResumesOnReAdd removes the
// last rule of a second source topic from two workers of one group: the
// group stops consuming the topic, its committed offsets stay put while
// events arrive, and the other source's rule goes on exactly once through
// the rebalances. Put back, the rule resumes from the committed offsets:
// it gets the events that came meanwhile, once.
func TestReloadStopsConsumingASourceNoRuleReadsAndResumesOnReAdd(t *testing.T) {
	b := startBroker(t, 2, "clickstream", "beer_clicks")
	dir := writeRules(t, "high_intent_views", "beer_cart_clicks")
	beerFile := filepath.Join(dir, "beer_cart_clicks.yaml")
	beerRule, err := os.ReadFile(beerFile)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuf{}
	type member struct {
		reg   *prometheus.Registry
		stats *Stats
		stop  func() error
	}
	var ws []*member
	for _, id := range []string{"a", "b"} {
		w := &member{reg: prometheus.NewRegistry(), stats: &Stats{}}
		cfg := Config{Kafka: kafkaCfg(b), RulesDir: dir, Group: "g", InstanceID: id, Reg: w.reg, Stats: w.stats, IdleTimeout: -1,
			MaxPollRecords: 20, Log: slog.New(slog.NewTextHandler(logs, nil))}
		w.stop = startRun(t, cfg)
		ws = append(ws, w)
	}
	counts := func() (consumed, produced int64) {
		for _, w := range ws {
			consumed += w.stats.Consumed()
			produced += w.stats.producedTotal()
		}
		return consumed, produced
	}
	reloaded := func(n float64) func() bool {
		return func() bool { return reloadsOK(t, ws[0].reg) >= n && reloadsOK(t, ws[1].reg) >= n }
	}
	g := newGroupView(t, b, "g")
	g.waitConsumes("beer_clicks", "clickstream")

	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var clicks []event
	var beers []*kgo.Record
	send := func(evs []event, beer []*kgo.Record) {
		clicks, beers = append(clicks, evs...), append(beers, beer...)
		produce(t, b, "clickstream", eventRecords(evs)...)
		if len(beer) > 0 {
			produce(t, b, "beer_clicks", beer...)
		}
	}
	send(genEvents(1, 2, 100, start, time.Second), beerEvents(0, 20))
	waitFor(t, 30*time.Second, "first events", settledBy(counts, int64(len(clicks)+len(beers))))

	if err := os.Remove(beerFile); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "reload", reloaded(1))
	g.waitConsumes("clickstream")
	before := g.committed("beer_clicks")
	if n := before[0] + before[1]; n != int64(len(beers)) {
		t.Fatalf("beer_clicks committed offsets %v, want %d in all", before, len(beers))
	}
	send(genEvents(2, 2, 100, start.Add(time.Hour), time.Second), beerEvents(20, 20))
	waitFor(t, 30*time.Second, "events while beer_cart_clicks is away", settledBy(counts, int64(len(clicks)+len(beers)-20)))
	if after := g.committed("beer_clicks"); !maps.Equal(after, before) {
		t.Errorf("offsets of beer_clicks moved after its last rule was removed: %v, then %v", before, after)
	}
	if l := logs.String(); !strings.Contains(l, "stopped consuming") || !strings.Contains(l, "beer_clicks") {
		t.Errorf("no log of the topics no longer consumed:\n%s", l)
	}

	if err := os.WriteFile(beerFile, beerRule, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "reload", reloaded(2))
	send(genEvents(3, 2, 100, start.Add(2*time.Hour), time.Second), nil)
	waitFor(t, 30*time.Second, "everything", settledBy(counts, int64(len(clicks)+len(beers))))
	for _, w := range ws {
		if err := w.stop(); err != nil {
			t.Fatal(err)
		}
	}

	exactlyOnce(t, b, "clickstream.high_intent_views", wantHighIntent(clicks), func(r *kgo.Record) string { return string(r.Value) })
	wantBeer := map[string]bool{}
	for i := range beers {
		wantBeer[fmt.Sprint(i)] = true
	}
	exactlyOnce(t, b, "beer_clicks.cart_clicks", wantBeer, func(r *kgo.Record) string {
		var row struct {
			UserID int `json:"user_id"`
		}
		if err := json.Unmarshal(r.Value, &row); err != nil {
			t.Fatalf("%s: %v", r.Value, err)
		}
		return fmt.Sprint(row.UserID)
	})
}
