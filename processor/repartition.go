package processor

import (
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/processor/rule"
)

// Repartitioned rules (see rule/repartition.go): session rules and rules
// with emit_every that are not grouped by the record key. A source
// partition's task forwards each matched, not late event to the rule's
// topic <group>.<rule>.repartition, keyed by its group, and after each
// transaction's events a marker with its watermark to every partition of
// that topic (sendMarkers). The owner of a repartition partition runs the
// rule's windows over those events (a rule.Gatherer) and emits the rows.
// Forwarded events, markers and the gatherers' state changes are all in
// the transactions, like the partials of combining rules.

const forwardRecord = 'e'

// gatherTask is the owner's side of one repartition partition.
type gatherTask struct {
	tp tp
	r  *rule.Rule
	g  *rule.Gatherer
}

func (w *worker) repartitionTopic(r *rule.Rule) string {
	return w.cfg.Group + "." + r.Name + ".repartition"
}

// indexRepartitions maps each repartitioned rule's topic to the rule, and
// back.
func (w *worker) indexRepartitions(rs *ruleSet) {
	rs.repartitions, rs.forwardTo = map[string]*rule.Rule{}, map[*rule.Rule]string{}
	for _, r := range rs.all {
		if r.Repartitions() {
			t := w.repartitionTopic(r)
			rs.repartitions[t], rs.forwardTo[r] = r, t
		}
	}
}

// internal lists the internal topics the worker writes and reads, with
// their rules: partials and repartition topics.
func (rs *ruleSet) internal() map[string]*rule.Rule {
	out := make(map[string]*rule.Rule, len(rs.partials)+len(rs.repartitions))
	for t, r := range rs.partials {
		out[t] = r
	}
	for t, r := range rs.repartitions {
		out[t] = r
	}
	return out
}

// Forward sends one event of a repartitioned rule to its group's owner, in
// a batch (batch.go) to the partition its group places it in.
// gkey and payload are only valid during the call.
func (s *txnSink) Forward(r *rule.Rule, gkey, payload []byte) {
	topic, ok := s.w.rs.forwardTo[r]
	if !ok {
		topic = s.w.repartitionTopic(r)
	}
	s.batch(r, forwardBatchRecord, topic, gkey, payload)
}

// markerTopic is where the markers of a rule's source partitions go: its
// partials topic when it combines, its repartition topic when it
// repartitions, none otherwise.
func (w *worker) markerTopic(r *rule.Rule) string {
	switch {
	case r.Combines():
		return w.partialsTopic(r)
	case r.Repartitions():
		if t, ok := w.rs.forwardTo[r]; ok {
			return t
		}
		return w.repartitionTopic(r)
	}
	return ""
}

// newGatherTask returns an empty gatherer of a repartition partition; the
// caller restores it (restoreOwned).
func (w *worker) newGatherTask(k tp, r *rule.Rule) *gatherTask {
	gt := &gatherTask{tp: k, r: r, g: r.NewGatherer(int(w.srcN[r.Schema.Topic]))}
	gt.g.TrackChanges()
	return gt
}

// gatherKeyPrefix keeps a gatherer's changelog entries apart from the
// source partition's own entries in the same changelog partition.
func gatherKeyPrefix(r *rule.Rule) string { return "r\x00" + stateKeyPrefix(r) }

// handleForwarded applies one record of a repartition topic.
func (w *worker) handleForwarded(gt *gatherTask, rec *kgo.Record) {
	kind, body, ok := internalRecord(gt.r, rec.Value)
	if !ok {
		return
	}
	switch kind {
	case forwardBatchRecord:
		if err := eachEntry(body, gt.g.Add); err != nil {
			w.log.Error("dropping forwarded events", "rule", gt.r.Name, "partition", gt.tp.part, "offset", rec.Offset, "err", err)
		}
	case forwardRecord: // one event a record: from a worker before batching
		if err := gt.g.Add(body); err != nil {
			w.log.Error("dropping a forwarded event", "rule", gt.r.Name, "partition", gt.tp.part, "offset", rec.Offset, "err", err)
		}
	case markerRecord:
		if part, wm, ok := marker(body); ok {
			gt.g.Mark(part, wm)
		}
	}
}

// tickGatherers emits the windows every source partition has passed and
// the early rows that are due, and writes the gatherers' state changes.
func (w *worker) tickGatherers(now time.Time) {
	for _, gt := range w.gathers {
		w.sink.part, w.sink.cur = gt.tp.part, nil
		gt.g.Advance(&w.sink, now)
		topic, prefix := w.stateTopic(gt.r.Schema.Topic), gatherKeyPrefix(gt.r)
		gt.g.Changes(func(k, v []byte) {
			w.sink.produceState(topic, gt.tp.part, prefix, k, v)
		}, func(k []byte) {
			w.sink.produceState(topic, gt.tp.part, prefix, k, nil)
		})
	}
}

// applyGatherers keeps the gatherers of rules a reload left as they were
// (pointing them at the reloaded rule) and drops the others: the next
// transaction starts a changed rule's partitions with new gatherers.
func (w *worker) applyGatherers(rs *ruleSet) {
	for k, gt := range w.gathers {
		r := rs.repartitions[k.topic]
		if r == nil || r.Hash != gt.r.Hash {
			delete(w.gathers, k)
			continue
		}
		gt.r = r
		gt.g.Rebind(r)
	}
}
