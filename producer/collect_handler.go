package producer

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	json "github.com/goccy/go-json"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Rejected is one event of a batch that was not accepted.
type Rejected struct {
	Index  int    `json:"index"`
	Reason string `json:"reason"`
}

// Response is the body of every POST /v1/events answer.
type Response struct {
	Accepted int        `json:"accepted"`
	Rejected []Rejected `json:"rejected,omitempty"`
	Error    string     `json:"error,omitempty"`
}

func (c *Collector) reply(w http.ResponseWriter, code int, resp Response) {
	c.cm.requests.WithLabelValues(strconv.Itoa(code)).Inc()
	if code == http.StatusServiceUnavailable || code == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", strconv.Itoa(int((c.cfg.RetryAfter+time.Second-1)/time.Second)))
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	b, _ := json.Marshal(resp)
	_, _ = w.Write(append(b, '\n'))
}

func (c *Collector) fail(w http.ResponseWriter, code int, format string, args ...any) {
	c.reply(w, code, Response{Error: fmt.Sprintf(format, args...)})
}

func (c *Collector) handleEvents(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	defer func() { c.cm.latency.Observe(time.Since(start).Seconds()) }()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		c.fail(w, http.StatusMethodNotAllowed, "use POST")
		return
	}
	if !c.keys.allows(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="sluice"`)
		c.fail(w, http.StatusUnauthorized, "a valid write key is required (Authorization: Bearer KEY or X-Write-Key)")
		return
	}
	if err := c.Ready(); err != nil {
		c.fail(w, http.StatusServiceUnavailable, "not ready: %v", err)
		return
	}
	ndjson, err := bodyKind(r.Header.Get("Content-Type"))
	if err != nil {
		c.fail(w, http.StatusUnsupportedMediaType, "%v", err)
		return
	}
	gzipped, err := isGzip(r.Header.Get("Content-Encoding"))
	if err != nil {
		c.fail(w, http.StatusUnsupportedMediaType, "%v", err)
		return
	}
	if r.ContentLength > c.cfg.MaxBody {
		c.fail(w, http.StatusRequestEntityTooLarge, "body of %d bytes is over the %d-byte limit", r.ContentLength, c.cfg.MaxBody)
		return
	}
	// Hold the body's worth of budget before reading it: memory is bounded
	// by configuration, whatever the clients do.
	hold := c.cfg.MaxBody
	if r.ContentLength >= 0 && !gzipped {
		hold = r.ContentLength
	}
	if !c.budget.tryAcquire(hold) {
		c.fail(w, http.StatusServiceUnavailable, "too many events in flight; retry later")
		return
	}
	defer c.budget.release(hold)

	body, code, err := c.readBody(w, r, gzipped)
	if err != nil {
		c.fail(w, code, "%v", err)
		return
	}
	events, err := splitEvents(body, ndjson)
	if err != nil {
		c.fail(w, http.StatusBadRequest, "%v", err)
		return
	}
	if len(events) == 0 {
		c.fail(w, http.StatusBadRequest, "no events in the body")
		return
	}
	for i, e := range events {
		if len(e) > c.cfg.MaxEventBytes {
			c.fail(w, http.StatusRequestEntityTooLarge, "event %d: %d bytes is over the %d-byte event limit", i, len(e), c.cfg.MaxEventBytes)
			return
		}
	}
	c.ingest(w, r, events)
}

// batch waits for the broker's answers for one request: its accepted
// events and the dead letters of its rejected ones.
type batch struct {
	wg       sync.WaitGroup
	failed   atomic.Int64 // accepted events the broker did not acknowledge
	dlFailed atomic.Int64 // dead letters the broker did not acknowledge
	mu       sync.Mutex
	lastErr  error
}

func (b *batch) done(_ *kgo.Record, err error) { b.answer(&b.failed, err) }

func (b *batch) answer(failed *atomic.Int64, err error) {
	if err != nil {
		failed.Add(1)
		b.mu.Lock()
		b.lastErr = err
		b.mu.Unlock()
	}
	b.wg.Done()
}

func (c *Collector) ingest(w http.ResponseWriter, r *http.Request, events [][]byte) {
	// Every record of the request, dead letters included, is produced with
	// this context: none of them may keep the answer past the ack timeout,
	// not even while waiting for room in a full send buffer.
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.AckTimeout)
	defer cancel()
	b := &batch{}
	valid, rejected := c.produceEvents(ctx, b, r, events)
	// A 2xx (or the 400 of an all-invalid request) only when every record
	// is durable: otherwise 503, and the client retries (at-least-once: a
	// retry may duplicate events the broker did keep).
	if err := c.await(ctx, b, valid, len(rejected)); err != nil {
		c.fail(w, http.StatusServiceUnavailable, "%v; retry", err)
		return
	}
	switch {
	case valid == 0:
		c.reply(w, http.StatusBadRequest, Response{Rejected: rejected, Error: "no valid events"})
	case len(rejected) > 0:
		c.reply(w, http.StatusMultiStatus, Response{Accepted: valid, Rejected: rejected})
	default:
		c.reply(w, http.StatusAccepted, Response{Accepted: valid})
	}
}

// produceEvents validates each event and produces it, or its dead letter,
// into b. It returns the number of valid events and the rejected ones.
func (c *Collector) produceEvents(ctx context.Context, b *batch, r *http.Request, events [][]byte) (int, []Rejected) {
	suffix := c.server.suffix(time.Now(), clientIP(r, c.cfg.TrustedProxies))
	rec := c.recs.Get()
	defer c.recs.Put(rec)
	zero := reflect.ValueOf(rec).Elem()
	var (
		valid    int
		rejected []Rejected
		buf      []byte
		keyBuf   []byte
	)
	for i, ev := range events {
		buf = withSuffix(buf[:0], ev, suffix)
		zero.SetZero()
		var value []byte
		err := c.codec.DecodeInto(buf, rec)
		if err == nil {
			if value, err = c.codec.Encode(rec); err != nil {
				err = fmt.Errorf("encoding: %w", err)
			}
		}
		if err != nil {
			rejected = append(rejected, Rejected{Index: i, Reason: err.Error()})
			c.deadLetter(ctx, b, i, ev, err)
			continue
		}
		valid++
		kr := &kgo.Record{Topic: c.cfg.Topic, Value: value}
		var ok bool
		if keyBuf, ok = c.keyOf(rec, keyBuf[:0]); ok {
			kr.Key = bytes.Clone(keyBuf)
		}
		b.wg.Add(1)
		c.cl.Produce(ctx, kr, b.done)
	}
	return valid, rejected
}

// deadLetter counts event i as invalid and produces it, with the reason,
// to the dead-letter topic.
func (c *Collector) deadLetter(ctx context.Context, b *batch, i int, ev []byte, reason error) {
	c.cfg.Stats.Invalid.Add(1)
	c.m.invalid.Inc()
	dl := &kgo.Record{Topic: c.cfg.DeadLetterTopic, Value: ev, Headers: []kgo.RecordHeader{
		{Key: HeaderError, Value: []byte(reason.Error())},
		{Key: HeaderOffset, Value: strconv.AppendInt(nil, int64(i), 10)},
		{Key: HeaderSource, Value: []byte("collect")},
		{Key: HeaderTopic, Value: []byte(c.cfg.Topic)},
	}}
	b.wg.Add(1)
	c.cl.Produce(ctx, dl, func(_ *kgo.Record, err error) {
		if err == nil {
			c.m.deadLettered.Inc()
		} else {
			c.cfg.Log.Warn("dead-letter record not delivered", "component", "collect", "err", err)
		}
		b.answer(&b.dlFailed, err)
	})
}

// await waits for the broker's answers to a request's records, at most
// until ctx ends, and counts the accepted events as produced or failed. It
// returns an error when any record, accepted event or dead letter, is not
// acknowledged.
func (c *Collector) await(ctx context.Context, b *batch, valid, rejected int) error {
	acked := make(chan struct{})
	go func() { b.wg.Wait(); close(acked) }()
	select {
	case <-acked:
	case <-ctx.Done():
		select {
		case <-acked: // both ready: the answers are in
		default:
			c.count(0, int64(valid))
			return fmt.Errorf("the broker did not acknowledge within %s", c.cfg.AckTimeout)
		}
	}
	f, d := b.failed.Load(), b.dlFailed.Load()
	c.count(int64(valid)-f, f)
	if f == 0 && d == 0 {
		return nil
	}
	b.mu.Lock()
	err := b.lastErr
	b.mu.Unlock()
	if f > 0 {
		return fmt.Errorf("%d of %d events not acknowledged by the broker: %w", f, valid, err)
	}
	return fmt.Errorf("%d of %d dead-letter records not acknowledged by the broker: %w", d, rejected, err)
}

// count adds a request's accepted events to the stats and metrics.
func (c *Collector) count(acked, failed int64) {
	c.cfg.Stats.Produced.Add(acked)
	c.cfg.Stats.Failed.Add(failed)
	c.m.acked.Add(float64(acked))
	c.m.failed.Add(float64(failed))
}
