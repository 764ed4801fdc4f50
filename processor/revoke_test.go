package processor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestTwoRevokesInOneTransaction holds worker a's transaction open while
// b and then c join its group, so two cooperative rebalances take
// partitions from a within one transaction. kgo's GroupTransactSession
// calls OnPartitionsRevoked for the first revoke only (it returns early
// once a revoke has failed the transaction), so a worker that learnt what
// it owns from that callback alone kept the second revoke's partition:
// after the abort it restored that partition's windows and, its clock
// moved along by the idle timeout, closed them too: the same row as the
// partition's real owner, and a second writer on its changelog partition.
func TestTwoRevokesInOneTransaction(t *testing.T) {
	const parts = 6
	b := startBroker(t, parts, "clickstream")
	dir := t.TempDir()
	// Grouped by the record key: each partition emits its own rows.
	writeFile(t, dir, "per_user.yaml", `name: per_user
source: clickstream
window: {type: tumbling, size: 1m}
group_by: [user_id]
aggregate: {events: count()}
output: clickstream.per_user
`)
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	// One user per partition: a window open in each partition, then an
	// event five minutes later that closes it.
	perPart := func(seed uint64, at time.Time) []*kgo.Record {
		evs := genEvents(seed, parts, 1, at, 0)
		for i := range evs {
			u := fmt.Sprintf("u%d", evs[i].part)
			evs[i].raw = []byte(strings.Replace(string(evs[i].raw), fmt.Sprintf(`"user_id": %q`, evs[i].user), fmt.Sprintf(`"user_id": %q`, u), 1))
			evs[i].user = u
		}
		return eventRecords(evs)
	}
	opening, closing := perPart(1, start.Add(10*time.Second)), perPart(2, start.Add(5*time.Minute))

	var (
		mu      sync.Mutex
		hold    bool          // a's next transaction waits before its commit
		held    chan struct{} // closed when it does
		release = make(chan struct{})
	)
	stats := map[string]*Stats{}
	stops := map[string]func() error{}
	run := func(id string) {
		stats[id] = &Stats{}
		cfg := Config{Kafka: kafkaCfg(b), RulesDir: dir, Group: "g", InstanceID: id, NoWatch: true,
			IdleTimeout: 300 * time.Millisecond, MaxPollRecords: 100, Log: testLog(t), Stats: stats[id],
			kgoOpts: []kgo.Opt{kgo.HeartbeatInterval(100 * time.Millisecond)}}
		if id == "a" {
			cfg.crash = func(at string) bool {
				mu.Lock()
				h := hold && at == "before-commit"
				if h {
					hold = false
					close(held)
				}
				mu.Unlock()
				if h {
					<-release
				}
				return false
			}
		}
		stops[id] = startRun(t, cfg)
	}
	g := newGroupView(t, b, "g")

	produce(t, b, "clickstream", opening...)
	run("a")
	waitFor(t, 15*time.Second, "a to read every partition", func() bool { return stats["a"].Consumed() == parts })

	mu.Lock()
	hold, held = true, make(chan struct{})
	mu.Unlock()
	<-held
	run("b")
	g.waitShares(t, "clickstream", 3, 3)
	run("c")
	g.waitShares(t, "clickstream", 2, 2, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	ends, err := g.adm.ListEndOffsets(ctx, "g.clickstream.state")
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	close(release) // a's transaction aborts: two revokes since it began
	time.Sleep(time.Second)

	produce(t, b, "clickstream", closing...)
	waitFor(t, 15*time.Second, "the windows to close", settledBy(func() (c, p int64) {
		for _, s := range stats {
			c, p = c+s.Consumed(), p+s.producedTotal()
		}
		return c, p
	}, 2*parts))
	for _, id := range []string{"a", "b", "c"} {
		if err := stops[id](); err != nil {
			t.Fatal(err)
		}
	}

	// Each user's first window exactly once.
	rows := map[string][]int64{}
	for _, r := range readCommitted(t, b, "clickstream.per_user") {
		var row struct {
			User  string `json:"user_id"`
			Start string `json:"window_start"`
		}
		if err := json.Unmarshal(r.Value, &row); err != nil {
			t.Fatal(err)
		}
		if row.Start == "2024-01-01T00:00:00Z" {
			rows[row.User] = append(rows[row.User], r.ProducerID)
		}
	}
	for p := range parts {
		u := fmt.Sprintf("u%d", p)
		if n := len(rows[u]); n != 1 {
			t.Errorf("%s's window [00:00, 00:01) emitted %d times, by producers %v", u, n, rows[u])
		}
	}
	// After the rebalances, one writer per changelog partition.
	writers := map[int32][]int64{}
	var a int64 // a's producer: it alone wrote before b joined
	for _, r := range readCommitted(t, b, "g.clickstream.state") {
		end, _ := ends.Lookup(r.Topic, r.Partition)
		if r.Offset < end.Offset {
			a = r.ProducerID
		}
		if ws := writers[r.Partition]; r.Offset >= end.Offset && !slices.Contains(ws, r.ProducerID) {
			writers[r.Partition] = append(ws, r.ProducerID)
		}
	}
	for p, ws := range writers {
		if len(ws) > 1 {
			t.Errorf("changelog partition %d written by producers %v since the rebalances (a is %d)", p, ws, a)
		}
	}
}

// waitShares waits until the group is stable with one member per share,
// assigned that many partitions of topic each (in any order).
func (g *groupView) waitShares(t *testing.T, topic string, shares ...int) {
	t.Helper()
	slices.Sort(shares)
	var got []int
	deadline := time.Now().Add(15 * time.Second)
	for {
		got = got[:0]
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		ds, err := g.adm.DescribeGroups(ctx, g.group)
		cancel()
		if d := ds[g.group]; err == nil && d.Err == nil && d.State == "Stable" {
			for _, m := range d.Members {
				n := 0
				if c, ok := m.Assigned.AsConsumer(); ok {
					for _, at := range c.Topics {
						if at.Topic == topic {
							n += len(at.Partitions)
						}
					}
				}
				got = append(got, n)
			}
			slices.Sort(got)
			if slices.Equal(got, shares) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("group %s: members have %v partitions of %s, want %v", g.group, got, topic, shares)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestOwnershipFollowsTheGroup: an assignment the group hands out takes
// every partition outside it out of the worker's, and a lost session takes
// them all, with their state dropped before the next transaction; no
// revoke callback involved.
func TestOwnershipFollowsTheGroup(t *testing.T) {
	w := &worker{assigned: map[tp]bool{{"s", 0}: true, {"s", 1}: true, {"s", 2}: false, {"p", 0}: true},
		tasks: map[tp]*partTask{{"s", 0}: {}, {"s", 1}: {}}, combs: map[tp]*combTask{{"p", 0}: {}}, gathers: map[tp]*gatherTask{}}
	b := syncedBalancer{GroupBalancer: kgo.CooperativeStickyBalancer(), synced: w.onSynced}
	asg := kmsg.ConsumerMemberAssignment{Topics: []kmsg.ConsumerMemberAssignmentTopic{{Topic: "s", Partitions: []int32{1, 2, 3}}}}
	m, err := b.ParseSyncAssignment(asg.AppendTo(nil))
	if err != nil || !slices.Equal(m["s"], []int32{1, 2, 3}) {
		t.Fatalf("parsed %v, %v", m, err)
	}
	// s3 comes with onAssigned; s2's offsets are still not fetched.
	if want := map[tp]bool{{"s", 1}: true, {"s", 2}: false}; !maps.Equal(w.assigned, want) {
		t.Errorf("assigned %v, want %v", w.assigned, want)
	}
	w.dropRevoked()
	if len(w.tasks) != 1 || w.tasks[tp{"s", 1}] == nil || len(w.combs) != 0 {
		t.Errorf("state left: tasks %v, combiners %v", w.tasks, w.combs)
	}

	lostHook{w}.OnGroupManageError(errors.New("session expired"))
	w.dropRevoked()
	if len(w.assigned) != 0 || len(w.tasks) != 0 {
		t.Errorf("after a lost session: assigned %v, tasks %v", w.assigned, w.tasks)
	}
}
