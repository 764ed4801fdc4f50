//go:build !integration

package integration

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/internal/kclient"
	"github.com/sluicehq/sluice/processor"
	"github.com/sluicehq/sluice/schema"
)

// TestPipelineInProcess is the twin of the container suite's end-to-end
// test that runs in `make test`, without Docker: the embedded broker, the
// processor and the sink in this process, the lake on local disk. Same
// generated events, same exact checks.
func TestPipelineInProcess(t *testing.T) {
	const (
		input, output = "clickstream", "clickstream.high_intent_views"
		n             = 10000
	)
	b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0", Partitions: 6,
		Topics: []string{input, output, "sluice.dead-letter", "sluice.late"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	kc := kclient.Config{Brokers: b.Addrs(), ClientID: "it"}

	rules := t.TempDir()
	if err := os.WriteFile(filepath.Join(rules, "high_intent_views.yaml"), []byte(highIntentRule), 0o644); err != nil {
		t.Fatal(err)
	}
	lake := t.TempDir()
	cs, err := schema.Resolve("clickstream")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 2)
	go func() {
		errs <- processor.Run(ctx, processor.Config{Kafka: kc, RulesDir: rules, Group: "it-process", NoWatch: true})
	}()
	go func() {
		errs <- connector.Run(ctx, connector.Config{Kafka: kc, Group: "it-sink", To: "file://" + lake,
			FlushInterval: time.Second, Tables: []connector.Table{{Topic: input, Schema: cs}, {Topic: output, Schema: cs}}})
	}()
	defer func() {
		cancel()
		for range 2 {
			if err := <-errs; err != nil && !errors.Is(err, context.Canceled) {
				t.Errorf("worker: %v", err)
			}
		}
	}()

	events := generate(11, n, time.Now().UTC().Truncate(time.Hour).Add(-3*time.Hour))
	all, matches := expectations(events)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.ConsumeTopics(output),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	recs := make([]*kgo.Record, len(events))
	for i, e := range events {
		v, _ := json.Marshal(e)
		recs[i] = &kgo.Record{Topic: input, Key: []byte(e.UserID), Value: v}
	}
	pctx, pcancel := context.WithTimeout(ctx, 2*time.Minute)
	defer pcancel()
	if err := cl.ProduceSync(pctx, recs...).FirstErr(); err != nil {
		t.Fatalf("producing: %v", err)
	}

	// Outputs, read_committed, until every match is in.
	outs := map[string]int{}
	for len(outs) < len(matches) && pctx.Err() == nil {
		cl.PollFetches(pctx).EachRecord(func(r *kgo.Record) {
			var e event
			if err := json.Unmarshal(r.Value, &e); err != nil {
				t.Errorf("output %d/%d: %v", r.Partition, r.Offset, err)
			}
			outs[e.ClickID]++
		})
	}
	// Every input offset committed by the processor, then nothing more.
	waitLag(t, kadm.NewClient(cl), "it-process", input)
	checkExact(t, "topic "+output, outs, matches)

	waitLag(t, kadm.NewClient(cl), "it-sink", input)
	for table, want := range map[string]map[string]bool{"clickstream": all, "clickstream_high_intent_views": matches} {
		var rows map[string]int
		deadline := time.Now().Add(time.Minute)
		for {
			rows, err = lakeDirRows(filepath.Join(lake, table))
			if err == nil && len(rows) >= len(want) || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
		checkExact(t, "lake table "+table, rows, want)
	}
	t.Logf("%d events, %d high-intent views: each exactly once in the output topic and the lake", len(all), len(matches))
}

// waitLag polls until group has committed every offset of topic.
func waitLag(t *testing.T, adm *kadm.Client, group, topic string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ends, err1 := adm.ListEndOffsets(context.Background(), topic)
		committed, err2 := adm.FetchOffsets(context.Background(), group)
		lag := int64(-1)
		if err1 == nil && err2 == nil {
			lag = 0
			ends.Each(func(o kadm.ListedOffset) {
				at := int64(0)
				if c, ok := committed.Lookup(o.Topic, o.Partition); ok {
					at = c.At
				}
				lag += o.Offset - at
			})
		}
		if lag == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: lag %d on %s after 2m (%v %v)", group, lag, topic, err1, err2)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// lakeDirRows reads the click ids of a table's Parquet files on disk.
func lakeDirRows(dir string) (map[string]int, error) {
	rows := map[string]int{}
	layout := regexp.MustCompile(`^year=\d{4}/month=\d{2}/day=\d{2}/hour=\d{2}/[^/+]+\+\d+\+\d{20}\.snappy\.parquet$`)
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".parquet") {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		if !layout.MatchString(filepath.ToSlash(rel)) {
			return errors.New(rel + " does not follow the lake layout")
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return err
		}
		rs, err := parquet.Read[clickRow](f, st.Size())
		if err != nil {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if err := sameInIndependentReader(rel, data, rs); err != nil {
			return err
		}
		for _, r := range rs {
			rows[r.ClickID]++
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return rows, nil
	}
	return rows, err
}
