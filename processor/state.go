package processor

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/processor/rule"
)

// Window state recovery: every transaction also writes the window states it
// changed to a compacted changelog topic (<group>.<source><suffix>), one
// entry per (rule, window, group), in the partition of the input partition
// they belong to; a closed window writes a tombstone. Entries are keyed by
// rule name and definition hash, so an edited rule starts afresh. A new
// owner of a partition (after a crash or rebalance) reads that changelog
// partition up to its last stable offset before processing: the state then
// matches the committed input offsets exactly. It reads each changelog
// partition once for everything it owns there (restoreOwned). Recovery
// reads the live entries plus the not-yet-compacted tail, so it is bounded
// by the open windows and the topic's compaction settings, not by the
// input's size.

func stateKeyPrefix(r *rule.Rule) string { return r.Name + "\x00" + r.Hash + "\x00" }

// writeChanges produces the partition's state changes into the transaction.
func (w *worker) writeChanges(pt *partTask) {
	topic := w.stateTopic(pt.tp.topic)
	for i, win := range pt.task.Windows {
		if win == nil {
			continue
		}
		prefix := stateKeyPrefix(pt.task.Rules[i])
		win.Changes(func(k, v []byte) {
			w.sink.produceState(topic, pt.tp.part, prefix, k, v)
		}, func(k []byte) {
			w.sink.produceState(topic, pt.tp.part, prefix, k, nil)
		})
	}
}

// produceState writes one changelog entry, prefix+key: val (nil: a
// tombstone). key and val are copied: they need only be valid during the
// call.
func (s *txnSink) produceState(topic string, part int32, prefix string, key, val []byte) {
	rec := s.arena.record()
	rec.Topic, rec.Partition, rec.Key, rec.Value = topic, part, s.arena.join(prefix, key), s.arena.copy(val)
	s.send(rec)
}

// restorer is state that a changelog entry can be loaded into.
type restorer interface {
	Restore(key string, val []byte) error
}

// restoreFrom reads partition part of a changelog topic up to its last
// stable offset and loads the live entries whose key starts with one of
// the prefixes into its restorer.
func (w *worker) restoreFrom(ctx context.Context, topic string, part int32, wins map[string]restorer) error {
	if len(wins) == 0 {
		return nil
	}
	start := time.Now()
	w.m.restores.Inc()
	ends, err := w.adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return fmt.Errorf("listing changelog %s end: %w", topic, err)
	}
	end, ok := ends.Lookup(topic, part)
	if !ok || end.Err != nil {
		return fmt.Errorf("listing changelog %s partition %d end: %v (%v)", topic, part, end.Err, ends)
	}
	if end.Offset <= 0 {
		return nil
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), w.base...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {part: kgo.NewOffset().AtStart()}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords())...)
	if err != nil {
		return fmt.Errorf("creating changelog reader: %w", err)
	}
	defer cl.Close()
	live := map[string][]byte{}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	for done := false; !done; {
		fs := cl.PollFetches(rctx)
		if err := fs.Err(); err != nil {
			return fmt.Errorf("reading changelog %s partition %d: %w", topic, part, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset+1 >= end.Offset {
				done = true
			}
			if r.Attrs.IsControl() {
				return
			}
			if r.Value == nil {
				delete(live, string(r.Key))
			} else {
				live[string(r.Key)] = r.Value
			}
		})
	}
	n := 0
	for k, v := range live {
		for prefix, win := range wins {
			if rest, ok := strings.CutPrefix(k, prefix); ok {
				if err := win.Restore(rest, v); err != nil {
					return err
				}
				n++
			}
		}
	}
	w.m.restored.Add(float64(n))
	w.log.Info("restored window state", "changelog", topic, "partition", part, "entries", n, "took", time.Since(start).Round(time.Millisecond))
	return nil
}
