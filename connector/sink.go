package connector

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/internal/telemetry"
)

// maxPoll bounds the records handled between two checks of the time
// trigger and the memory budget.
const maxPoll = 5000

// errCrashed is returned when a test hook simulates a crash.
var errCrashed = errors.New("simulated crash")

// testHooks let tests crash the sink at chosen points.
type testHooks struct {
	afterPut func(key string) bool // return true to crash right after this object was written
	crash    <-chan struct{}       // closed: crash at the next poll
	polled   func(openFiles int, bytes int64)
	partSize int // S3 multipart part size (S3's minimum is 5 MiB)
}

type sink struct {
	cfg    *Config
	ctx    context.Context
	st     *store
	m      *metrics
	cl     *kgo.Client
	tables map[string]*tableState

	mu          sync.Mutex // guards everything below; held while handling a poll and in rebalance callbacks
	parts       map[topicPartition]*partState
	bytes       int64
	openFiles   int
	uncommitted int64
	crashed     bool
}

// Run consumes the tables' topics and writes them to cfg.To until ctx ends,
// then flushes every open file, commits and returns nil.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	// Writes outlive ctx by ShutdownWait: a flush under way when shutdown
	// begins completes, and so does the final flush of everything open.
	wctx, wcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer wcancel()
	stopWrites := context.AfterFunc(ctx, func() { time.AfterFunc(cfg.ShutdownWait, wcancel) })
	defer stopWrites()
	s := &sink{cfg: &cfg, ctx: wctx, tables: map[string]*tableState{}, parts: map[topicPartition]*partState{}}
	var topics []string
	for _, t := range cfg.Tables {
		ts, err := newTableState(t, &cfg)
		if err != nil {
			return err
		}
		s.tables[t.Topic] = ts
		topics = append(topics, t.Topic)
	}
	m, err := newMetrics(cfg.Reg)
	if err != nil {
		return fmt.Errorf("registering metrics: %w", err)
	}
	defer m.unregister(cfg.Reg)
	s.m = m
	if s.st, err = openStore(ctx, &cfg); err != nil {
		return err
	}
	defer s.st.close()
	s.st.onRetry = m.retries.Inc

	opts, err := cfg.Kafka.Opts()
	if err != nil {
		return err
	}
	opts = append(opts,
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// Processor outputs are transactional: never write aborted records.
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// Offsets move only after the objects holding them are durable.
		kgo.DisableAutoCommit(),
		// Revokes happen between polls, never while a poll is half handled.
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsRevoked(s.onRevoked),
		kgo.OnPartitionsLost(s.onLost),
		// What the client buffers ahead of the sink counts against memory
		// too: keep it a fraction of the budget.
		kgo.FetchMaxBytes(int32(min(cfg.MemoryBudget/8, 50<<20))),
		kgo.FetchMaxPartitionBytes(int32(min(cfg.MemoryBudget/32, 1<<20))),
	)
	opts = append(opts, telemetry.KafkaMetrics("sluice_sink_kafka", cfg.Reg)...)
	if s.cl, err = kgo.NewClient(opts...); err != nil {
		return fmt.Errorf("creating Kafka client: %w", err)
	}
	cfg.Log.Info("sink started", "to", cfg.To, "topics", topics, "group", cfg.Group,
		"partition_by", cfg.PartitionBy, "compression", cfg.Compression)

	err = s.loop(ctx)
	if err != nil {
		// Failed writes: leave the open batches to the next owner, do not
		// retry them in the revoke callback of Close.
		s.mu.Lock()
		s.crashed = true
		s.mu.Unlock()
	}
	if errors.Is(err, errCrashed) {
		// Simulated crash: nothing flushed, nothing committed.
		s.cl.AllowRebalance()
		s.cl.Close()
		return err
	}
	if err == nil {
		// Shutdown: flush what is open (within ShutdownWait).
		s.mu.Lock()
		err = s.flushAll(wctx, "shutdown")
		if err != nil {
			s.crashed = true // do not try again in the revoke callback of Close
		}
		s.mu.Unlock()
	}
	// The loop may have returned between a poll and its AllowRebalance;
	// leaving the group waits for it.
	s.cl.AllowRebalance()
	s.cl.Close()
	if err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	cfg.Log.Info("sink stopped", "rows", cfg.Stats.Rows(), "files", cfg.Stats.Files(), "errors", cfg.Stats.Errors())
	return nil
}

// loop polls and routes records until ctx ends (nil) or a write fails.
func (s *sink) loop(ctx context.Context) error {
	for {
		pctx, cancel := context.WithTimeout(ctx, s.wait())
		fs := s.cl.PollRecords(pctx, maxPoll)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		if fs.IsClientClosed() {
			return errors.New("kafka client closed")
		}
		if s.cfg.hooks != nil && s.cfg.hooks.crash != nil {
			select {
			case <-s.cfg.hooks.crash:
				s.mu.Lock()
				s.crashed = true
				s.mu.Unlock()
				return errCrashed
			default:
			}
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				s.cfg.Log.Error("fetch error", "topic", t, "partition", p, "err", err)
			}
		})
		s.mu.Lock()
		err := s.handle(s.ctx, fs)
		if err == nil {
			err = s.flushDue(s.ctx)
		}
		if s.cfg.hooks != nil && s.cfg.hooks.polled != nil {
			s.cfg.hooks.polled(s.openFiles, s.bytes)
		}
		s.mu.Unlock()
		s.cl.AllowRebalance()
		if err != nil {
			return err
		}
	}
}

func (s *sink) handle(ctx context.Context, fs kgo.Fetches) error {
	var err error
	fs.EachPartition(func(p kgo.FetchTopicPartition) {
		if err != nil || len(p.Records) == 0 {
			return
		}
		s.cfg.Stats.addConsumed(p.Topic, int64(len(p.Records)))
		s.m.records.WithLabelValues(p.Topic).Add(float64(len(p.Records)))
		ps := s.partState(p.Topic, p.Partition)
		for i, r := range p.Records {
			if err = s.add(ps, r); err != nil {
				return
			}
			if err = s.checkSize(ctx, ps); err != nil {
				return
			}
			if i%1024 == 1023 {
				if err = s.enforceBudget(ctx); err != nil {
					return
				}
			}
		}
	})
	s.m.buffered.Set(float64(s.bytes))
	s.m.commitLag.Set(float64(s.uncommitted))
	return err
}

// wait is how long the next poll may block: until the oldest open batch is
// due, so the time trigger fires even when no record arrives.
func (s *sink) wait() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	w := time.Second
	now := s.cfg.Now()
	for _, ps := range s.parts {
		if ps.count > 0 {
			if d := ps.opened.Add(s.cfg.FlushInterval).Sub(now); d < w {
				w = d
			}
		}
	}
	return max(w, 5*time.Millisecond)
}
