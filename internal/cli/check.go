package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/internal/kclient"
)

func newCheckCmd() *cobra.Command {
	var (
		kc      kclient.Config
		topics  []string
		timeout time.Duration
	)
	c := &cobra.Command{
		Use:   "check",
		Short: "Check that the brokers accept these TLS/SASL settings and that topics exist",
		Long: `Connects to the brokers with the same Kafka flags every worker takes,
prints the brokers and topics it sees, and exits non-zero with the reason
when TLS or authentication fails or a topic given with --topics is missing.
Run it after a deploy, or as an init container, before starting the workers.`,
		Example: `  sluice check --brokers 127.0.0.1:9092 --topics clickstream
  sluice check --brokers b-1.mycluster.abc123.c2.kafka.eu-west-1.amazonaws.com:9098 --sasl-mechanism aws-msk-iam`,
		Annotations: map[string]string{noPreflight: "check connects itself"},
		Args:        noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
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
			cl, err := kgo.NewClient(opts...)
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
			names := md.Topics.Names()
			slices.Sort(names)
			for _, t := range names {
				if !strings.HasPrefix(t, "__") {
					fmt.Fprintf(out, "topic %s partitions=%d\n", t, len(md.Topics[t].Partitions))
				}
			}
			var missing []string
			for _, t := range topics {
				if _, ok := md.Topics[t]; !ok || md.Topics[t].Err != nil {
					missing = append(missing, t)
				}
			}
			if len(missing) > 0 {
				return fmt.Errorf("missing topics: %s", strings.Join(missing, ", "))
			}
			fmt.Fprintln(out, "ok")
			return nil
		},
	}
	kc.AddFlags(c.Flags())
	c.Flags().StringSliceVar(&topics, "topics", nil, "topics that must exist, comma separated")
	c.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "give up connecting after this long")
	return c
}
