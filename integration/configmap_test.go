//go:build !integration

package integration

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/internal/kclient"
	"github.com/sluicehq/sluice/processor"
)

// configMapDir lays out a rules directory the way the kubelet mounts a
// ConfigMap volume: the data in a timestamped directory, a ..data symlink
// to it, and one symlink per key through ..data.
type configMapDir struct {
	t   *testing.T
	dir string
	gen int
}

func newConfigMapDir(t *testing.T, files map[string]string) *configMapDir {
	c := &configMapDir{t: t, dir: t.TempDir()}
	c.update(files)
	for name := range files {
		if err := os.Symlink(filepath.Join("..data", name), filepath.Join(c.dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// update swaps in new contents atomically, as the kubelet's AtomicWriter
// does: write a new timestamped directory, point ..data_tmp at it, rename
// ..data_tmp over ..data, remove the old directory. The per-key symlinks
// never change.
func (c *configMapDir) update(files map[string]string) {
	c.gen++
	ts := filepath.Join(c.dir, "..2026_11_23_10_00_0"+string(rune('0'+c.gen)))
	if err := os.Mkdir(ts, 0o755); err != nil {
		c.t.Fatal(err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(ts, name), []byte(body), 0o644); err != nil {
			c.t.Fatal(err)
		}
	}
	old, _ := os.Readlink(filepath.Join(c.dir, "..data"))
	tmp := filepath.Join(c.dir, "..data_tmp")
	if err := os.Symlink(filepath.Base(ts), tmp); err != nil {
		c.t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(c.dir, "..data")); err != nil {
		c.t.Fatal(err)
	}
	if old != "" {
		if err := os.RemoveAll(filepath.Join(c.dir, old)); err != nil {
			c.t.Fatal(err)
		}
	}
}

// TestRulesReloadFromConfigMap: the processor reloads rules when Kubernetes
// updates the ConfigMap mounted as its rules directory (deploy/k8s), which
// changes only the ..data symlink, no *.yaml name.
func TestRulesReloadFromConfigMap(t *testing.T) {
	const input, output = "clickstream", "clickstream.high_intent_views"
	b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0", Partitions: 3,
		Topics: []string{input, output, "sluice.dead-letter", "sluice.late"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	rules := newConfigMapDir(t, map[string]string{"high_intent_views.yaml": highIntentRule})

	reg := prometheus.NewRegistry()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- processor.Run(ctx, processor.Config{Kafka: kclient.Config{Brokers: b.Addrs()}, RulesDir: rules.dir, Group: "it-reload", Reg: reg})
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("processor: %v", err)
		}
	}()

	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.ConsumeTopics(output),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	produce := func(events []event) {
		recs := make([]*kgo.Record, len(events))
		for i, e := range events {
			v, _ := json.Marshal(e)
			recs[i] = &kgo.Record{Topic: input, Key: []byte(e.UserID), Value: v}
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		waitLag(t, adm, "it-reload", input)
	}

	before := generate(21, 2000, time.Now().UTC().Add(-3*time.Hour))
	produce(before)

	// The update: only views above 90% from now on.
	rules.update(map[string]string{"high_intent_views.yaml": strings.Replace(highIntentRule, "percent_viewed > 60", "percent_viewed > 90", 1)})
	deadline := time.Now().Add(30 * time.Second)
	for reloads(t, reg) < 1 {
		if time.Now().After(deadline) {
			t.Fatal("the processor did not reload the rules after the ConfigMap-style update of ..data")
		}
		time.Sleep(50 * time.Millisecond)
	}

	after := generate(22, 2000, time.Now().UTC().Add(-3*time.Hour))
	produce(after)
	want := map[string]bool{}
	for _, e := range before {
		if e.highIntent() {
			want[e.ClickID] = true
		}
	}
	for _, e := range after {
		if e.EventName == "ViewContent" && e.AdditionalData.PercentViewed > 90 {
			want[e.ClickID] = true
		}
	}
	got := map[string]int{}
	rctx, rcancel := context.WithTimeout(ctx, time.Minute)
	defer rcancel()
	for len(got) < len(want) && rctx.Err() == nil {
		cl.PollFetches(rctx).EachRecord(func(r *kgo.Record) {
			var e event
			_ = json.Unmarshal(r.Value, &e)
			got[e.ClickID]++
		})
	}
	checkExact(t, "outputs across the reload", got, want)
}

// reloads is sluice_process_rules_reloads_total{result="ok"}.
func reloads(t *testing.T, reg *prometheus.Registry) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "sluice_process_rules_reloads_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "result" && l.GetValue() == "ok" {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
