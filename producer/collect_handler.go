package producer

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	json "github.com/goccy/go-json"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/schema"
)

// serverFields are the columns the collector fills itself: the insertion
// time (columns with gen kind insertion_time) and the client address
// (gen kind user_ip). They overwrite what the client sent.
type serverFields struct {
	insertion []*schema.Column
	clientIP  []string
}

func findServerFields(s *schema.Schema) serverFields {
	var f serverFields
	for i := range s.Columns {
		col := &s.Columns[i]
		if col.Gen == nil {
			continue
		}
		switch {
		case col.Gen.Kind == KindInsertionTime && col.Type == schema.Timestamp:
			f.insertion = append(f.insertion, col)
		case col.Gen.Kind == KindUserIP && col.Type == schema.String:
			f.clientIP = append(f.clientIP, col.Name)
		}
	}
	return f
}

// suffix is the JSON members appended to each event ("...,"k":"v"}"); JSON
// decoders keep the last of duplicate names, and the record is re-encoded
// before it is produced, so the value has each name once.
func (f serverFields) suffix(now time.Time, ip string) []byte {
	if len(f.insertion) == 0 && len(f.clientIP) == 0 {
		return nil
	}
	var b []byte
	for _, col := range f.insertion {
		b = append(b, ',')
		b, _ = appendJSONString(b, col.Name)
		b = append(b, ':')
		b, _ = appendJSONString(b, col.FormatTime(now))
	}
	for _, name := range f.clientIP {
		b = append(b, ',')
		b, _ = appendJSONString(b, name)
		b = append(b, ':')
		b, _ = appendJSONString(b, ip)
	}
	return b
}

func appendJSONString(dst []byte, s string) ([]byte, error) {
	q, err := json.Marshal(s)
	return append(dst, q...), err
}

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

// bodyKind: NDJSON (true) or a JSON object/array (false).
func bodyKind(contentType string) (bool, error) {
	if contentType == "" {
		return false, nil
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false, fmt.Errorf("Content-Type %q: %w", contentType, err)
	}
	switch mt {
	case "application/json", "text/plain":
		return false, nil
	case "application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines", "application/jsonlines":
		return true, nil
	}
	return false, fmt.Errorf("Content-Type %q: want application/json (an object or an array) or application/x-ndjson", mt)
}

func (c *Collector) readBody(w http.ResponseWriter, r *http.Request, gz bool) ([]byte, int, error) {
	var in io.Reader = http.MaxBytesReader(w, r.Body, c.cfg.MaxBody)
	if gz {
		zr, err := gzip.NewReader(in)
		if err != nil {
			return nil, readErrCode(err), fmt.Errorf("reading gzip body: %w", err)
		}
		in = zr
	}
	// The limit applies after decompression too (a small gzip bomb).
	body, err := io.ReadAll(io.LimitReader(in, c.cfg.MaxBody+1))
	if err != nil {
		return nil, readErrCode(err), fmt.Errorf("reading body: %w", err)
	}
	if int64(len(body)) > c.cfg.MaxBody {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("body is over the %d-byte limit after decompression", c.cfg.MaxBody)
	}
	return body, 0, nil
}

func readErrCode(err error) int {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge
	}
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		return http.StatusRequestTimeout
	}
	return http.StatusBadRequest
}

// splitEvents returns the events of a body: NDJSON lines, the elements of
// a JSON array, or one JSON object.
func splitEvents(body []byte, ndjson bool) ([][]byte, error) {
	if ndjson {
		var out [][]byte
		for line := range bytes.SplitSeq(body, []byte("\n")) {
			if line = bytes.TrimSpace(line); len(line) > 0 {
				out = append(out, line)
			}
		}
		return out, nil
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, nil
	}
	switch trimmed[0] {
	case '{':
		return [][]byte{trimmed}, nil
	case '[':
		var raw []json.RawMessage
		if err := json.Unmarshal(trimmed, &raw); err != nil {
			return nil, fmt.Errorf("body is not a valid JSON array: %v", err)
		}
		out := make([][]byte, len(raw))
		for i := range raw {
			out[i] = raw[i]
		}
		return out, nil
	}
	return nil, fmt.Errorf("body is neither a JSON object nor an array (use Content-Type: application/x-ndjson for NDJSON)")
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

// withSuffix appends ev to dst with suffix's members added before its
// closing brace.
func withSuffix(dst, ev, suffix []byte) []byte {
	if len(suffix) == 0 || len(ev) < 2 || ev[len(ev)-1] != '}' {
		return append(dst, ev...)
	}
	body := ev[:len(ev)-1]
	dst = append(dst, body...)
	if len(bytes.TrimSpace(body[1:])) == 0 {
		suffix = suffix[1:] // empty object: no leading comma
	}
	dst = append(dst, suffix...)
	return append(dst, '}')
}
