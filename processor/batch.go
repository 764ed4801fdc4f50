package processor

import (
	"encoding/binary"
	"errors"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/processor/rule"
)

// Internal records travel in batches: what one source partition sends one
// partition of a partials or repartition topic within a transaction is a
// single record, flushed before that source partition's markers (so a
// marker still follows every entry it vouches for). Per record, the client,
// the broker and the fetch path cost far more than the bytes: the 20-rule
// benchmark sent 0.71 partials per input event, each read back once more.

const (
	partialBatchRecord = 'P' // hash, uint32 source partition, entries: partials
	forwardBatchRecord = 'E' // hash, entries: forwarded events
)

// maxBatchBytes bounds a batch record well under Kafka's default
// message.max.bytes (1 MB). A variable for the tests.
var maxBatchBytes = 256 << 10

type batchKey struct {
	r        *rule.Rule
	kind     byte
	src, dst int32
}

type openBatch struct {
	topic string
	v     []byte
}

// batches holds a transaction's open batch records.
type batches struct {
	open    map[batchKey]*openBatch
	sizes   map[batchKey]int // how large each batch grew when last sent
	scratch kgo.Record       // for the partitioner: the entry's key
}

// sizeFor is the capacity a new batch starts with: what the same batch
// reached last time, and a little more, so it is not regrown (and copied)
// a few times in every transaction.
func (bs *batches) sizeFor(k batchKey) int {
	return min(max(bs.sizes[k]+bs.sizes[k]/8, 1<<10), maxBatchBytes)
}

// batch appends entry to the open batch of rule r's internal topic for the
// partition key places it in, from the current source partition.
func (s *txnSink) batch(r *rule.Rule, kind byte, topic string, key, entry []byte) {
	if key == nil {
		key = []byte{} // a rule without group_by: nil would spread the entries over the partitions
	}
	s.b.scratch.Topic, s.b.scratch.Key = topic, key
	dst := s.partitionFor(&s.b.scratch)
	s.b.scratch.Key = nil
	k := batchKey{r: r, kind: kind, src: s.part, dst: dst}
	b := s.b.open[k]
	if b != nil && len(b.v)+binary.MaxVarintLen32+len(entry) > maxBatchBytes {
		s.sendBatch(k, b)
		b = nil
	}
	if b == nil {
		if s.b.open == nil {
			s.b.open = map[batchKey]*openBatch{}
		}
		v := append(s.arena.alloc(s.b.sizeFor(k)), kind)
		v = append(v, r.Hash...)
		if kind == partialBatchRecord {
			v = binary.BigEndian.AppendUint32(v, uint32(s.part))
		}
		b = &openBatch{topic: topic, v: v}
		s.b.open[k] = b
	}
	b.v = binary.AppendUvarint(b.v, uint64(len(entry)))
	b.v = append(b.v, entry...)
}

// flushBatches produces the open batches of source partition src (all when
// src < 0).
func (s *txnSink) flushBatches(src int32) {
	for k, b := range s.b.open {
		if src < 0 || k.src == src {
			s.sendBatch(k, b)
		}
	}
}

// sendBatch produces batch b and closes it.
func (s *txnSink) sendBatch(k batchKey, b *openBatch) {
	rec := s.arena.record()
	rec.Topic, rec.Value = b.topic, b.v
	s.produceInternal(rec, k.dst)
	delete(s.b.open, k)
	if s.b.sizes == nil {
		s.b.sizes = map[batchKey]int{}
	}
	s.b.sizes[k] = len(b.v)
}

var errBadBatch = errors.New("malformed batch")

// eachEntry calls f with each entry of a batch record's body, and returns
// what f and the batch's framing reported.
func eachEntry(body []byte, f func([]byte) error) error {
	var errs []error
	for len(body) > 0 {
		n, w := binary.Uvarint(body)
		if w <= 0 || n > uint64(len(body)-w) {
			return errors.Join(append(errs, errBadBatch)...)
		}
		if err := f(body[w : w+int(n)]); err != nil {
			errs = append(errs, err)
		}
		body = body[w+int(n):]
	}
	return errors.Join(errs...)
}
