package connector

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// A commit that fails after a durable flush leaves the group's offset at
// the start of that batch. If the sink went on, the next batch's files
// would be named from offsets the replay does not start at: after a crash
// the replay from the old commit puts those records in files named by the
// earlier batch and the later batch's files stay, so records are in the
// lake twice. Here the commit of offset 100 fails once, the sink is killed
// right after it wrote the file starting at 100 (if it ever writes one),
// and a restart with other rotation settings must leave every record
// exactly once.
func TestCommitFailureAfterFlushExactlyOnce(t *testing.T) {
	b := startBroker(t, 1, "clickstream")
	const n = 300
	produce(t, b, "clickstream", clickEvents(n, time.Millisecond)) // one hour folder
	b.Cluster().ControlKey(int16(kmsg.OffsetCommit), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		req := kr.(*kmsg.OffsetCommitRequest)
		if len(req.Topics) != 1 || len(req.Topics[0].Partitions) != 1 || req.Topics[0].Partitions[0].Offset != 100 {
			return nil, nil, false // let the broker handle it; keep watching
		}
		resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
		resp.Version = req.Version
		rt := kmsg.NewOffsetCommitResponseTopic()
		rt.Topic, rt.TopicID = req.Topics[0].Topic, req.Topics[0].TopicID
		rp := kmsg.NewOffsetCommitResponseTopicPartition()
		rp.Partition, rp.ErrorCode = req.Topics[0].Partitions[0].Partition, kerr.UnknownServerError.Code
		rt.Partitions = append(rt.Partitions, rp)
		resp.Topics = append(resp.Topics, rt)
		return resp, nil, true // fail this one commit only
	})

	dir := t.TempDir()
	cfg := func(records int64, hooks *testHooks) Config {
		return Config{Kafka: kafkaCfg(b), Group: "commitfail", To: "file://" + dir, Tables: clickTable(t),
			FlushRecords: records, FlushInterval: time.Hour, hooks: hooks}
	}
	hooks := &testHooks{afterPut: func(key string) bool { return strings.Contains(key, "+00000000000000000100.") }}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := Run(ctx, cfg(100, hooks))
	t.Logf("first run: %v", err)
	if err == nil {
		t.Fatal("the first run neither stopped on the failed commit nor wrote the next batch")
	}

	stop := runSink(t, cfg(150, nil))
	waitFor(t, "the group to commit everything", 30*time.Second, func() bool {
		return committedAll(t, b, "commitfail", "clickstream")
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	checkExactlyOnce(t, dir, n)
}
