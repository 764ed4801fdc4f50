package connector

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// revokeWait bounds the flush done in a revoke: the group waits for us (the
// rebalance timeout is 60 s by default), so the flush must end well before.
const revokeWait = 30 * time.Second

// onRevoked runs when partitions move to another member in an orderly
// rebalance. We still own them until we return, so their open batches are
// flushed and committed here: the next owner starts right after them
// instead of redoing up to a full flush interval of work. If the flush
// fails, the batches are dropped uncommitted and the next owner rewrites
// the same objects. With BlockRebalanceOnPoll this only runs between polls.
func (s *sink) onRevoked(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.crashed {
		return
	}
	fctx, cancel := context.WithTimeout(ctx, revokeWait)
	defer cancel()
	for topic, parts := range revoked {
		for _, p := range parts {
			tp := topicPartition{topic, p}
			ps := s.parts[tp]
			if ps == nil {
				continue
			}
			if err := s.flush(fctx, ps, "revoke"); err != nil {
				s.cfg.Log.Warn("flush on revoke failed; the next owner replays the batch", "topic", topic, "partition", p, "err", err)
				s.drop(ps)
			}
			delete(s.parts, tp)
		}
	}
}

// onLost runs when partitions were taken from us without a revoke (session
// expired): another member may already own them, so nothing is written or
// committed; the open batches are dropped and the new owner replays them.
func (s *sink) onLost(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for topic, parts := range lost {
		for _, p := range parts {
			tp := topicPartition{topic, p}
			if ps := s.parts[tp]; ps != nil {
				s.drop(ps)
				delete(s.parts, tp)
			}
		}
	}
}
