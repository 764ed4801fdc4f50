package processor

import (
	"math/bits"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"
)

// recordPool lends the client the slices it decodes fetched records into
// (kgo.PoolRecords): they were the largest allocation of a busy worker. The
// worker recycles a poll's records once its transaction has ended, when
// nothing refers to them any more; records it does not recycle (a crash, a
// rebalance) are simply left to the garbage collector.
type recordPool struct {
	classes [32]sync.Pool // class c holds slices of capacity >= 1<<c
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

// recycle gives a poll's records back to the pool.
func recycle(fs kgo.Fetches) {
	fs.EachRecord(func(r *kgo.Record) { r.Recycle() })
}
