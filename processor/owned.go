package processor

import (
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Which partitions the worker owns (w.assigned) decides what state it
// restores and ticks, so it must never name a partition the group gave to
// another worker.
//
// The group's callbacks are not enough for that. kgo's
// GroupTransactSession wraps OnPartitionsRevoked and OnPartitionsLost:
// once a revoke (or a loss) has failed the current transaction, the
// wrapper returns early on any further one until End, without calling
// ours. Two cooperative rebalances within one transaction (workers
// joining one after the other while a transaction or a restore runs)
// would leave the second one's partitions in w.assigned; after the
// aborted transaction the worker restored their windows and, with the
// idle timeout moving their clocks, closed them as their new owner did:
// duplicate rows, and two writers on one changelog partition
// (TestTwoRevokesInOneTransaction).
//
// So the worker also reads every assignment the group hands it, as it
// arrives: a member's balancer parses its SyncGroup response
// (ParseSyncAssignment), the client adopts the result as its whole
// assignment and then revokes what it held outside it. The worker forgets
// those partitions at once, whatever the callbacks say later. And a group
// session that dies takes every partition: kgo calls HookGroupManageError
// each time it calls OnPartitionsLost, and, unlike that callback, no
// transaction session filters it.

// syncedBalancer is a balancer that reports each assignment it parses.
type syncedBalancer struct {
	kgo.GroupBalancer
	synced func(map[string][]int32)
}

func (b syncedBalancer) ParseSyncAssignment(assignment []byte) (map[string][]int32, error) {
	m, err := b.GroupBalancer.ParseSyncAssignment(assignment)
	if err == nil {
		b.synced(m)
	}
	return m, err
}

// onSynced forgets the partitions the group's new assignment leaves out:
// they leave w.assigned, and their state goes at the next dropRevoked.
// Partitions it adds come with onAssigned, once revokes are done.
func (w *worker) onSynced(m map[string][]int32) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for k := range w.assigned {
		if !slices.Contains(m[k.topic], k.part) {
			w.revoked = append(w.revoked, k)
			delete(w.assigned, k)
		}
	}
}

// lostHook forgets every partition when the group session dies.
type lostHook struct{ w *worker }

func (h lostHook) OnGroupManageError(error) {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	for k := range h.w.assigned {
		h.w.revoked = append(h.w.revoked, k)
	}
	clear(h.w.assigned)
}

// ownershipOpts are the group client's options that keep w.assigned
// exact (see above).
func (w *worker) ownershipOpts() []kgo.Opt {
	return []kgo.Opt{
		kgo.Balancers(syncedBalancer{GroupBalancer: kgo.CooperativeStickyBalancer(), synced: w.onSynced}),
		kgo.WithHooks(lostHook{w}),
	}
}
