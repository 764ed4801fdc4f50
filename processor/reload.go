package processor

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"

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

// apply swaps in a reloaded rule set between transactions. Unchanged
// window rules keep their state; a window rule whose definition changed
// starts empty.
func (w *worker) apply(ctx context.Context, rs *ruleSet) {
	w.indexPartials(rs)
	w.indexRepartitions(rs)
	if err := w.ensure(ctx, rs); err != nil {
		w.m.reloadFailed.Set(1)
		w.m.reloads.WithLabelValues("error").Inc()
		w.log.Error("rules not reloaded; the previous rules keep running", "err", err)
		return
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
	}
	added, _ := w.rs.consumedChange(rs)
	if len(added) > 0 {
		w.sess.Client().AddConsumeTopics(added...)
	}
	for k, pt := range w.tasks {
		keep := map[string]*rule.Windows{}
		for i, r := range pt.task.Rules {
			if win := pt.task.Windows[i]; win != nil {
				keep[r.Name+"\x00"+r.Hash] = win
			}
		}
		t := rule.NewTask(rs.byTopic[k.topic])
		t.TrackChanges()
		t.SendPartials()
		t.Repartition()
		for i, r := range t.Rules {
			if win, ok := keep[r.Name+"\x00"+r.Hash]; ok {
				t.Windows[i] = win
				win.Rebind(r)
			}
		}
		pt.task = t
		pt.marked = nil // markers go again, under the rules' current definitions
		if c := rs.codecs[k.topic]; c != nil && pt.codec == nil {
			pt.codec, pt.rec = c, c.New()
			pt.recVal = reflectElem(pt.rec)
		}
	}
	for k, ct := range w.combs {
		if r := rs.partials[k.topic]; r == nil || r.Hash != ct.r.Hash {
			delete(w.combs, k) // gone, or reset: the next transaction starts a new one
		}
	}
	w.applyGatherers(rs)
	w.rs = rs
	w.m.rulesLoaded.Set(float64(len(rs.all)))
	w.m.reloadFailed.Set(0)
	w.m.reloads.WithLabelValues("ok").Inc()
}
