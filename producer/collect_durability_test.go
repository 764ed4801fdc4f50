package producer

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	json "github.com/goccy/go-json"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/internal/kclient"
)

// The broker is stopped in the middle of a load. Every event answered 202
// must be in the topic afterwards: the broker keeps its log in a data dir,
// so a broker restarted on the same dir shows what was durable.
func TestCollectBrokerStopLosesNoAcceptedEvent(t *testing.T) {
	dir := t.TempDir()
	b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0", Topics: []string{"clickstream"}, Partitions: 6, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	k := kclient.Config{Brokers: b.Addrs()}
	c := startCollector(t, k, func(cfg *CollectConfig) {
		cfg.AckTimeout = 2 * time.Second
		cfg.DrainTimeout = time.Second
	})
	url := "http://" + c.Addr() + "/v1/events"

	var (
		mu       sync.Mutex
		accepted = map[string]bool{}
		n202     atomic.Int64
		others   = map[int]int{}
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	client := &http.Client{Timeout: 10 * time.Second}
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var body bytes.Buffer
				ids := make([]string, 50)
				for j := range ids {
					ids[j] = fmt.Sprintf("g%d-b%d-e%d", g, i, j)
					body.WriteString(clickJSON(ids[j]))
					body.WriteByte('\n')
				}
				resp, err := client.Post(url, "application/x-ndjson", &body)
				code := 0
				if err == nil {
					code = resp.StatusCode
					resp.Body.Close()
				}
				mu.Lock()
				if code == http.StatusAccepted {
					for _, id := range ids {
						accepted[id] = true
					}
					n202.Add(1)
				} else {
					others[code]++
				}
				mu.Unlock()
				if code != http.StatusAccepted {
					time.Sleep(50 * time.Millisecond)
				}
			}
		}()
	}
	for n202.Load() < 60 {
		time.Sleep(10 * time.Millisecond)
	}
	b.Close() // mid-load: requests are in flight
	time.Sleep(2500 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("202 answers: %d (%d events); other answers: %v", n202.Load(), len(accepted), others)
	if len(others) == 0 {
		t.Fatal("no request failed: the broker was not stopped mid-load")
	}

	b2, err := broker.Start(broker.Config{Listen: "127.0.0.1:0", Topics: []string{"clickstream"}, Partitions: 6, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	found := map[string]bool{}
	k2 := kclient.Config{Brokers: b2.Addrs()}
	opts, _ := k2.Opts()
	cl, err := kgo.NewClient(append(opts, kgo.ConsumeTopics("clickstream"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	missing := func() int {
		m := 0
		for id := range accepted {
			if !found[id] {
				m++
			}
		}
		return m
	}
	for missing() > 0 && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			var e clickEvent
			if json.Unmarshal(r.Value, &e) == nil {
				found[e.ClickID] = true
			}
		})
	}
	if m := missing(); m > 0 {
		t.Fatalf("%d of %d events answered 202 are not in the topic (%d distinct click_id found)", m, len(accepted), len(found))
	}
	t.Logf("all %d accepted events found among %d distinct click_id in the topic", len(accepted), len(found))
}
