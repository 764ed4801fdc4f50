package connector

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

type topicPartition struct {
	topic     string
	partition int32
}

// partState is the open batch of one Kafka partition: every file its
// records since the last commit went to. A batch is flushed as a unit and
// then its end offset is committed, so the durable state of a partition is
// always a sequence of whole batches (flush.go explains why that keeps
// replays exactly once).
type partState struct {
	tp     topicPartition
	table  *tableState
	files  map[folderKey]*openFile
	start  int64 // offset of the batch's first record
	next   int64 // offset after its last record: what gets committed
	epoch  int32 // leader epoch of the last record
	count  int64 // records in the batch
	bytes  int64 // memory held by its files (estimate)
	fixed  int64 // the part of bytes that is the writers' fixed cost
	opened time.Time
}

func (s *sink) partState(topic string, partition int32) *partState {
	tp := topicPartition{topic, partition}
	ps := s.parts[tp]
	if ps == nil {
		ps = &partState{tp: tp, table: s.tables[topic], files: map[folderKey]*openFile{}}
		s.parts[tp] = ps
	}
	return ps
}

// add routes one record into its partition's batch: a Parquet row in its
// time (and column) folder, or a line in the error output; plus a line in
// the raw backup when enabled.
func (s *sink) add(ps *partState, r *kgo.Record) error {
	// A record may open up to filesPerRecord files. Make room before any of
	// it is written: a flush must never hold half a record.
	if s.openFiles+filesPerRecord > s.cfg.MaxOpenFiles {
		if p := s.most(func(p *partState) int64 { return int64(len(p.files)) }); p != nil {
			if err := s.flush(s.ctx, p, "open_files"); err != nil {
				return err
			}
		}
	}
	if ps.count == 0 {
		ps.start = r.Offset
		ps.opened = s.cfg.Now()
	}
	ps.count++
	ps.next = r.Offset + 1
	ps.epoch = r.LeaderEpoch
	s.uncommitted++
	arrival := hourOf(r.Timestamp, s.cfg.loc)

	rec, derr := ps.table.decode(r.Value)
	if derr == nil && s.cfg.PartitionBy == "event-time" && ps.table.codec.EventTime(rec).IsZero() {
		// The schema lets the event time be absent, but an event-time folder
		// needs one: as Firehose does with a missing partition key, the
		// record goes to the error output rather than to year=0001, which
		// no query reads.
		derr = fmt.Errorf("no %s (an optional column) to pick the event-time folder from; use --partition-by arrival-time to keep such records as rows", ps.table.codec.Schema.EventTime)
	}
	if derr != nil {
		f, err := s.file(ps, folderKey{kind: kindErrors, hour: arrival}, r.Offset)
		if err != nil {
			return err
		}
		n, err := f.writeLine(errorRecord(r, derr.Error()))
		if err != nil {
			return fmt.Errorf("writing error record: %w", err)
		}
		s.grow(ps, n)
	} else {
		fk := folderKey{kind: kindParquet, hour: arrival}
		if s.cfg.PartitionBy == "event-time" {
			fk.hour = hourOf(ps.table.codec.EventTime(rec), s.cfg.loc)
		}
		if ps.table.partIdx != nil {
			fk.part = ps.table.partitionValue(rec)
		}
		f, err := s.file(ps, fk, r.Offset)
		if err != nil {
			return err
		}
		n, err := f.writeRow(rec, len(r.Value))
		if err != nil {
			return err
		}
		s.grow(ps, n)
	}
	if s.cfg.Backup {
		f, err := s.file(ps, folderKey{kind: kindRaw, hour: arrival}, r.Offset)
		if err != nil {
			return err
		}
		n, err := f.writeLine(rawLine(r.Value))
		if err != nil {
			return fmt.Errorf("writing raw backup: %w", err)
		}
		s.grow(ps, n)
	}
	return nil
}

// filesPerRecord is the most files one record can open: its Parquet or
// error file, and its raw backup file.
const filesPerRecord = 2

// file returns the open file of ps for fk, opening it (named by the offset
// of the record that opens it) when needed.
func (s *sink) file(ps *partState, fk folderKey, offset int64) (*openFile, error) {
	if f := ps.files[fk]; f != nil {
		return f, nil
	}
	var f *openFile
	if fk.kind == kindParquet {
		f = newParquetFile(fk, offset, ps.table, codecs[s.cfg.Compression].codec, s.cfg.RowGroupSize, map[string]string{
			"sluice.topic": ps.tp.topic, "sluice.partition": fmt.Sprint(ps.tp.partition), "sluice.first_offset": fmt.Sprint(offset)})
	} else {
		f = newNDJSONFile(fk, offset)
	}
	if f.pq != nil {
		f.base = ps.table.overhead
	} else {
		f.base = gzipOverhead
	}
	f.size = f.base
	ps.fixed += f.base
	s.grow(ps, f.base)
	ps.files[fk] = f
	s.openFiles++
	s.m.openFiles.Set(float64(s.openFiles))
	return f, nil
}

func (s *sink) grow(ps *partState, n int64) {
	ps.bytes += n
	s.bytes += n
}

// most returns the partition with the largest score (at least one record).
func (s *sink) most(score func(*partState) int64) *partState {
	var best *partState
	var bs int64 = -1
	for _, p := range s.parts {
		if p.count == 0 {
			continue
		}
		if v := score(p); v > bs {
			best, bs = p, v
		}
	}
	return best
}
