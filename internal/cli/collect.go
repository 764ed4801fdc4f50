package cli

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/producer"
	"github.com/sluicehq/sluice/schema"
)

func newCollectCmd() *cobra.Command {
	var (
		cfg       producer.CollectConfig
		obs       obsFlags
		schemaArg string
		keysFile  string
		keys      []string
		proxies   []string
	)
	c := &cobra.Command{
		Use:   "collect",
		Short: "HTTP ingest: POST events, answered 202 only once the broker has them",
		Long: `Serves POST /v1/events: one JSON object, a JSON array (Content-Type:
application/json) or NDJSON (application/x-ndjson), optionally gzip-encoded.
Every event is validated against the schema; the server fills the insertion
time and the client address (the columns whose gen kind is insertion_time or
user_ip).

Answers: 202 when every event was acknowledged by the broker (acks=all);
207 when some events were invalid (the valid ones are durable, the body
lists each rejected index and reason); 400 when none was valid; 413 over
--max-body or --max-event-bytes; 401 without a valid write key; 503 with
Retry-After when the broker is unreachable, does not acknowledge within
--ack-timeout, or --max-in-flight-bytes is spent. Rejected events also go
to the dead-letter topic with the reason in headers.

Also serves /healthz, /readyz (broker reachable, topics present) and /metrics.`,
		Example: `  sluice collect --brokers 127.0.0.1:9092 --listen :8080
  curl -X POST localhost:8080/v1/events -H 'Content-Type: application/x-ndjson' --data-binary @events.ndjson
  SLUICE_WRITE_KEYS=k1,k2 sluice collect --trusted-proxies 10.0.0.0/8`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			s, err := schema.Resolve(schemaArg)
			if err != nil {
				return usageErr(fmt.Errorf("--schema: %w", err))
			}
			cfg.Schema = s
			cfg.WriteKeys = append(cfg.WriteKeys, keys...)
			if keysFile != "" {
				fk, err := readKeys(keysFile)
				if err != nil {
					return usageErr(err)
				}
				cfg.WriteKeys = append(cfg.WriteKeys, fk...)
			}
			for _, p := range proxies {
				pfx, err := netip.ParsePrefix(p)
				if err != nil {
					a, aerr := netip.ParseAddr(p)
					if aerr != nil {
						return usageErr(fmt.Errorf("--trusted-proxies %q: not a CIDR prefix or address", p))
					}
					pfx = netip.PrefixFrom(a, a.BitLen())
				}
				cfg.TrustedProxies = append(cfg.TrustedProxies, pfx)
			}
			if err := cfg.Validate(); err != nil {
				return usageErr(err)
			}
			rt, err := obs.start(c)
			if err != nil {
				return err
			}
			defer rt.close()
			cfg.Log, cfg.Reg, cfg.Gatherer = rt.log, rt.reg, rt.reg
			return producer.Collect(c.Context(), cfg)
		},
	}
	f := c.Flags()
	cfg.Kafka.AddFlags(f)
	f.StringVar(&schemaArg, "schema", "clickstream", "schema: a built-in name ("+strings.Join(schema.Builtin(), ", ")+") or a schema file")
	f.StringVar(&cfg.Topic, "topic", "", "topic to write (default: the schema's topic)")
	f.StringVar(&cfg.DeadLetterTopic, "deadletter-topic", "", "topic for rejected events (default <topic>.deadletter, created if missing)")
	f.StringVar(&cfg.Listen, "listen", ":8080", "address to serve on")
	f.Int64Var(&cfg.MaxBody, "max-body", 1<<20, "request body limit in bytes, before and after gzip decoding")
	f.IntVar(&cfg.MaxEventBytes, "max-event-bytes", 64<<10, "limit of one event in bytes")
	f.Int64Var(&cfg.MaxInFlightBytes, "max-in-flight-bytes", 64<<20, "bodies held at once, in bytes; past it requests get 503")
	f.IntVar(&cfg.MaxConns, "max-conns", 1024, "open connections at most")
	f.DurationVar(&cfg.ReadTimeout, "read-timeout", 10*time.Second, "time to read a request (slow clients are cut off)")
	f.DurationVar(&cfg.AckTimeout, "ack-timeout", 10*time.Second, "time to wait for the broker's acks before answering 503")
	f.DurationVar(&cfg.DrainTimeout, "drain-timeout", 15*time.Second, "at shutdown, time to finish in-flight requests")
	f.DurationVar(&cfg.RetryAfter, "retry-after", time.Second, "Retry-After of 503 answers")
	f.StringSliceVar(&keys, "write-keys", nil, "accepted write keys, comma separated (prefer SLUICE_WRITE_KEYS or --write-keys-file)")
	f.StringVar(&keysFile, "write-keys-file", "", "file of accepted write keys, one per line (# comments)")
	f.StringSliceVar(&proxies, "trusted-proxies", nil, "CIDR prefixes of proxies whose X-Forwarded-For is believed")
	f.StringVar(&cfg.Compression, "compression", "snappy", "batch compression: none, gzip, snappy, lz4 or zstd")
	obs.add(c, "")
	return c
}

func readKeys(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading --write-keys-file: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading --write-keys-file: %w", err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--write-keys-file %s: no keys", path)
	}
	return out, nil
}
