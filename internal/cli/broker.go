package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/schema"
)

func newBrokerCmd() *cobra.Command {
	var (
		cfg   broker.Config
		obs   obsFlags
		users []string
		tlsF  struct{ cert, key, clientCA string }
	)
	c := &cobra.Command{
		Use:   "broker",
		Short: "Run the embedded Kafka-compatible broker on its own",
		Long: `Runs the embedded Kafka-compatible broker (franz-go kfake): the real Kafka
wire protocol with consumer groups, idempotent and transactional producers,
SASL and TLS. Any Kafka client (kcat, kafka-go, other sluice commands) can use it.`,
		Example: `  sluice broker --listen 127.0.0.1:9092 --data-dir ./data
  sluice broker --listen 0.0.0.0:9092 --advertise broker:9092   # inside a container
  SLUICE_SASL_USER=SCRAM-SHA-512:sluice:s3cret sluice broker --tls-cert broker.pem --tls-key broker-key.pem`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			for _, u := range users {
				parts := strings.SplitN(u, ":", 3)
				if len(parts) != 3 {
					return usageErr(fmt.Errorf("--sasl-user wants MECHANISM:NAME:PASSWORD")) // the value may hold a password: never echo it
				}
				cfg.Users = append(cfg.Users, broker.User{Mechanism: parts[0], Name: parts[1], Password: parts[2]})
			}
			tc, err := broker.ServerTLS(tlsF.cert, tlsF.key, tlsF.clientCA)
			if err != nil {
				return usageErr(err)
			}
			cfg.TLS = tc
			if err := cfg.Validate(); err != nil {
				return usageErr(err)
			}
			rt, err := obs.start(c)
			if err != nil {
				return err
			}
			defer rt.close()
			cfg.Log = rt.log
			return broker.Run(c.Context(), cfg)
		},
	}
	f := c.Flags()
	f.StringVar(&cfg.Listen, "listen", "127.0.0.1:9092", "address to bind (0.0.0.0:9092 to accept remote clients)")
	f.StringVar(&cfg.Advertise, "advertise", "", "address clients are told to use (default: the bound address)")
	f.StringVar(&cfg.DataDir, "data-dir", "", "persist topics, offsets and groups here across restarts (default: in memory)")
	f.StringSliceVar(&cfg.Topics, "topics", defaultTopics(), "topics to create at start")
	f.Int32Var(&cfg.Partitions, "partitions", 6, "partitions of each created topic")
	f.StringArrayVar(&users, "sasl-user", nil, "enable SASL with this user, MECHANISM:NAME:PASSWORD (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512); repeatable; prefer SLUICE_SASL_USER")
	f.StringVar(&tlsF.cert, "tls-cert", "", "serve TLS with this certificate PEM file")
	f.StringVar(&tlsF.key, "tls-key", "", "private key PEM file of --tls-cert")
	f.StringVar(&tlsF.clientCA, "tls-client-ca", "", "require client certificates signed by a CA in this PEM file (mutual TLS)")
	obs.add(c, "")
	return c
}

// defaultTopics are the topics of the built-in schemas.
func defaultTopics() []string {
	var out []string
	for _, n := range schema.Builtin() {
		if s, err := schema.Resolve(n); err == nil {
			out = append(out, s.Topic)
		}
	}
	return out
}
