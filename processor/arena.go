package processor

import "github.com/twmb/franz-go/pkg/kgo"

// arena hands out the records and byte slices one transaction produces, in
// chunks reused by the next transaction: a 20-rule transaction produces tens
// of thousands of records (outputs, changelog entries, partials), and
// allocating each, with its key and value, was a good part of the garbage
// collector's work. kgo holds a record until its promise runs, so the
// chunks are reused only when every promise of the previous transaction has
// come back (the txnSink counts them); otherwise they are left to the GC.
type arena struct {
	recs   [][]kgo.Record
	ri, rj int // next record: recs[ri][rj]
	bufs   [][]byte
	bi     int // current byte chunk
}

const (
	arenaRecs  = 1024
	arenaBytes = 64 << 10
)

// record returns a zeroed record valid until the next reset.
func (a *arena) record() *kgo.Record {
	for {
		if a.ri == len(a.recs) {
			a.recs = append(a.recs, make([]kgo.Record, arenaRecs))
		}
		if c := a.recs[a.ri]; a.rj < len(c) {
			a.rj++
			return &c[a.rj-1]
		}
		a.ri, a.rj = a.ri+1, 0
	}
}

// alloc returns an empty slice with capacity n, valid until the next reset.
func (a *arena) alloc(n int) []byte {
	if n > arenaBytes/4 {
		return make([]byte, 0, n)
	}
	for {
		if a.bi == len(a.bufs) {
			a.bufs = append(a.bufs, make([]byte, 0, arenaBytes))
		}
		if c := a.bufs[a.bi]; cap(c)-len(c) >= n {
			a.bufs[a.bi] = c[:len(c)+n]
			return c[len(c) : len(c) : len(c)+n]
		}
		a.bi++
	}
}

// copy returns a copy of b in the arena; nil stays nil (a tombstone).
func (a *arena) copy(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(a.alloc(len(b)), b...)
}

// join returns prefix+b in the arena.
func (a *arena) join(prefix string, b []byte) []byte {
	return append(append(a.alloc(len(prefix)+len(b)), prefix...), b...)
}

// reset makes the arena's memory available again when reuse is true (no
// record of it is still held by the client), or drops it.
func (a *arena) reset(reuse bool) {
	if !reuse {
		*a = arena{}
		return
	}
	for i := 0; i <= a.ri && i < len(a.recs); i++ {
		n := len(a.recs[i])
		if i == a.ri {
			n = a.rj
		}
		clear(a.recs[i][:n]) // zeroed for the next use, and no input kept alive
	}
	for i := range a.bufs {
		a.bufs[i] = a.bufs[i][:0]
	}
	a.ri, a.rj, a.bi = 0, 0, 0
}
