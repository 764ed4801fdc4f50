package producer

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/kclient"
)

// stallProduce makes the broker take produce requests and never answer
// them, as a broker that hangs mid-request does: the records stay in the
// client's buffer, which fills up.
func stallProduce(c *kfake.Cluster) {
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		return nil, nil, true
	})
}

// A request with an invalid event, arriving while the client's send buffer
// is full and the broker does not answer, is answered within its ack
// timeout with 503 (its dead letter is not durable), and gives its share of
// the in-flight budget back.
func TestCollectStalledBrokerDeadLetterDoesNotHang(t *testing.T) {
	b, k := startBroker(t, "", "clickstream", "clickstream.deadletter")
	const budget = 64 << 10
	c := startCollector(t, k, func(cfg *CollectConfig) {
		cfg.MaxBody = budget
		cfg.MaxInFlightBytes = budget // also the client's send buffer
		cfg.AckTimeout = 2 * time.Second
		cfg.DrainTimeout = time.Second
	})
	stallProduce(b.Cluster())
	url := "http://" + c.Addr()

	// The invalid event is 4 KiB: once less than that is free in the send
	// buffer, its dead letter cannot be buffered.
	bad := strings.Replace(clickJSON("bad"), "Search", "Browse", 1)
	bad = strings.Replace(bad, `"abc"`, `"`+strings.Repeat("a", 4<<10)+`"`, 1)
	var batch bytes.Buffer
	for range 100 {
		batch.WriteString(clickJSON("fill") + "\n")
	}
	for i := 0; c.cl.BufferedProduceBytes() <= budget-4<<10; i++ {
		if i == 10 {
			t.Fatalf("send buffer holds %d bytes after %d batches", c.cl.BufferedProduceBytes(), i)
		}
		if a := post(t, url, "application/x-ndjson", batch.Bytes(), nil); a.code != http.StatusServiceUnavailable {
			t.Fatalf("batch %d with the broker stalled: %d %+v", i, a.code, a.body)
		}
	}

	// Ten times the ack timeout: a hang, not a slow answer.
	client := &http.Client{Timeout: 20 * time.Second}
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, url+"/v1/events", strings.NewReader(bad))
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("request with an invalid event, send buffer full: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("dead letter not durable: got %d (Retry-After %q), want 503", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if held := c.budget.cur.Load(); held != 0 {
		t.Fatalf("%d bytes of the in-flight budget still held after every request was answered", held)
	}
}

// A mixed request whose valid events are acknowledged but whose dead letter
// is not (its topic was deleted under the collector) is not a 207: the
// client would never resend the rejected event, and it would be lost.
func TestCollectDeadLetterNotDurableIs503(t *testing.T) {
	_, k := startBroker(t, "", "clickstream", "clickstream.deadletter")
	c := startCollector(t, k, func(cfg *CollectConfig) { cfg.AckTimeout = 2 * time.Second })
	url := "http://" + c.Addr()
	bad := strings.Replace(clickJSON("bad"), "Search", "Browse", 1)
	mixed := []byte("[" + clickJSON("ok") + "," + bad + "]")
	if a := post(t, url, "application/json", mixed, nil); a.code != http.StatusMultiStatus {
		t.Fatalf("before: %d %+v, want 207", a.code, a.body)
	}
	deleteTopic(t, k, "clickstream.deadletter")
	if a := post(t, url, "application/json", mixed, nil); a.code != http.StatusServiceUnavailable {
		t.Fatalf("dead-letter topic gone: %d %+v, want 503", a.code, a.body)
	}
	if a := post(t, url, "application/json", []byte(bad), nil); a.code != http.StatusServiceUnavailable {
		t.Fatalf("dead-letter topic gone, no valid event: %d %+v, want 503", a.code, a.body)
	}
}

func deleteTopic(t testing.TB, k kclient.Config, topic string) {
	t.Helper()
	opts, err := k.Opts()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := kadm.NewClient(cl).DeleteTopic(ctx, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("deleting topic %s: %v", topic, err)
	}
}
