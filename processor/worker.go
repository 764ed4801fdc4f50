package processor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sluicehq/sluice/internal/kclient"
	"github.com/sluicehq/sluice/internal/telemetry"
	"github.com/sluicehq/sluice/processor/rule"
)

// errCrashed is what Run returns when a test's crash hook dropped the client.
var errCrashed = errors.New("processor: crashed on purpose (test)")

type tp struct {
	topic string
	part  int32
}

// partTask is the work of one source partition: its rules' state and the
// records its events are decoded into.
type partTask struct {
	tp       tp
	task     *rule.Task
	dec      decoded          // the records of a chunk, decoded once, shared by all rules
	lastSeen time.Time        // wall time of the last event
	seenET   time.Time        // the latest event time at lastSeen (events only, not idle moves)
	marked   map[string]int64 // last watermark sent to each combining rule's combiners
}

type worker struct {
	cfg     Config
	log     *slog.Logger
	m       *metrics
	rs      *ruleSet
	sess    *kgo.GroupTransactSession
	adm     *kadm.Client
	base    []kgo.Opt
	srcN    map[string]int32 // partitions of each source topic
	nparts  map[string]int32 // partitions of each topic we write
	tasks   map[tp]*partTask
	combs   map[tp]*combTask
	gathers map[tp]*gatherTask
	sink    txnSink
	reload  chan *ruleSet

	mu       sync.Mutex
	revoked  []tp
	assigned map[tp]bool // owned partitions: true once their offsets are fetched
	// revokes gets a value (if empty) each time the group calls onRevoked,
	// even with nothing to revoke: a reload that stops consuming topics
	// waits for the rebalance it caused (stopConsuming).
	revokes chan struct{}
}

// Run loads the rules and processes their source topics until ctx is done.
// On cancel it finishes and commits the in-flight transaction, then returns.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	rules, err := rule.LoadDir(cfg.RulesDir, cfg.Schemas)
	if err != nil {
		return fmt.Errorf("loading rules: %w", err)
	}
	base, err := cfg.Kafka.Opts()
	if err != nil {
		return err
	}
	w := &worker{cfg: cfg, log: cfg.Log, m: newMetrics(cfg.Reg), rs: newRuleSet(rules), base: base,
		srcN: map[string]int32{}, nparts: map[string]int32{}, tasks: map[tp]*partTask{}, combs: map[tp]*combTask{}, gathers: map[tp]*gatherTask{},
		reload: make(chan *ruleSet, 1), assigned: map[tp]bool{}, revokes: make(chan struct{}, 1)}
	w.sink.w = w
	w.sink.reset()
	w.sink.promise = w.sink.onProduced
	admCl, err := kgo.NewClient(base...)
	if err != nil {
		return fmt.Errorf("creating admin client: %w", err)
	}
	defer admCl.Close()
	w.adm = kadm.NewClient(admCl)
	w.indexPartials(w.rs)
	w.indexRepartitions(w.rs)
	if err := w.ensure(ctx, w.rs); err != nil {
		return err
	}
	w.m.rulesLoaded.Set(float64(len(rules)))
	if !cfg.NoWatch {
		stop, err := w.watch(ctx)
		if err != nil {
			return err
		}
		defer stop()
	}
	compression, _ := kclient.Compression(cfg.Compression) // validated
	opts := append(append([]kgo.Opt(nil), base...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(w.rs.consumed()...),
		kgo.TransactionalID(cfg.Group+"-"+cfg.InstanceID),
		kgo.TransactionTimeout(cfg.TransactionTimeout),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.MaxBufferedRecords(1<<20),
		kgo.ProducerBatchCompression(compression),
		kgo.WithPools(&recordPool{}),
		kgo.OnPartitionsAssigned(w.onAssigned),
		kgo.OnOffsetsFetched(w.onFetched),
		kgo.OnPartitionsRevoked(w.onRevoked),
		kgo.OnPartitionsLost(w.onRevoked),
	)
	opts = append(opts, w.fetchWaitOpts()...)
	// The cooperative balancer, and what the revoke callbacks may miss.
	opts = append(opts, w.ownershipOpts()...)
	// Kafka client metrics: sluice_process_kafka_* (bytes, requests, errors).
	opts = append(opts, telemetry.KafkaMetrics("sluice_process_kafka", cfg.Reg)...)
	opts = append(opts, cfg.kgoOpts...)
	w.sess, err = kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return fmt.Errorf("creating transactional consumer: %w", err)
	}
	cfg.Log.Info("processor started", "rules", len(rules), "sources", w.rs.topics(), "group", cfg.Group,
		"transactional_id", cfg.Group+"-"+cfg.InstanceID)
	err = w.loop(ctx)
	if errors.Is(err, errCrashed) {
		return err // the client is already dropped
	}
	w.sess.Close()
	if err == nil {
		cfg.Log.Info("processor stopped", "consumed", cfg.Stats.Consumed())
	}
	return err
}

// ensure learns the source partition counts and creates the topics the
// rules write: outputs, dead-letter and late topics like the widest source,
// changelog topics (compacted) like their source.
func (w *worker) ensure(ctx context.Context, rs *ruleSet) error {
	counts, err := partitionCounts(ctx, w.adm, rs.topics())
	if err != nil {
		return err
	}
	var widest int32 = 1
	for t, n := range counts {
		w.srcN[t] = n
		widest = max(widest, n)
	}
	outs := append(rs.outputs(), w.cfg.DeadLetterTopic, w.cfg.LateTopic)
	if err := ensureTopics(ctx, w.adm, widest, nil, outs...); err != nil {
		return err
	}
	for topic, r := range rs.internal() {
		if err := ensureTopics(ctx, w.adm, counts[r.Schema.Topic], nil, topic); err != nil {
			return err
		}
		outs = append(outs, topic)
	}
	compact := "compact"
	for t, n := range counts {
		if err := ensureTopics(ctx, w.adm, n, map[string]*string{"cleanup.policy": &compact}, w.stateTopic(t)); err != nil {
			return err
		}
	}
	all := append(outs, rs.topics()...)
	for _, t := range rs.topics() {
		all = append(all, w.stateTopic(t))
	}
	td, err := w.adm.ListTopics(ctx, all...)
	if err != nil {
		return fmt.Errorf("listing topics: %w", err)
	}
	for _, d := range td {
		if d.Err == nil {
			w.nparts[d.Topic] = int32(len(d.Partitions))
			w.sink.partitions(d.Topic, int32(len(d.Partitions)))
		}
	}
	for t, n := range counts {
		if sn := w.nparts[w.stateTopic(t)]; sn < n && rs.windowed(t) {
			return w.sourceGrew(t, n)
		}
	}
	return nil
}

// sourceGrew is the error for a source topic with window rules that has
// more partitions than when its state was laid out. Window state lives with
// the partition that read the events, and records move to other partitions
// when the count changes, so a group's windows would be split between old
// and new partitions (Kafka Streams refuses this too). Said plainly, rather
// than as a failure to read a changelog partition that does not exist.
func (w *worker) sourceGrew(topic string, n int32) error {
	return fmt.Errorf("%w: %s has %d partitions, but group %s keeps its window state in %d (%s): run the rules under a new --group, or delete this group's offsets and internal topics, to recompute from the input (see docs/processor.md, Changing a source's partition count)",
		ErrSourceGrew, topic, n, w.cfg.Group, w.nparts[w.stateTopic(topic)], w.stateTopic(topic))
}

func (w *worker) stateTopic(source string) string {
	return w.cfg.Group + "." + source + w.cfg.StateTopicSuffix
}

func (w *worker) onAssigned(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for t, ps := range m {
		for _, p := range ps {
			w.assigned[tp{t, p}] = false
		}
	}
}

// onFetched marks every assigned partition's offsets fetched: the client
// fetches the committed offsets of the partitions a rebalance added after
// their onAssigned and before the next rebalance's. The fetch is stable
// (it waits for a previous owner's open transaction to end), so state
// restored after it matches the offsets; restored at onAssigned, it could
// miss that transaction's changes.
func (w *worker) onFetched(context.Context, *kgo.Client, *kmsg.OffsetFetchResponse) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for k := range w.assigned {
		w.assigned[k] = true
	}
	return nil
}

func (w *worker) onRevoked(_ context.Context, _ *kgo.Client, m map[string][]int32) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for t, ps := range m {
		for _, p := range ps {
			w.revoked = append(w.revoked, tp{t, p})
			delete(w.assigned, tp{t, p})
		}
	}
	select {
	case w.revokes <- struct{}{}:
	default:
	}
}

// dropRevoked forgets the state of partitions we no longer own: their new
// owner restores it from the changelog.
func (w *worker) dropRevoked() {
	w.mu.Lock()
	rev := w.revoked
	w.revoked = nil
	w.mu.Unlock()
	for _, k := range rev {
		delete(w.tasks, k)
		delete(w.combs, k)
		delete(w.gathers, k)
	}
}

func (w *worker) loop(ctx context.Context) error {
	for ctx.Err() == nil {
		select {
		case rs := <-w.reload:
			if err := w.apply(ctx, rs); err != nil {
				return err
			}
		default:
		}
		fs := w.poll(ctx)
		if fs.IsClientClosed() {
			return errors.New("processor: kafka client closed")
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				w.log.Warn("fetch error", "topic", t, "partition", p, "err", err)
			}
		})
		w.dropRevoked()
		if err := w.txn(ctx, fs); err != nil {
			return err
		}
	}
	return nil
}

// txn processes one poll's records and commits outputs, state changes and
// input offsets in one transaction.
func (w *worker) txn(ctx context.Context, fs kgo.Fetches) error {
	now := w.cfg.now()
	if err := w.prepare(ctx, fs); err != nil {
		if ctx.Err() != nil {
			return nil // shutting down mid-restore
		}
		return err
	}
	w.sink.begin()
	if err := w.sess.Begin(); err != nil {
		return fmt.Errorf("beginning transaction: %w", err)
	}
	var (
		n       int64
		procErr error
		crashed bool
	)
	fs.EachPartition(func(p kgo.FetchTopicPartition) {
		if procErr != nil || crashed || len(p.Records) == 0 {
			return
		}
		k := tp{p.Topic, p.Partition}
		if handle, internal := w.internalHandler(k); internal {
			if handle == nil {
				procErr = fmt.Errorf("processing %s partition %d: its state is not restored", k.topic, k.part)
				return
			}
			for _, rec := range p.Records {
				handle(rec)
				if w.crash("mid-batch") {
					crashed = true
					return
				}
			}
			return
		}
		pt := w.tasks[k]
		if pt == nil {
			procErr = fmt.Errorf("processing %s partition %d: its state is not restored", k.topic, k.part)
			return
		}
		w.sink.part = p.Partition
		for recs := p.Records; len(recs) > 0; {
			c := recs[:min(len(recs), chunkEvents)]
			recs = recs[len(c):]
			w.handleChunk(pt, c)
			n += int64(len(c))
			if w.crash("after-chunk") {
				crashed = true
				return
			}
		}
		w.sink.consumed[p.Topic] += int64(len(p.Records))
		pt.lastSeen, pt.seenET = now, pt.task.MaxEventTime()
		last := p.Records[len(p.Records)-1].Offset
		w.m.consumerLag.WithLabelValues(p.Topic, strconv.Itoa(int(p.Partition))).Set(float64(p.HighWatermark - last - 1))
	})
	w.sink.cur = nil
	if crashed {
		return errCrashed
	}
	if procErr == nil {
		procErr = w.tick(ctx, now)
		w.sink.flushBatches(-1) // a safety net: tick flushes each partition's before its markers
	}
	if procErr != nil && ctx.Err() != nil {
		// Shutting down mid-restore: abort this transaction and stop cleanly;
		// the next owner starts from the last commit.
		_, _ = w.end(ctx, kgo.TryAbort)
		return nil
	}
	if w.crash("before-commit") {
		return errCrashed
	}
	try := kgo.TryCommit
	if procErr != nil || w.sink.failed() {
		try = kgo.TryAbort
	}
	committed, err := w.end(ctx, try)
	if err == nil && w.sink.inflight.Load() == 0 {
		recycle(fs) // the transaction is over: nothing refers to its input any more
	}
	if procErr != nil {
		return procErr
	}
	if err != nil {
		return fmt.Errorf("ending transaction: %w", err)
	}
	if committed {
		w.m.txns.WithLabelValues("committed").Inc()
		w.committed(n)
		return nil
	}
	w.m.txns.WithLabelValues("aborted").Inc()
	if perr := w.sink.err(); perr != nil {
		w.log.Warn("transaction aborted: a produce failed; retrying from the last commit", "err", perr)
	} else {
		w.log.Info("transaction aborted (rebalance); retrying from the last commit")
	}
	w.rollback()
	return nil
}

// end ends the open transaction. It finishes even when ctx is cancelled
// (shutdown commits), within the transaction timeout.
func (w *worker) end(ctx context.Context, try kgo.TransactionEndTry) (committed bool, err error) {
	endCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.TransactionTimeout)
	defer cancel()
	return w.sess.End(endCtx, try)
}

// prepare restores, before the transaction opens (so a long restore
// cannot run into its timeout), the state of the partitions this poll
// brings and of all owned partitions that have none yet (restoreOwned).
func (w *worker) prepare(ctx context.Context, fs kgo.Fetches) error {
	var polled []tp
	fs.EachPartition(func(p kgo.FetchTopicPartition) {
		if len(p.Records) > 0 {
			polled = append(polled, tp{p.Topic, p.Partition})
		}
	})
	return w.restoreOwned(ctx, polled)
}

// internalHandler returns what applies the records of a partition of an
// internal topic (partials: its combiner; repartition: its gatherer), nil
// if its state is missing; internal is false for a source topic.
func (w *worker) internalHandler(k tp) (handle func(*kgo.Record), internal bool) {
	if r := w.rs.partials[k.topic]; r != nil {
		if ct := w.combs[k]; ct != nil {
			return func(rec *kgo.Record) { w.handlePartial(ct, rec) }, true
		}
		return nil, true
	}
	if r := w.rs.repartitions[k.topic]; r != nil {
		if gt := w.gathers[k]; gt != nil {
			return func(rec *kgo.Record) { w.handleForwarded(gt, rec) }, true
		}
		return nil, true
	}
	return nil, false
}

// crash is the tests' hook: it drops the client without ending the
// transaction, as a killed process would.
func (w *worker) crash(at string) bool {
	if w.cfg.crash == nil || !w.cfg.crash(at) {
		return false
	}
	w.sess.Client().Close()
	return true
}

// tick moves idle partitions' clocks, closes windows and writes the state
// changes of this transaction to the changelog.
func (w *worker) tick(ctx context.Context, now time.Time) error {
	var latest map[string]time.Time
	for _, pt := range w.tasks {
		if idle := w.cfg.IdleTimeout; idle > 0 && now.Sub(pt.lastSeen) > idle {
			if latest == nil {
				latest = w.latestEventTimes()
			}
			// An idle partition follows the busiest partition of its topic,
			// or, when all are idle, wall time past the idle timeout, in
			// whole steps of the timeout: both from the event times real
			// events brought, so the clock does not feed on its own moves,
			// and one step per timeout means one marker per timeout, not
			// one per transaction (each marker is a record to read back).
			et := latest[pt.tp.topic]
			if !pt.seenET.IsZero() {
				steps := (now.Sub(pt.lastSeen) - idle) / idle
				if x := pt.seenET.Add(steps * idle); x.After(et) {
					et = x
				}
			}
			if !et.IsZero() {
				pt.task.Observe(et)
			}
		}
		w.sink.part, w.sink.cur = pt.tp.part, nil
		pt.task.Advance(&w.sink, now)
		w.sendMarkers(pt)
		w.writeChanges(pt)
	}
	w.tickCombiners()
	w.tickGatherers(now)
	w.sink.logCloseErrors()
	w.gauges(now)
	return nil
}

func (w *worker) latestEventTimes() map[string]time.Time {
	out := map[string]time.Time{}
	for _, pt := range w.tasks {
		if pt.seenET.After(out[pt.tp.topic]) {
			out[pt.tp.topic] = pt.seenET
		}
	}
	return out
}

func (w *worker) gauges(now time.Time) {
	for _, r := range w.rs.all {
		if r.IsFilter() {
			continue
		}
		size := 0
		var low time.Time
		for _, pt := range w.tasks {
			for i, rr := range pt.task.Rules {
				if rr == r {
					win := pt.task.Windows[i]
					size += win.Size()
					if wm := win.Watermark(); !wm.IsZero() && (low.IsZero() || wm.Before(low)) {
						low = wm
					}
				}
			}
		}
		for _, ct := range w.combs {
			if ct.r == r {
				size += ct.comb.Size()
			}
		}
		for _, gt := range w.gathers {
			if gt.r == r {
				size += gt.g.Size()
			}
		}
		w.m.stateSize.WithLabelValues(r.Name).Set(float64(size))
		if !low.IsZero() {
			w.m.wmLag.WithLabelValues(r.Name).Set(now.Sub(low).Seconds())
		}
	}
}

// committed publishes the counts of a committed transaction.
func (w *worker) committed(n int64) {
	matched := map[string]int64{}
	for _, pt := range w.tasks {
		for i, r := range pt.task.Rules {
			c := &pt.task.Counts[i]
			if c.Evaluated == 0 && c.Errors == 0 {
				continue
			}
			matched[r.Name] += c.Matched
			w.m.evaluated.WithLabelValues(r.Name).Add(float64(c.Evaluated))
			w.m.matched.WithLabelValues(r.Name).Add(float64(c.Matched))
			w.m.ruleErrors.WithLabelValues(r.Name).Add(float64(c.Errors))
			w.m.late.WithLabelValues(r.Name).Add(float64(c.Late))
			*c = rule.Counts{}
		}
	}
	for t, c := range w.sink.consumed {
		w.m.consumed.WithLabelValues(t).Add(float64(c))
	}
	for reason, c := range w.sink.dead {
		w.m.deadLettered.WithLabelValues(reason).Add(float64(c))
	}
	for r, ce := range w.sink.closing {
		w.m.closeErrors.WithLabelValues(r.Name).Add(float64(ce.n))
	}
	w.cfg.Stats.add(n, w.sink.produced(), matched)
	w.sink.reset()
}

// rollback drops all state after an aborted transaction; the consumer
// rewinds to the committed offsets, and the next transaction's prepare
// reads the state of the partitions still owned back from the changelog.
func (w *worker) rollback() {
	w.tasks, w.combs, w.gathers = map[tp]*partTask{}, map[tp]*combTask{}, map[tp]*gatherTask{}
	w.sink.reset()
}
