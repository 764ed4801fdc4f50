package connector

import (
	"sync"
	"sync/atomic"
)

// Stats counts what the sink has done; safe to read while Run runs. The
// zero value is ready to use.
type Stats struct {
	consumed sync.Map // topic -> *atomic.Int64
	rows     atomic.Int64
	files    atomic.Int64
	errors   atomic.Int64
}

// Consumed returns the records received from topic (including ones that
// were later rewritten after a rebalance or restart).
func (s *Stats) Consumed(topic string) int64 {
	if v, ok := s.consumed.Load(topic); ok {
		return v.(*atomic.Int64).Load()
	}
	return 0
}

// Rows returns the rows in durable Parquet files whose offsets were committed
// or were being committed.
func (s *Stats) Rows() int64 { return s.rows.Load() }

// Files returns the Parquet files made durable.
func (s *Stats) Files() int64 { return s.files.Load() }

// Errors returns the records that could not be converted and went to the
// error prefix.
func (s *Stats) Errors() int64 { return s.errors.Load() }

func (s *Stats) addConsumed(topic string, n int64) {
	v, ok := s.consumed.Load(topic)
	if !ok {
		v, _ = s.consumed.LoadOrStore(topic, new(atomic.Int64))
	}
	v.(*atomic.Int64).Add(n)
}
