package processor

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// idlePoll bounds the wait for a first record: with none, the worker still
// runs a transaction that often, to close windows of idle partitions and
// emit early results.
const idlePoll = 250 * time.Millisecond

// poll gathers one transaction's input. Each transaction has costs of its
// own: a marker for each moved watermark to every partition of every
// partials and repartition topic, a batch for each output partition, the
// broker's commit marker on every partition written; and a group touched
// in two transactions writes two changelog entries, in one only one. With
// one poll a transaction, a slow input (a few records a fetch) paid them
// for a handful of events, over a hundred times a second. So, as Kafka
// Streams' commit.interval.ms does, the worker keeps polling until
// CommitInterval has passed since it began or MaxPollRecords have come,
// and one transaction takes them all. A backlog fills MaxPollRecords at
// the first poll, so it is not held back.
//
// Polling needs no open transaction: prepare still restores whatever the
// gathered partitions need before the transaction begins. The offsets of
// every record polled are committed with the transaction that processes
// them (GroupTransactSession.End), so nothing polled is skipped.
func (w *worker) poll(ctx context.Context) kgo.Fetches {
	start := time.Now()
	pollCtx, cancel := context.WithTimeout(ctx, idlePoll)
	fs := w.sess.PollRecords(pollCtx, w.cfg.MaxPollRecords)
	cancel()
	n := fs.NumRecords()
	for n > 0 && n < w.cfg.MaxPollRecords && ctx.Err() == nil && !fs.IsClientClosed() {
		left := w.cfg.CommitInterval - time.Since(start)
		if left <= 0 {
			break
		}
		pollCtx, cancel := context.WithTimeout(ctx, left)
		more := w.sess.PollRecords(pollCtx, w.cfg.MaxPollRecords-n)
		cancel()
		fs = append(fs, more...)
		n += more.NumRecords()
	}
	return fs
}

// fetchWaitOpts let the broker hold a fetch until a MiB has come or the
// commit interval has passed (Kafka's fetch.min.bytes and
// fetch.max.wait.ms): a slow input then comes in a few fetches a
// transaction, not one for every record the producers send, each a
// request for the broker and the client. A backlog has the MiB at once.
func (w *worker) fetchWaitOpts() []kgo.Opt {
	if w.cfg.CommitInterval <= 0 {
		return nil
	}
	return []kgo.Opt{kgo.FetchMinBytes(1 << 20), kgo.FetchMaxWait(max(w.cfg.CommitInterval, 10*time.Millisecond))}
}
