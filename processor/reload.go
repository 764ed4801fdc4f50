package processor

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/processor/rule"
)

// watch reloads the rules directory when its files change. It watches the
// directory, not the files: editors save by writing a temporary file and
// renaming it over the old one. A directory that does not load keeps the
// previous rules running.
func (w *worker) watch(ctx context.Context) (stop func(), err error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("watching rules: %w", err)
	}
	if err := fw.Add(w.cfg.RulesDir); err != nil {
		fw.Close()
		return nil, fmt.Errorf("watching rules directory %s: %w", w.cfg.RulesDir, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		var timer <-chan time.Time
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-fw.Events:
				if !ok {
					return
				}
				// A Kubernetes ConfigMap volume updates by swapping its
				// ..data symlink; the rule files' names never change.
				if ext := filepath.Ext(ev.Name); ext == ".yaml" || ext == ".yml" || ext == ".sql" || filepath.Base(ev.Name) == "..data" {
					timer = time.After(150 * time.Millisecond) // let a burst of writes settle
				}
			case err, ok := <-fw.Errors:
				if !ok {
					return
				}
				w.log.Warn("watching rules directory", "err", err)
			case <-timer:
				timer = nil
				rules, err := rule.LoadDir(w.cfg.RulesDir, w.cfg.Schemas)
				if err != nil {
					w.m.reloadFailed.Set(1)
					w.m.reloads.WithLabelValues("error").Inc()
					w.log.Error("rules not reloaded; the previous rules keep running", "err", err)
					continue
				}
				select { // keep only the newest pending set
				case <-w.reload:
				default:
				}
				w.reload <- newRuleSet(rules)
			}
		}
	}()
	return func() { fw.Close(); <-done }, nil
}

// apply swaps in a reloaded rule set between transactions (the loop calls
// it before polling, never with a transaction open). Unchanged window
// rules keep their state; a window rule whose definition changed starts
// empty, and the changelog entries of dropped state are deleted first
// (forgetDropped). Afterwards the group consumes exactly rs.consumed():
// topics only the new rules read are added, topics no new rule reads are
// dropped. The error is the transaction session's (forgetDropped,
// stopConsuming): the worker cannot go on.
func (w *worker) apply(ctx context.Context, rs *ruleSet) error {
	w.indexPartials(rs)
	w.indexRepartitions(rs)
	if err := w.ensure(ctx, rs); err != nil {
		w.m.reloadFailed.Set(1)
		w.m.reloads.WithLabelValues("error").Inc()
		w.log.Error("rules not reloaded; the previous rules keep running", "err", err)
		return nil
	}
	old := map[string]*rule.Rule{}
	for _, r := range w.rs.all {
		old[r.Name] = r
	}
	for _, r := range rs.all {
		o, ok := old[r.Name]
		switch {
		case !ok:
			w.log.Info("rule added", "rule", r.Name, "file", r.Spec.File)
		case o.Hash != r.Hash && !r.IsFilter():
			w.log.Warn("rule definition changed: its window state is reset", "rule", r.Name, "file", r.Spec.File)
		case o.Hash != r.Hash:
			w.log.Info("rule updated", "rule", r.Name, "file", r.Spec.File)
		}
		delete(old, r.Name)
	}
	for name := range old {
		w.log.Info("rule removed", "rule", name)
		// Its gauges would go on showing their last values; its counters
		// stay, as counters do.
		w.m.stateSize.DeleteLabelValues(name)
		w.m.wmLag.DeleteLabelValues(name)
	}
	if err := w.forgetDropped(ctx, rs); err != nil {
		return err
	}
	added, removed := w.rs.consumedChange(rs)
	if len(removed) > 0 {
		if err := w.stopConsuming(ctx, removed); err != nil {
			return err
		}
	}
	if len(added) > 0 {
		w.sess.Client().AddConsumeTopics(added...)
	}
	for k, pt := range w.tasks {
		keep := map[string]*rule.Windows{}
		for i, r := range pt.task.Rules {
			if win := pt.task.Windows[i]; win != nil {
				keep[stateKeyPrefix(r)] = win
			}
		}
		t := rule.NewTask(rs.byTopic[k.topic])
		t.TrackChanges()
		t.SendPartials()
		t.Repartition()
		fresh := false
		for i, r := range t.Rules {
			if win, ok := keep[stateKeyPrefix(r)]; ok {
				t.Windows[i] = win
				win.Rebind(r)
			} else if t.Windows[i] != nil {
				fresh = true
			}
		}
		if fresh {
			// A window rule new here runs with what the changelog holds
			// for it, as it would after a restart: usually nothing
			// (forgetDropped), but the state of a rule deleted while no
			// worker ran is still there. The next transaction restores
			// the partition (restoreOwned), the other rules' state
			// included, which the last commit wrote.
			delete(w.tasks, k)
			continue
		}
		pt.task = t
		pt.marked = nil // markers go again, under the rules' current definitions
		if c := rs.codecs[k.topic]; c != nil && pt.dec.codec == nil {
			pt.dec = newDecoded(c)
		}
	}
	for k, ct := range w.combs {
		if r := rs.partials[k.topic]; r == nil || r.Hash != ct.r.Hash {
			delete(w.combs, k) // gone, or reset: the next transaction starts a new one
		}
	}
	w.applyGatherers(rs)
	clear(w.sink.b.sizes) // keyed by the old rules
	w.rs = rs
	w.m.rulesLoaded.Set(float64(len(rs.all)))
	w.m.reloadFailed.Set(0)
	w.m.reloads.WithLabelValues("ok").Inc()
	return nil
}

// revokeWait bounds how long stopConsuming waits for the rebalance it
// causes to reach this worker (usually milliseconds).
const revokeWait = 5 * time.Second

// stopConsuming takes topics no rule reads any more out of the group's
// subscription, between transactions, and forgets the state of their
// partitions. The group's committed offsets of those topics stay where the
// last transaction left them: a rule that reads a topic again resumes
// there, like a Kafka Connect consumer.
//
// Purging causes a rebalance. With the cooperative balancer this worker
// gives up only the purged topics' partitions and keeps the others, but
// the GroupTransactSession fails the next transaction end after any revoke
// of owned partitions. So once the revoke is in, stopConsuming ends an
// empty transaction to take the failure, and the next transaction commits
// with the remaining rules' state intact. If the revoke comes later than
// revokeWait, the transaction it falls in aborts and the worker rolls
// back and restores from the changelog, as after any rebalance: slower,
// but just as exact.
func (w *worker) stopConsuming(ctx context.Context, topics []string) error {
	select { // a revoke before the purge is not the one we wait for
	case <-w.revokes:
	default:
	}
	w.sess.Client().PurgeTopicsFromConsuming(topics...)
	gone := map[string]bool{}
	for _, t := range topics {
		gone[t] = true
		w.m.consumerLag.DeletePartialMatch(prometheus.Labels{"topic": t})
	}
	w.mu.Lock()
	for k := range w.assigned {
		if gone[k.topic] {
			delete(w.assigned, k)
		}
	}
	w.mu.Unlock()
	for k := range w.tasks {
		if gone[k.topic] {
			delete(w.tasks, k)
		}
	}
	for k := range w.combs {
		if gone[k.topic] {
			delete(w.combs, k)
		}
	}
	for k := range w.gathers {
		if gone[k.topic] {
			delete(w.gathers, k)
		}
	}
	w.log.Info("stopped consuming topics no rule reads any more", "topics", topics)

	timer := time.NewTimer(revokeWait)
	defer timer.Stop()
	select {
	case <-w.revokes:
	case <-timer.C:
		w.log.Info("the group has not rebalanced yet; the next transaction may abort and retry", "waited", revokeWait)
		return nil
	case <-ctx.Done():
		return nil
	}
	if err := w.sess.Begin(); err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	// Nothing produced, no offsets: ending sends nothing to the broker,
	// and the consumer goes on from the offsets committed last.
	if _, err := w.end(ctx, kgo.TryAbort); err != nil {
		return fmt.Errorf("ending transaction: %w", err)
	}
	return nil
}
