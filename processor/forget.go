package processor

import (
	"context"
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"
)

// forgotten is a changelog entry of state a reload drops, to tombstone.
// owner is the partition whose state it is: only its owner may write it.
type forgotten struct {
	owner tp
	topic string
	part  int32
	key   []byte
}

// forgetAttempts bounds the transactions forgetDropped tries: each aborts
// only when the group rebalances at that moment.
const forgetAttempts = 3

// forgetDropped tombstones the changelog entries of the state a reload to
// rs drops (window rules removed or whose definition changed, their
// combiners and gatherers), in a transaction of its own, committed before
// anything else changes, while this worker still owns that state. Left
// live, the entries would come back in a later restore if a rule of the
// same name and definition ran again (added back, or an edit reverted),
// while the worker that never restarted starts it with no state: outputs
// would then depend on whether a worker restarted. They would also be
// read, and skipped, by every restore for good.
func (w *worker) forgetDropped(ctx context.Context, rs *ruleSet) error {
	running := map[string]bool{}
	for _, r := range rs.all {
		running[stateKeyPrefix(r)] = true
	}
	var fs []forgotten
	add := func(owner tp, topic string, part int32, prefix string) func([]byte) {
		return func(key []byte) {
			fs = append(fs, forgotten{owner, topic, part, append([]byte(prefix), key...)})
		}
	}
	for k, pt := range w.tasks {
		for i, r := range pt.task.Rules {
			if win := pt.task.Windows[i]; win != nil && !running[stateKeyPrefix(r)] {
				win.Forget(add(k, w.stateTopic(k.topic), k.part, stateKeyPrefix(r)))
			}
		}
	}
	for k, ct := range w.combs {
		if !running[stateKeyPrefix(ct.r)] {
			del := add(k, w.stateTopic(ct.r.Schema.Topic), k.part, combKeyPrefix(ct.r))
			ct.comb.Forget(func(key string) { del([]byte(key)) })
		}
	}
	for k, gt := range w.gathers {
		if !running[stateKeyPrefix(gt.r)] {
			gt.g.Forget(add(k, w.stateTopic(gt.r.Schema.Topic), k.part, gatherKeyPrefix(gt.r)))
		}
	}
	for attempt := 0; len(fs) > 0; attempt++ {
		w.mu.Lock()
		fs = slices.DeleteFunc(fs, func(f forgotten) bool { _, owned := w.assigned[f.owner]; return !owned })
		w.mu.Unlock()
		if len(fs) == 0 {
			return nil
		}
		if attempt == forgetAttempts {
			w.log.Warn("the changelog entries of removed or changed rules were not deleted (the group kept rebalancing); "+
				"a rule of the same name and definition added again may get its old windows back after a restart", "entries", len(fs))
			return nil
		}
		ok, err := w.tombstone(ctx, fs)
		if err != nil {
			return err
		}
		if ok {
			w.log.Info("deleted the window state of removed or changed rules from the changelog", "entries", len(fs))
			return nil
		}
	}
	return nil
}

// tombstone writes a tombstone for each entry in one transaction and says
// whether it committed.
func (w *worker) tombstone(ctx context.Context, fs []forgotten) (bool, error) {
	w.sink.begin()
	defer w.sink.reset()
	if err := w.sess.Begin(); err != nil {
		return false, fmt.Errorf("beginning transaction: %w", err)
	}
	for _, f := range fs {
		w.sink.produceState(f.topic, f.part, "", f.key, nil)
	}
	committed, err := w.end(ctx, kgo.TryCommit)
	if err != nil {
		return false, fmt.Errorf("ending transaction: %w", err)
	}
	if !committed {
		w.m.txns.WithLabelValues("aborted").Inc()
		return false, nil
	}
	w.m.txns.WithLabelValues("committed").Inc()
	return !w.sink.failed(), nil
}
