package processor

import (
	"bytes"
	"math/bits"
	"sync"

	"github.com/klauspost/compress/s2"
	"github.com/twmb/franz-go/pkg/kgo"
)

// recordPool lends the client the slices it decodes fetched records into
// (kgo.PoolRecords) and the buffers it decompresses batches into
// (kgo.PoolDecompressBytes): they were the largest allocations of a busy
// worker. The worker recycles the records it polled once their
// transaction has ended, when nothing refers to them any more: a record's
// key and value point into the decompressed buffer, and so do the decoded
// events' strings (schema.Codec.DecodeIntoRef), so the rules copy what
// they keep (window state, partials). Records it does not recycle (a
// crash, a rebalance) are simply left to the garbage collector.
type recordPool struct {
	classes [32]sync.Pool // class c holds slices of capacity >= 1<<c
	bufs    [32]sync.Pool
}

var xerialPrefix = []byte{130, 83, 78, 65, 80, 80, 89, 0} // Java clients' framed snappy

func (p *recordPool) GetDecompressBytes(compressed []byte, codec kgo.CompressionCodecType) []byte {
	n := 5 * len(compressed) // a guess; a short buffer is grown by the codec and the grown one comes back
	if codec == kgo.CodecSnappy && !bytes.HasPrefix(compressed, xerialPrefix) {
		if l, err := s2.DecodedLen(compressed); err == nil {
			n = l
		}
	}
	c := bits.Len(uint(max(n, 1) - 1))
	if c >= len(p.bufs) {
		return nil
	}
	if b, ok := p.bufs[c].Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return make([]byte, 0, 1<<c)
}

func (p *recordPool) PutDecompressBytes(b []byte) {
	if cap(b) == 0 {
		return
	}
	c := bits.Len(uint(cap(b))) - 1
	if c >= len(p.bufs) {
		return
	}
	b = b[:0]
	p.bufs[c].Put(&b)
}

func (p *recordPool) GetRecords(n int) []kgo.Record {
	c := bits.Len(uint(max(n, 1) - 1)) // 1<<c >= n
	if c >= len(p.classes) {
		return make([]kgo.Record, n)
	}
	if s, ok := p.classes[c].Get().(*[]kgo.Record); ok {
		return *s
	}
	return make([]kgo.Record, 1<<c)
}

func (p *recordPool) PutRecords(s []kgo.Record) {
	if cap(s) == 0 {
		return
	}
	c := bits.Len(uint(cap(s))) - 1 // 1<<c <= cap
	if c >= len(p.classes) {
		return
	}
	s = s[:cap(s)]
	p.classes[c].Put(&s)
}

// recycle gives a transaction's polled records back to the pool.
func recycle(fs kgo.Fetches) {
	fs.EachRecord(func(r *kgo.Record) { r.Recycle() })
}
