package connector

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Why replays are exactly once.
//
// A partition's batch [start, next) is flushed as a unit: every file it
// opened is made durable, and only then is `next` committed. A file is named
// by its folder and the offset of its first record, and a record's folder is
// a function of the record alone (event time or its Kafka timestamp, the
// column value). After a crash the consumer resumes at the last commit,
// which is the start of the batch that was in flight, and the new batches
// may end elsewhere (time and memory triggers depend on the clock). Take a
// file F of the lost batch, in folder D, starting at offset n: n is the
// first record of D at or after the resume point, so whichever new batch
// holds n also has n as its first record in D and writes the name F again,
// replacing it with that batch's content. Files of the lost batch are thus
// all overwritten before the commit passes them, and what a committed batch
// wrote is what stays. That is why writes overwrite rather than use S3's
// If-None-Match: a conditional PUT would keep the stale file and duplicate
// the records the new batch put elsewhere.

// ErrFenced ends Run when a write outlived this member's ownership of its
// partition: nothing was committed, and the next owner rewrites the batch.
var ErrFenced = errors.New("partition no longer owned by this sink (fenced during a long store outage); restart to rejoin")

// flush makes every file of ps durable, then commits its end offset.
func (s *sink) flush(ctx context.Context, ps *partState, reason string) error {
	if ps == nil || ps.count == 0 {
		return nil
	}
	begin := time.Now()
	keys := make([]folderKey, 0, len(ps.files))
	for k := range ps.files {
		keys = append(keys, k)
	}
	// Parquet first, so errors and backups never land without their data.
	sort.Slice(keys, func(i, j int) bool { return keys[i].kind < keys[j].kind })
	// While a write keeps failing (an outage), rebalances wait for us and
	// the group may give up on this member. Before each retry, re-commit the
	// batch start, which is already committed: the broker refuses it once
	// the partition belongs to a newer generation, and the sink stops
	// instead of overwriting what the new owner writes.
	fence := func() error {
		err := s.commit(ctx, map[string]map[int32]kgo.EpochOffset{ps.tp.topic: {ps.tp.partition: {Epoch: -1, Offset: ps.start}}})
		if err != nil {
			return fmt.Errorf("%w: %v", ErrFenced, err)
		}
		return nil
	}
	var rows int64
	written := make([]string, 0, len(keys))
	for _, k := range keys {
		f := ps.files[k]
		if f.pq != nil {
			f.pq.SetKeyValueMetadata("sluice.last_offset", fmt.Sprint(ps.next-1))
		}
		if err := f.finish(); err != nil {
			return fmt.Errorf("flushing %s[%d]: %w", ps.tp.topic, ps.tp.partition, err)
		}
		ext, ct := codecs[s.cfg.Compression].ext, "application/vnd.apache.parquet"
		if f.pq == nil {
			ext, ct = "ndjson.gz", "application/x-ndjson"
		}
		key := objectKey(ps.table.Name, k, s.cfg.PartitionCol, ps.tp.topic, ps.tp.partition, f.first, ext)
		if err := s.st.put(ctx, key, f.buf, ct, fence); err != nil {
			return fmt.Errorf("flushing %s[%d]: %w", ps.tp.topic, ps.tp.partition, err)
		}
		written = append(written, key)
		if s.cfg.hooks != nil && s.cfg.hooks.afterPut != nil && s.cfg.hooks.afterPut(key) {
			s.crashed = true
			return errCrashed
		}
		s.m.files.WithLabelValues(ps.table.Name, k.kind.String()).Inc()
		s.m.bytes.WithLabelValues(ps.table.Name, k.kind.String()).Add(float64(f.buf.Len()))
		switch k.kind {
		case kindParquet:
			rows += f.rows
		case kindErrors:
			s.m.errors.WithLabelValues(ps.table.Name).Add(float64(f.rows))
			s.cfg.Stats.errors.Add(f.rows)
		}
	}
	if err := s.st.syncDirs(written); err != nil {
		return fmt.Errorf("flushing %s[%d]: %w", ps.tp.topic, ps.tp.partition, err)
	}
	if err := s.commit(ctx, map[string]map[int32]kgo.EpochOffset{
		ps.tp.topic: {ps.tp.partition: {Epoch: ps.epoch, Offset: ps.next}}}); err != nil {
		// The files are durable, and a replay from the last commit (this
		// batch's start) rewrites them under the same names. But only if
		// nothing past this batch is written first: a later batch's files
		// are named from offsets the replay does not start at, and would
		// stay beside the replay's files, duplicating their records. So
		// stop here and leave the batch to the replay.
		return fmt.Errorf("committing %s[%d] at %d after a durable flush (the next run replays the batch): %w",
			ps.tp.topic, ps.tp.partition, ps.next, err)
	}
	for _, k := range keys {
		if ps.files[k].pq != nil {
			s.cfg.Stats.files.Add(1)
		}
	}
	s.cfg.Stats.rows.Add(rows)
	s.m.rows.WithLabelValues(ps.table.Name).Add(float64(rows))
	s.m.flushes.WithLabelValues(reason).Inc()
	s.m.flushTime.Observe(time.Since(begin).Seconds())
	s.cfg.Log.Debug("flushed", "topic", ps.tp.topic, "partition", ps.tp.partition, "reason", reason,
		"records", ps.count, "files", len(keys), "from", ps.start, "to", ps.next, "took", time.Since(begin))
	s.drop(ps)
	return nil
}

// drop forgets the open batch of ps (after a flush, or when the partition
// was lost and another member will replay it).
func (s *sink) drop(ps *partState) {
	for _, f := range ps.files {
		f.release()
	}
	s.bytes -= ps.bytes
	s.openFiles -= len(ps.files)
	s.uncommitted -= ps.count
	ps.files = map[folderKey]*openFile{}
	ps.count, ps.bytes, ps.fixed = 0, 0, 0
	s.m.buffered.Set(float64(s.bytes))
	s.m.openFiles.Set(float64(s.openFiles))
	s.m.commitLag.Set(float64(s.uncommitted))
}

// commit commits offsets synchronously and reports any partition error.
func (s *sink) commit(ctx context.Context, offsets map[string]map[int32]kgo.EpochOffset) error {
	var cerr error
	s.cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			cerr = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if e := kerr.ErrorForCode(p.ErrorCode); e != nil {
					cerr = errors.Join(cerr, fmt.Errorf("%s[%d]: %w", t.Topic, p.Partition, e))
				}
			}
		}
	})
	return cerr
}

// flushDue flushes partitions whose time is up, then the largest ones while
// the memory budget is exceeded.
func (s *sink) flushDue(ctx context.Context) error {
	now := s.cfg.Now()
	for _, ps := range s.parts {
		if ps.count > 0 && now.Sub(ps.opened) >= s.cfg.FlushInterval {
			if err := s.flush(ctx, ps, "time"); err != nil {
				return err
			}
		}
	}
	return s.enforceBudget(ctx)
}

func (s *sink) enforceBudget(ctx context.Context) error {
	for s.bytes > s.cfg.MemoryBudget {
		ps := s.most(func(p *partState) int64 { return p.bytes })
		if ps == nil {
			return nil
		}
		if err := s.flush(ctx, ps, "memory"); err != nil {
			return err
		}
	}
	return nil
}

// checkSize flushes ps when it reached the size or record trigger.
func (s *sink) checkSize(ctx context.Context, ps *partState) error {
	switch {
	case ps.bytes-ps.fixed >= s.cfg.FlushSize:
		return s.flush(ctx, ps, "size")
	case s.cfg.FlushRecords > 0 && ps.count >= s.cfg.FlushRecords:
		return s.flush(ctx, ps, "records")
	}
	return nil
}

// flushAll flushes every open batch (shutdown).
func (s *sink) flushAll(ctx context.Context, reason string) error {
	for _, ps := range s.parts {
		if err := s.flush(ctx, ps, reason); err != nil {
			return err
		}
	}
	return nil
}
