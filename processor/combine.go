package processor

import (
	"encoding/binary"
	"math"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/processor/rule"
)

// Cross-partition windows (see rule/combine.go): a source partition's task
// sends each closed tumbling or hopping window to the rule's partials topic
// <group>.<rule>.partials, keyed by window and group, then a marker with its
// watermark to every partition of that topic. The owner of a partials
// partition merges what it reads and emits the rule's rows. Partials,
// markers and the combiners' state changes are all in the transactions.

const (
	partialRecord = 'b'
	markerRecord  = 'm'
)

type combTask struct {
	tp   tp
	r    *rule.Rule
	comb *rule.Combiner
}

func (w *worker) partialsTopic(r *rule.Rule) string { return w.cfg.Group + "." + r.Name + ".partials" }

// indexPartials maps each combining rule's partials topic to the rule.
func (w *worker) indexPartials(rs *ruleSet) {
	rs.partials, rs.partialsTo = map[string]*rule.Rule{}, map[*rule.Rule]string{}
	for _, r := range rs.all {
		if r.Combines() {
			t := w.partialsTopic(r)
			rs.partials[t], rs.partialsTo[r] = r, t
		}
	}
}

// Partial sends a closed window of the current source partition, in a
// batch (batch.go) to the partition its key places it in.
// key and state are only valid during the call.
func (s *txnSink) Partial(r *rule.Rule, key, state []byte) {
	topic, ok := s.w.rs.partialsTo[r]
	if !ok {
		topic = s.w.partialsTopic(r)
	}
	s.batch(r, partialBatchRecord, topic, key, state)
}

// produceInternal produces a record of an internal topic (not counted as
// output) to partition part, or by key when part < 0.
func (s *txnSink) produceInternal(r *kgo.Record, part int32) {
	if part < 0 {
		part = s.partitionFor(r)
	}
	r.Partition = part
	s.send(r)
}

// sendMarkers tells every combiner of pt's combining rules, and every
// owner of its repartitioned rules, how far pt's watermark has come, after
// the partials Advance produced and the events the task forwarded.
func (w *worker) sendMarkers(pt *partTask) {
	w.sink.flushBatches(pt.tp.part)
	for i, win := range pt.task.Windows {
		r := pt.task.Rules[i]
		if win == nil {
			continue
		}
		topic := w.markerTopic(r)
		if topic == "" {
			continue
		}
		wm := win.WatermarkNanos()
		if last, ok := pt.marked[r.Name]; wm == math.MinInt64 || (ok && wm <= last) {
			continue
		}
		if pt.marked == nil {
			pt.marked = map[string]int64{}
		}
		pt.marked[r.Name] = wm
		v := make([]byte, 0, 1+len(r.Hash)+12)
		v = append(append(v, markerRecord), r.Hash...)
		v = binary.BigEndian.AppendUint32(v, uint32(pt.tp.part))
		v = binary.BigEndian.AppendUint64(v, uint64(wm))
		for q := int32(0); q < w.nparts[topic]; q++ {
			w.sink.produceInternal(&kgo.Record{Topic: topic, Value: v}, q)
		}
	}
}

// newCombTask returns an empty combiner of a partials partition; the
// caller restores it (restoreOwned).
func (w *worker) newCombTask(k tp, r *rule.Rule) *combTask {
	ct := &combTask{tp: k, r: r, comb: r.NewCombiner(int(w.srcN[r.Schema.Topic]))}
	ct.comb.TrackChanges()
	return ct
}

func combKeyPrefix(r *rule.Rule) string { return "c\x00" + stateKeyPrefix(r) }

// internalRecord splits a record of rule r's partials or repartition topic
// into its kind and body; ok is false for a record written under another
// definition of the rule (its hash differs), which is ignored.
func internalRecord(r *rule.Rule, v []byte) (kind byte, body []byte, ok bool) {
	h := r.Hash
	if len(v) < 1+len(h) || string(v[1:1+len(h)]) != h {
		return 0, nil, false
	}
	return v[0], v[1+len(h):], true
}

// marker decodes a marker's body: the source partition and its watermark.
func marker(body []byte) (part int, wm int64, ok bool) {
	if len(body) != 12 {
		return 0, 0, false
	}
	return int(binary.BigEndian.Uint32(body)), int64(binary.BigEndian.Uint64(body[4:])), true
}

// handlePartial applies one record of a partials topic.
func (w *worker) handlePartial(ct *combTask, rec *kgo.Record) {
	kind, body, ok := internalRecord(ct.r, rec.Value)
	if !ok {
		return
	}
	switch kind {
	case partialBatchRecord:
		if len(body) < 4 {
			return
		}
		part := int(binary.BigEndian.Uint32(body))
		if err := eachEntry(body[4:], func(state []byte) error { return ct.comb.AddPartial(part, state) }); err != nil {
			w.log.Error("dropping malformed partials", "rule", ct.r.Name, "partition", ct.tp.part, "offset", rec.Offset, "err", err)
		}
	case partialRecord: // one partial a record: from a worker before batching
		if len(body) < 4 {
			return
		}
		if err := ct.comb.AddPartial(int(binary.BigEndian.Uint32(body)), body[4:]); err != nil {
			w.log.Error("dropping a malformed partial", "rule", ct.r.Name, "err", err)
		}
	case markerRecord:
		if part, wm, ok := marker(body); ok {
			ct.comb.Mark(part, wm)
		}
	}
}

// tickCombiners emits the windows every partition has passed and writes
// the combiners' state changes.
func (w *worker) tickCombiners() {
	for _, ct := range w.combs {
		w.sink.part, w.sink.cur = ct.tp.part, nil
		ct.comb.Advance(&w.sink)
		topic, prefix := w.stateTopic(ct.r.Schema.Topic), combKeyPrefix(ct.r)
		ct.comb.Changes(func(k string, v []byte) {
			w.sink.produceState(topic, ct.tp.part, prefix, []byte(k), v)
		}, func(k string) {
			w.sink.produceState(topic, ct.tp.part, prefix, []byte(k), nil)
		})
	}
}
