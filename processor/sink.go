package processor

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/processor/rule"
)

// txnSink produces what rules emit into the open transaction and counts it
// until the transaction commits.
type txnSink struct {
	w        *worker
	cur      *kgo.Record   // the input record being processed (nil: window closes)
	chunk    []*kgo.Record // the records of the events handleChunk passes the rules (At)
	part     int32         // the input partition
	topics   map[string]*outTopic
	consumed map[string]int64
	dead     map[string]int64
	closing  map[*rule.Rule]*closeErrors // rules that failed while closing windows
	promise  func(*kgo.Record, error)
	arena    arena        // this transaction's produced records and bytes
	b        batches      // this transaction's open batches of internal records
	now      time.Time    // the records' timestamp: when the transaction began
	inflight atomic.Int64 // records produced whose promise has not run

	mu      sync.Mutex
	prodErr error
}

// outTopic is what producing a record to a topic takes, found with one
// map lookup per record: records are produced by the million.
type outTopic struct {
	n      int32 // partitions, at least 1
	parter kgo.TopicPartitioner
	txn    int64 // records produced in the open transaction
}

func (s *txnSink) reset() {
	if s.topics == nil {
		s.topics = map[string]*outTopic{}
	}
	for _, o := range s.topics {
		o.txn = 0
	}
	s.consumed, s.dead = map[string]int64{}, map[string]int64{}
	clear(s.closing)
	s.mu.Lock()
	s.prodErr = nil
	s.mu.Unlock()
}

// begin readies the sink for a transaction: the previous one's records
// and bytes are reused once the client holds none of them.
func (s *txnSink) begin() {
	s.arena.reset(s.inflight.Load() == 0)
	clear(s.b.open) // an aborted transaction's
	s.now = time.Now()
}

// send hands a record to the client; every produce goes through here, so
// inflight counts the records the client may still hold.
// Records carry the transaction's start time: one clock read per
// transaction instead of one per record (the client's default).
func (s *txnSink) send(r *kgo.Record) {
	if r.Timestamp.IsZero() {
		r.Timestamp = s.now
	}
	s.inflight.Add(1)
	s.w.sess.Produce(context.Background(), r, s.promise)
}

func (s *txnSink) onProduced(_ *kgo.Record, err error) {
	defer s.inflight.Add(-1)
	if err != nil {
		s.mu.Lock()
		if s.prodErr == nil {
			s.prodErr = err
		}
		s.mu.Unlock()
	}
}

func (s *txnSink) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.prodErr
}

func (s *txnSink) failed() bool { return s.err() != nil }

// own returns b, copied (into the arena) unless it is the input record's
// own bytes (which stay valid until the transaction ends; rule buffers do
// not).
func (s *txnSink) own(b []byte) []byte {
	if b == nil {
		return nil
	}
	if c := s.cur; c != nil && len(b) > 0 {
		if (len(c.Value) == len(b) && &c.Value[0] == &b[0]) || (len(c.Key) == len(b) && &c.Key[0] == &b[0]) {
			return b
		}
	}
	return s.arena.copy(b)
}

func (s *txnSink) produce(r *kgo.Record) {
	o := s.topic(r.Topic)
	if len(r.Key) > 0 {
		r.Partition = o.keyed(r)
	} else {
		r.Partition = s.part % o.n // deterministic, so a replay lands where the first run did
	}
	o.txn++
	s.send(r)
}

// keyPartitioner places keyed records as kgo and Kafka's Java client do
// (murmur2 of the key), so keyed outputs match other clients.
var keyPartitioner = kgo.StickyKeyPartitioner(nil)

// topic is name's outTopic, made on the first record to it.
func (s *txnSink) topic(name string) *outTopic {
	o := s.topics[name]
	if o == nil {
		o = &outTopic{n: max(s.w.nparts[name], 1), parter: keyPartitioner.ForTopic(name)}
		s.topics[name] = o
	}
	return o
}

// partitionFor is the partition of r's topic its key places it in.
func (s *txnSink) partitionFor(r *kgo.Record) int32 { return s.topic(r.Topic).keyed(r) }

// keyed is the partition r's key places it in.
func (o *outTopic) keyed(r *kgo.Record) int32 { return int32(o.parter.Partition(r, int(o.n))) }

// partitions updates the partition count of topic (from the topic's
// metadata).
func (s *txnSink) partitions(topic string, n int32) {
	if o := s.topics[topic]; o != nil {
		o.n = max(n, 1)
	}
}

// produced takes the counts of the records produced in the transaction
// that committed, per topic.
func (s *txnSink) produced() map[string]int64 {
	m := map[string]int64{}
	for t, o := range s.topics {
		if o.txn > 0 {
			m[t], o.txn = o.txn, 0
		}
	}
	return m
}

// At makes the chunk's i-th record the one being processed.
func (s *txnSink) At(i int) { s.cur = s.chunk[i] }

func (s *txnSink) Output(r *rule.Rule, key, value []byte) {
	rec := s.arena.record()
	rec.Topic, rec.Key, rec.Value = r.Output, s.own(key), s.own(value)
	s.produce(rec)
}

func (s *txnSink) Late(r *rule.Rule, reason string) {
	c := s.cur
	s.produce(&kgo.Record{Topic: s.w.cfg.LateTopic, Key: c.Key, Value: c.Value, Headers: append(sourceHeaders(c),
		kgo.RecordHeader{Key: "rule", Value: []byte(r.Name)}, kgo.RecordHeader{Key: "reason", Value: []byte(reason)})})
}

func (s *txnSink) Error(r *rule.Rule, err error) {
	if s.cur == nil {
		s.closeError(r, err)
		return
	}
	s.deadLetter(s.cur, err.Error(), r.Name, "rule_error")
}

// closeErrors are a rule's failures while closing windows in one
// transaction (a `having` that fails on a row, say on a null): the window
// results it could not emit.
type closeErrors struct {
	n     int64
	first error
}

// closeError counts a failure to emit a window result. There is no input
// record to dead-letter; the failures are logged once per rule and
// transaction (logCloseErrors), as one bad `having` fails every row.
func (s *txnSink) closeError(r *rule.Rule, err error) {
	if s.closing == nil {
		s.closing = map[*rule.Rule]*closeErrors{}
	}
	ce := s.closing[r]
	if ce == nil {
		ce = &closeErrors{first: err}
		s.closing[r] = ce
	}
	ce.n++
}

// logCloseErrors logs the transaction's window-close failures, one line
// per rule.
func (s *txnSink) logCloseErrors() {
	for r, ce := range s.closing {
		s.w.log.Warn("rule failed while closing windows; those results are not emitted", "rule", r.Name, "results", ce.n, "first_err", ce.first)
	}
}

// deadLetter sends an input record that could not be processed to the
// dead-letter topic, with why and where it came from.
func (s *txnSink) deadLetter(c *kgo.Record, msg, ruleName, reason string) {
	h := append(sourceHeaders(c), kgo.RecordHeader{Key: "error", Value: []byte(msg)})
	if ruleName != "" {
		h = append(h, kgo.RecordHeader{Key: "rule", Value: []byte(ruleName)})
	}
	if s.dead == nil {
		s.reset()
	}
	s.dead[reason]++
	s.produce(&kgo.Record{Topic: s.w.cfg.DeadLetterTopic, Key: c.Key, Value: c.Value, Headers: h})
}

func sourceHeaders(c *kgo.Record) []kgo.RecordHeader {
	return []kgo.RecordHeader{
		{Key: "source_topic", Value: []byte(c.Topic)},
		{Key: "source_partition", Value: strconv.AppendInt(nil, int64(c.Partition), 10)},
		{Key: "source_offset", Value: strconv.AppendInt(nil, c.Offset, 10)},
	}
}
