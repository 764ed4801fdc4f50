package processor

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// partitionCounts returns the partition count of each source topic.
func partitionCounts(ctx context.Context, adm *kadm.Client, topics []string) (map[string]int32, error) {
	td, err := adm.ListTopics(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("listing source topics: %w", err)
	}
	out := map[string]int32{}
	for _, t := range topics {
		d, ok := td[t]
		if !ok || d.Err != nil || len(d.Partitions) == 0 {
			return nil, fmt.Errorf("source topic %s does not exist (create it, or start the producer first)", t)
		}
		out[t] = int32(len(d.Partitions))
	}
	return out, nil
}

// ensureTopics creates the topics that do not exist yet. It asks to create
// each one and then checks they all exist, rather than listing first: the
// embedded broker answers metadata for a topic it was asked about before
// its creation as unknown ever after.
func ensureTopics(ctx context.Context, adm *kadm.Client, partitions int32, configs map[string]*string, topics ...string) error {
	if len(topics) == 0 {
		return nil
	}
	resp, err := adm.CreateTopics(ctx, partitions, -1, configs, topics...)
	if err != nil {
		return fmt.Errorf("creating topics %v: %w", topics, err)
	}
	td, err := adm.ListTopics(ctx, topics...)
	if err != nil {
		return fmt.Errorf("listing topics: %w", err)
	}
	for _, t := range topics {
		if d, ok := td[t]; !ok || d.Err != nil || len(d.Partitions) == 0 {
			cerr := resp[t].Err
			if cerr == nil || errors.Is(cerr, kerr.TopicAlreadyExists) {
				cerr = d.Err
			}
			return fmt.Errorf("topic %s does not exist and could not be created: %v %s", t, cerr, resp[t].ErrMessage)
		}
	}
	return nil
}
