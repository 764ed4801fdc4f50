package producer

import (
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Records still waiting when finish gives up are counted failed once. The
// client fails them on Close but runs their callbacks on its own
// goroutine, which may be after Close returns: those late callbacks must
// not count them a second time.
func TestSenderFinishCountsEachRecordOnce(t *testing.T) {
	b, k := startBroker(t, "", "clickstream")
	stallProduce(b.Cluster())
	cl, err := newProducer(k, "none", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	stats := &Stats{}
	m := newMetrics(nil, "generate")
	snd := newSender(cl, stats, m)
	// The first answer holds the client's callback goroutine for a while,
	// as a loaded machine may: the answers for the records Close fails then
	// arrive after Close has returned.
	var calls, answered atomic.Int64
	count := snd.cb
	snd.cb = func(r *kgo.Record, err error) {
		if calls.Add(1) == 1 {
			time.Sleep(time.Second)
		}
		count(r, err)
		answered.Add(1)
	}
	const n = 200
	for i := range n {
		r := snd.record()
		r.Topic, r.Key, r.Value = "clickstream", []byte(strconv.Itoa(i)), []byte(strconv.Itoa(i))
		snd.produce(r)
	}
	err = snd.finish(time.Second, "clickstream")
	if !errors.Is(err, ErrUndelivered) || !strings.Contains(err.Error(), " 200 of 200 ") {
		t.Fatalf("finish with the broker stalled: %v, want ErrUndelivered for 200 of 200", err)
	}
	// The client answers every record once it is closed; wait for all of
	// those answers before reading the counts.
	deadline := time.Now().Add(30 * time.Second)
	for answered.Load() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d record callbacks ran", answered.Load(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if f, p := stats.Failed.Load(), stats.Produced.Load(); f != n || p != 0 {
		t.Fatalf("stats: %d failed, %d produced; want %d failed", f, p, n)
	}
	if f := testutil.ToFloat64(m.failed); f != n {
		t.Fatalf("failed-records metric %v, want %d", f, n)
	}
}
