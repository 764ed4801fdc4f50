package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/internal/kclient"
)

func newCheckCmd() *cobra.Command {
	var (
		kc      kclient.Config
		topics  []string
		timeout time.Duration
		create  bool
		compact []string
		parts   int32
		rf      int16
	)
	c := &cobra.Command{
		Use:   "check",
		Short: "Check that the brokers accept these TLS/SASL settings and that topics exist",
		Long: `Connects to the brokers with the same Kafka flags every worker takes,
prints the brokers and topics it sees, and exits non-zero with the reason
when TLS or authentication fails or a topic given with --topics is missing.
Run it after a deploy, or as an init container, before starting the workers.`,
		Example: `  sluice check --brokers 127.0.0.1:9092 --topics clickstream
  sluice check --brokers broker:9092 --topics clickstream,clickstream.dead --create --partitions 12
  sluice check --brokers b-1.mycluster.abc123.c2.kafka.eu-west-1.amazonaws.com:9098 --sasl-mechanism aws-msk-iam`,
		Annotations: map[string]string{noPreflight: "check connects itself"},
		Args:        noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			topics = append(topics, compact...)
			if err := kc.Validate(); err != nil {
				return usageErr(err)
			}
			if err := kc.Check(c.Context(), timeout); err != nil {
				return err
			}
			opts, err := kc.Opts()
			if err != nil {
				return err
			}
			// A short metadata age: kgo otherwise answers metadata from a
			// cache up to 5s old, which hides topics just created.
			cl, err := kgo.NewClient(append(opts, kgo.MetadataMinAge(100*time.Millisecond))...)
			if err != nil {
				return fmt.Errorf("creating the Kafka client: %w", err)
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(c.Context(), timeout)
			defer cancel()
			md, err := kadm.NewClient(cl).Metadata(ctx)
			if err != nil {
				return fmt.Errorf("reading metadata: %w", err)
			}
			out := c.OutOrStdout()
			for _, b := range md.Brokers {
				fmt.Fprintf(out, "broker %d %s:%d\n", b.NodeID, b.Host, b.Port)
			}
			if create {
				adm := kadm.NewClient(cl)
				if err := createMissing(ctx, adm, md, topics[:len(topics)-len(compact)], parts, rf, nil, out); err != nil {
					return err
				}
				if err := createMissing(ctx, adm, md, compact, parts, rf, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, out); err != nil {
					return err
				}
				// Metadata catches up with a creation shortly after it.
				for {
					if md, err = kadm.NewClient(cl).Metadata(ctx); err != nil {
						return fmt.Errorf("reading metadata: %w", err)
					}
					if len(missingTopics(md, topics)) == 0 {
						break
					}
					select {
					case <-ctx.Done():
						return fmt.Errorf("created topics not visible yet: %w", ctx.Err())
					case <-time.After(100 * time.Millisecond):
					}
				}
			}
			names := md.Topics.Names()
			slices.Sort(names)
			for _, t := range names {
				if !strings.HasPrefix(t, "__") {
					fmt.Fprintf(out, "topic %s partitions=%d\n", t, len(md.Topics[t].Partitions))
				}
			}
			if missing := missingTopics(md, topics); len(missing) > 0 {
				return fmt.Errorf("missing topics: %s", strings.Join(missing, ", "))
			}
			fmt.Fprintln(out, "ok")
			return nil
		},
	}
	kc.AddFlags(c.Flags())
	c.Flags().StringSliceVar(&topics, "topics", nil, "topics that must exist, comma separated")
	c.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "give up connecting after this long")
	c.Flags().BoolVar(&create, "create", false, "create the --topics and --compacted topics that do not exist")
	c.Flags().StringSliceVar(&compact, "compacted", nil, "topics that must exist, created compacted (cleanup.policy=compact) with --create: the processor's window-state changelogs")
	c.Flags().Int32Var(&parts, "partitions", 6, "partitions of topics created with --create")
	c.Flags().Int16Var(&rf, "replication-factor", -1, "replication factor of topics created with --create (-1: the broker default)")
	return c
}

// createMissing creates the wanted topics the metadata does not show.
func createMissing(ctx context.Context, adm *kadm.Client, md kadm.Metadata, want []string, parts int32, rf int16, configs map[string]*string, out io.Writer) error {
	missing := missingTopics(md, want)
	if len(missing) == 0 {
		return nil
	}
	res, err := adm.CreateTopics(ctx, parts, rf, configs, missing...)
	if err != nil {
		return fmt.Errorf("creating topics: %w", err)
	}
	for _, r := range res.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("creating topic %s: %w", r.Topic, r.Err)
		}
		fmt.Fprintf(out, "created topic %s\n", r.Topic)
	}
	return nil
}

func missingTopics(md kadm.Metadata, want []string) []string {
	var missing []string
	for _, t := range want {
		if d, ok := md.Topics[t]; !ok || d.Err != nil {
			missing = append(missing, t)
		}
	}
	return missing
}
