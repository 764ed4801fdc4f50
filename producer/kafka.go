package producer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/internal/kclient"
)

// ErrUnknownTopic is returned when the topic to write does not exist.
var ErrUnknownTopic = errors.New("topic does not exist")

// newProducer returns an idempotent, acks=all franz-go producer. Records
// are keyed; kgo's default partitioner hashes keys with murmur2 like the
// Java client and kafka-go's Murmur2Balancer.
func newProducer(k kclient.Config, compression string, deliveryTimeout time.Duration, extra ...kgo.Opt) (*kgo.Client, error) {
	opts, err := k.Opts()
	if err != nil {
		return nil, err
	}
	opts = append(opts,
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerBatchCompression(codec(compression)),
		kgo.ProducerLinger(0),
	)
	if deliveryTimeout > 0 {
		opts = append(opts, kgo.RecordDeliveryTimeout(deliveryTimeout))
	}
	opts = append(opts, extra...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("creating Kafka producer: %w", err)
	}
	return cl, nil
}

func codec(name string) kgo.CompressionCodec {
	c, _ := kclient.Compression(name) // validated with the config
	return c
}

// checkTopics fails fast, with a clear error, when a topic is missing or
// the brokers cannot be reached, instead of retrying records until their
// delivery timeout.
func checkTopics(ctx context.Context, cl *kgo.Client, timeout time.Duration, topics ...string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	details, err := kadm.NewClient(cl).ListTopics(ctx, topics...)
	if err != nil {
		return fmt.Errorf("reading metadata of topic %v from the brokers: %w", topics, err)
	}
	for _, t := range topics {
		d, ok := details[t]
		if !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
			return fmt.Errorf("%w: %q (create it, or start `sluice broker --topics %s`)", ErrUnknownTopic, t, t)
		}
		if d.Err != nil {
			return fmt.Errorf("topic %q: %w", t, d.Err)
		}
	}
	return nil
}

// ensureTopic creates topic when it is missing (dead-letter topics), with
// the broker's default partition count.
func ensureTopic(ctx context.Context, cl *kgo.Client, timeout time.Duration, topic string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	adm := kadm.NewClient(cl)
	details, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return fmt.Errorf("reading metadata of topic %q: %w", topic, err)
	}
	if d, ok := details[topic]; ok && d.Err == nil {
		return nil
	}
	resp, err := adm.CreateTopic(ctx, -1, -1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("creating topic %q: %w", topic, err)
	}
	return nil
}
