package producer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ErrUndelivered means some records were not acknowledged by the broker
// after retries: the command exits non-zero.
var ErrUndelivered = errors.New("records could not be delivered")

const slabSize = 1 << 20

// sender hands records to an async franz-go producer and counts the
// broker's answers. Keys and values are carved out of 1 MiB slabs and
// records out of chunks, so producing allocates per slab, not per record;
// a slab is garbage once every record in it is acknowledged.
type sender struct {
	cl    *kgo.Client
	stats *Stats
	m     *metrics
	sent  atomic.Int64
	// answers has one count per record produced, done when the client has
	// answered for it (acked or failed).
	answers sync.WaitGroup

	slab []byte
	recs []kgo.Record
	cb   func(*kgo.Record, error)

	mu       sync.Mutex
	firstErr error

	// ctx is what Produce waits on for buffer space: it ends only when
	// abandon is called, so a stopping run still flushes what it generated.
	ctx     context.Context
	abandon context.CancelFunc
}

func newSender(cl *kgo.Client, stats *Stats, m *metrics) *sender {
	s := &sender{cl: cl, stats: stats, m: m}
	s.cb = s.done
	s.ctx, s.abandon = context.WithCancel(context.Background())
	return s
}

func (s *sender) done(_ *kgo.Record, err error) {
	defer s.answers.Done()
	if err == nil {
		s.stats.Produced.Add(1)
		s.m.acked.Inc()
		return
	}
	s.stats.Failed.Add(1)
	s.m.failed.Inc()
	s.mu.Lock()
	if s.firstErr == nil {
		s.firstErr = err
	}
	s.mu.Unlock()
}

// room makes sure the current slab has n free bytes.
func (s *sender) room(n int) {
	if cap(s.slab)-len(s.slab) < n {
		s.slab = make([]byte, 0, max(slabSize, n))
	}
}

// copyBytes copies b into the slab.
func (s *sender) copyBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	s.room(len(b))
	start := len(s.slab)
	s.slab = append(s.slab, b...)
	return s.slab[start:len(s.slab):len(s.slab)]
}

func (s *sender) record() *kgo.Record {
	if len(s.recs) == 0 {
		s.recs = make([]kgo.Record, 512)
	}
	r := &s.recs[0]
	s.recs = s.recs[1:]
	return r
}

// produce sends r. The context is not the caller's: once generated, a
// record is flushed even when the run is being stopped; abandonAfter
// bounds how long that takes.
func (s *sender) produce(r *kgo.Record) {
	s.sent.Add(1)
	s.answers.Add(1)
	s.cl.Produce(s.ctx, r, s.cb)
}

// abandonAfter fails whatever is still waiting d after stop is done (a
// broker that went away mid-request never answers, and idempotent records
// in flight are not timed out by the client).
func (s *sender) abandonAfter(stop <-chan struct{}, d time.Duration) {
	go func() {
		select {
		case <-stop:
		case <-s.ctx.Done():
			return
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			s.abandon()
		case <-s.ctx.Done():
		}
	}()
}

// finish waits for the broker's acks (at most timeout), closes the client,
// which fails the records still waiting, and returns ErrUndelivered when
// any record failed. Every record is counted once, by its callback.
func (s *sender) finish(timeout time.Duration, topic string) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	flushErr := s.cl.Flush(ctx)
	s.abandon()
	// Close fails whatever is still buffered or in flight, but the client
	// runs those records' callbacks on its own goroutine, possibly after
	// Close returns. Wait for them rather than counting the rest as failed
	// here, which counted them twice once their callbacks ran. The wait
	// ends: the client calls every record's callback exactly once, and a
	// closed client fails every record it still holds.
	s.cl.Close()
	s.answers.Wait()
	if f := s.stats.Failed.Load(); f > 0 {
		s.mu.Lock()
		cause := s.firstErr
		s.mu.Unlock()
		if cause == nil {
			cause = flushErr
		}
		return fmt.Errorf("%w: %d of %d records to %s were not acknowledged: %v", ErrUndelivered, f, s.sent.Load(), topic, cause)
	}
	return nil
}
