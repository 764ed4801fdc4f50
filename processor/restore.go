package processor

import (
	"cmp"
	"context"
	"slices"

	"golang.org/x/sync/errgroup"

	"github.com/sluicehq/sluice/processor/rule"
)

// A changelog partition holds the state of several owners: source
// partition k's window rules and the combiners and gatherers of partials
// and repartition partitions k. A worker that takes over partitions
// creates the state of everything it owns that has none yet and reads each
// changelog partition once for all of it, so recovery reads the changelog
// once, not once per combining or repartitioned rule, and state created
// later (a combiner's first partial) does not re-read what the worker just
// wrote.

// parallelRestores bounds the changelog partitions read at once (each holds
// its live entries in memory until restored).
const parallelRestores = 4

// restoreGroup is the state one changelog partition restores.
type restoreGroup struct {
	wins    map[string]restorer // by key prefix
	tasks   []*partTask
	combs   []*combTask
	gathers []*gatherTask
}

// restoreOwned creates and restores the state of the partitions a
// transaction's polls brought (polled) and of every partition this worker
// owns whose offsets are fetched, wherever it is missing: source tasks,
// combiners, gatherers. It runs before a transaction opens, so a long
// restore cannot run into the transaction timeout.
func (w *worker) restoreOwned(ctx context.Context, polled []tp) error {
	need := map[tp]bool{}
	for _, k := range polled {
		if !w.hasState(k) {
			need[k] = true
		}
	}
	w.mu.Lock()
	for k, fetched := range w.assigned {
		if fetched && w.wantsState(k) && !w.hasState(k) {
			need[k] = true
		}
	}
	w.mu.Unlock()
	if len(need) == 0 {
		return nil
	}
	groups := map[tp]*restoreGroup{} // by changelog partition
	group := func(source string, part int32) *restoreGroup {
		k := tp{w.stateTopic(source), part}
		g := groups[k]
		if g == nil {
			g = &restoreGroup{wins: map[string]restorer{}}
			groups[k] = g
		}
		return g
	}
	for k := range need {
		if r := w.rs.partials[k.topic]; r != nil {
			ct := w.newCombTask(k, r)
			g := group(r.Schema.Topic, k.part)
			g.wins[combKeyPrefix(r)] = ct.comb
			g.combs = append(g.combs, ct)
			continue
		}
		if r := w.rs.repartitions[k.topic]; r != nil {
			gt := w.newGatherTask(k, r)
			g := group(r.Schema.Topic, k.part)
			g.wins[gatherKeyPrefix(r)] = gt.g
			g.gathers = append(g.gathers, gt)
			continue
		}
		if k.part >= w.nparts[w.stateTopic(k.topic)] && w.rs.windowed(k.topic) {
			n := k.part + 1 // at least
			if counts, err := partitionCounts(ctx, w.adm, []string{k.topic}); err == nil {
				n = counts[k.topic]
			}
			return w.sourceGrew(k.topic, n)
		}
		pt := w.newTask(k)
		g := group(k.topic, k.part)
		for i, win := range pt.task.Windows {
			if win != nil {
				g.wins[stateKeyPrefix(pt.task.Rules[i])] = win
			}
		}
		g.tasks = append(g.tasks, pt)
	}
	keys := make([]tp, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b tp) int { return cmp.Or(cmp.Compare(a.topic, b.topic), cmp.Compare(a.part, b.part)) })
	// Several partitions at once: a restore mostly waits on fetches, and
	// each group restores objects of its own.
	eg, ectx := errgroup.WithContext(ctx)
	eg.SetLimit(parallelRestores)
	for _, k := range keys {
		eg.Go(func() error { return w.restoreFrom(ectx, k.topic, k.part, groups[k].wins) })
	}
	if err := eg.Wait(); err != nil {
		return err
	}
	for _, k := range keys {
		g := groups[k]
		for _, pt := range g.tasks {
			pt.seenET = pt.task.MaxEventTime()
			w.tasks[pt.tp] = pt
		}
		for _, ct := range g.combs {
			w.combs[ct.tp] = ct
		}
		for _, gt := range g.gathers {
			w.gathers[gt.tp] = gt
		}
	}
	return nil
}

// wantsState says whether an owned partition needs state made for it
// before its first record: a source partition of a topic with rules, a
// partials or repartition partition of a current rule.
func (w *worker) wantsState(k tp) bool {
	return w.rs.partials[k.topic] != nil || w.rs.repartitions[k.topic] != nil || len(w.rs.byTopic[k.topic]) > 0
}

// hasState says whether the partition's state exists, of the kind the
// current rules give its topic.
func (w *worker) hasState(k tp) bool {
	switch {
	case w.rs.partials[k.topic] != nil:
		return w.combs[k] != nil
	case w.rs.repartitions[k.topic] != nil:
		return w.gathers[k] != nil
	}
	return w.tasks[k] != nil
}

// newTask returns the empty task of a source partition; the caller
// restores it.
func (w *worker) newTask(k tp) *partTask {
	pt := &partTask{tp: k, task: rule.NewTask(w.rs.byTopic[k.topic]), dec: newDecoded(w.rs.codecs[k.topic]), lastSeen: w.cfg.now()}
	pt.task.TrackChanges()
	pt.task.SendPartials()
	pt.task.Repartition()
	return pt
}
