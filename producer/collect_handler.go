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
	enc := r.Header.Get("Content-Encoding")
	if enc != "" && enc != "identity" && enc != "gzip" {
		c.fail(w, http.StatusUnsupportedMediaType, "Content-Encoding %q: want gzip or identity", enc)
		return
	}
	if r.ContentLength > c.cfg.MaxBody {
		c.fail(w, http.StatusRequestEntityTooLarge, "body of %d bytes is over the %d-byte limit", r.ContentLength, c.cfg.MaxBody)
		return
	}
	// Hold the body's worth of budget before reading it: memory is bounded
	// by configuration, whatever the clients do.
	hold := c.cfg.MaxBody
	if r.ContentLength >= 0 && enc != "gzip" {
		hold = r.ContentLength
	}
	if !c.budget.tryAcquire(hold) {
		c.fail(w, http.StatusServiceUnavailable, "too many events in flight; retry later")
		return
	}
	defer c.budget.release(hold)

	body, code, err := c.readBody(w, r, enc == "gzip")
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

// batch waits for the broker's answers for one request.
type batch struct {
	wg      sync.WaitGroup
	failed  atomic.Int64
	mu      sync.Mutex
	lastErr error
}

func (b *batch) done(_ *kgo.Record, err error) {
	if err != nil {
		b.failed.Add(1)
		b.mu.Lock()
		b.lastErr = err
		b.mu.Unlock()
	}
	b.wg.Done()
}

func (c *Collector) ingest(w http.ResponseWriter, r *http.Request, events [][]byte) {
	now := time.Now()
	suffix := c.server.suffix(now, clientIP(r, c.cfg.TrustedProxies))
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.AckTimeout)
	defer cancel()
	rec := c.recs.Get()
	defer c.recs.Put(rec)
	zero := reflect.ValueOf(rec).Elem()

	var (
		b        = &batch{}
		valid    int
		rejected []Rejected
		buf      []byte
		keyBuf   []byte
	)
	st, m := c.cfg.Stats, c.m
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
			st.Invalid.Add(1)
			m.invalid.Inc()
			rejected = append(rejected, Rejected{Index: i, Reason: err.Error()})
			dl := &kgo.Record{Topic: c.cfg.DeadLetterTopic, Value: ev, Headers: []kgo.RecordHeader{
				{Key: HeaderError, Value: []byte(err.Error())},
				{Key: HeaderOffset, Value: strconv.AppendInt(nil, int64(i), 10)},
				{Key: HeaderSource, Value: []byte("collect")},
				{Key: HeaderTopic, Value: []byte(c.cfg.Topic)},
			}}
			// Not the request's context: the answer does not wait for
			// these, and they must outlive it.
			c.cl.Produce(context.Background(), dl, func(_ *kgo.Record, err error) {
				if err == nil {
					m.deadLettered.Inc()
				} else {
					c.cfg.Log.Warn("dead-letter record not delivered", "component", "collect", "err", err)
				}
			})
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
	if valid == 0 {
		c.reply(w, http.StatusBadRequest, Response{Rejected: rejected, Error: "no valid events"})
		return
	}
	acked := make(chan struct{})
	go func() { b.wg.Wait(); close(acked) }()
	select {
	case <-acked:
	case <-ctx.Done():
	}
	// A 2xx only when every accepted event is durable: otherwise 503, and
	// the client retries (at-least-once: a retry may duplicate events the
	// broker did keep).
	select {
	case <-acked:
		if f := b.failed.Load(); f > 0 {
			st.Produced.Add(int64(valid) - f)
			st.Failed.Add(f)
			m.acked.Add(float64(int64(valid) - f))
			m.failed.Add(float64(f))
			b.mu.Lock()
			err := b.lastErr
			b.mu.Unlock()
			c.fail(w, http.StatusServiceUnavailable, "%d of %d events not acknowledged by the broker: %v; retry", f, valid, err)
			return
		}
	default:
		st.Failed.Add(int64(valid))
		m.failed.Add(float64(valid))
		c.fail(w, http.StatusServiceUnavailable, "the broker did not acknowledge within %s; retry", c.cfg.AckTimeout)
		return
	}
	st.Produced.Add(int64(valid))
	m.acked.Add(float64(valid))
	if len(rejected) > 0 {
		c.reply(w, http.StatusMultiStatus, Response{Accepted: valid, Rejected: rejected})
		return
	}
	c.reply(w, http.StatusAccepted, Response{Accepted: valid})
}
