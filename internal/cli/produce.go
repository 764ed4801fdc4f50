package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"

	"github.com/sluicehq/sluice/producer"
	"github.com/sluicehq/sluice/schema"
)

func newProduceCmd() *cobra.Command {
	var (
		gen       producer.GenConfig
		rep       producer.ReplayConfig
		obs       obsFlags
		schemaArg string
		start     string
		weights   []string
		progress  string
	)
	c := &cobra.Command{
		Use:   "produce",
		Short: "Generate synthetic events, or replay a file of events, into a topic",
		Long: `Without --from, generates schema-driven synthetic events (the schema's gen:
hints) keyed by the schema's key column. --seed with --start makes the
output reproducible byte for byte; --late-fraction/--max-delay emit late and
out-of-order events on purpose.

With --from FILE (or - for stdin), replays NDJSON or Firehose-style
concatenated JSON objects (gzip detected by its magic bytes), validating
each event against the schema. Invalid events go to the dead-letter topic
(default <topic>.deadletter) with the reason and byte offset in headers,
or are skipped, or stop the run (--on-invalid).

Records are produced with acks=all by an idempotent producer. The command
exits non-zero if any record could not be delivered.`,
		Example: `  sluice produce --brokers 127.0.0.1:9092 --rate 1000 --duration 1m
  sluice produce --schema beer_clicks --count 100000 --seed 7 --start 2024-04-23T10:00:00Z
  sluice produce --users 5000 --user-dist zipf --late-fraction 0.05 --max-delay 5m
  sluice produce --weights event_name=Search:10,Purchase:90 --count 1000
  sluice produce --schema beer_clicks --from PUT-S3-clickstreamdata-1-2024-04-23-10-02-19-...
  zcat events.ndjson.gz | sluice produce --from - --on-invalid skip`,
		Args: noArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			s, err := schema.Resolve(schemaArg)
			if err != nil {
				return usageErr(fmt.Errorf("--schema: %w", err))
			}
			gen.Schema, rep.Schema = s, s
			if err := checkModeFlags(c.Flags(), rep.From != ""); err != nil {
				return usageErr(err)
			}
			if start != "" {
				if gen.Start, err = parseStart(start); err != nil {
					return usageErr(err)
				}
			}
			if gen.Weights, err = parseWeights(weights); err != nil {
				return usageErr(err)
			}
			rep.Kafka, rep.Topic, rep.Rate, rep.Count = gen.Kafka, gen.Topic, gen.Rate, gen.Count
			rep.Compression, rep.DeliveryTimeout = gen.Compression, gen.DeliveryTimeout
			if rep.From != "" {
				if err := rep.Validate(); err != nil {
					return usageErr(err)
				}
			} else if err := gen.Validate(); err != nil {
				return usageErr(err)
			}
			rt, err := obs.start(c)
			if err != nil {
				return err
			}
			defer rt.close()
			w, err := progressWriter(progress, c)
			if err != nil {
				return usageErr(err)
			}
			if rep.From != "" {
				rep.Log, rep.Reg, rep.Progress = rt.log, rt.reg, w
				if rep.From == "-" {
					rep.Reader = c.InOrStdin()
				}
				return producer.Replay(c.Context(), rep)
			}
			gen.Log, gen.Reg, gen.Progress = rt.log, rt.reg, w
			return producer.Generate(c.Context(), gen)
		},
	}
	f := c.Flags()
	gen.Kafka.AddFlags(f)
	f.StringVar(&schemaArg, "schema", "clickstream", "schema: a built-in name ("+strings.Join(schema.Builtin(), ", ")+") or a schema file")
	f.StringVar(&gen.Topic, "topic", "", "topic to write (default: the schema's topic)")
	f.Float64Var(&gen.Rate, "rate", 0, "events per second, steady (token bucket); 0 = as fast as the broker takes them")
	f.Int64Var(&gen.Count, "count", 0, "stop after this many events (0 = no limit)")
	f.DurationVar(&gen.Duration, "duration", 0, "stop after this long (0 = no limit; Ctrl-C also stops, then flushes)")
	f.Int64Var(&gen.Seed, "seed", 0, "random seed; 0 picks one and logs it. With --start the output is reproducible byte for byte")
	f.StringVar(&start, "start", "", "event-time origin (RFC 3339, e.g. 2024-04-23T10:00:00Z); events are spaced by --interval. Default: the wall clock")
	f.DurationVar(&gen.Interval, "interval", 0, "event-time spacing with --start (default 1/rate, or 1ms at --rate 0)")
	f.IntVar(&gen.Users, "users", 1000, "size of the user pool (user ids 1..N)")
	f.StringVar(&gen.UserDist, "user-dist", "uniform", "how users are drawn: uniform or zipf")
	f.Float64Var(&gen.ZipfS, "zipf-s", 1.1, "zipf exponent (> 1): larger = fewer, heavier users")
	f.Float64Var(&gen.LateFraction, "late-fraction", 0, "fraction of events (0..1) given an event time in the past: out of order, possibly late")
	f.DurationVar(&gen.MaxDelay, "max-delay", 2*time.Minute, "how far in the past a late event can be")
	f.StringArrayVar(&weights, "weights", nil, "override a column's value weights, COLUMN=VALUE:W,VALUE:W (repeatable)")
	f.StringVar(&gen.Compression, "compression", "snappy", "batch compression: none, gzip, snappy, lz4 or zstd")
	f.DurationVar(&gen.DeliveryTimeout, "delivery-timeout", 30*time.Second, "a record not acknowledged within this counts as failed")
	f.StringVar(&progress, "progress", "auto", "live progress line on stderr: auto (on a terminal), always or never")
	f.StringVar(&rep.From, "from", "", "replay events from this file (- for stdin): NDJSON or concatenated JSON, gzip or not")
	f.StringVar(&rep.OnInvalid, "on-invalid", "deadletter", "replay: what to do with an invalid event: deadletter, skip or fail")
	f.StringVar(&rep.DeadLetterTopic, "deadletter-topic", "", "replay: dead-letter topic (default <topic>.deadletter, created if missing)")
	obs.add(c, "")
	return c
}

// Flags only one mode reads; the other would ignore them in silence.
var (
	generatorOnly = []string{"duration", "seed", "start", "interval", "users", "user-dist", "zipf-s",
		"late-fraction", "max-delay", "weights"}
	replayOnly = []string{"on-invalid", "deadletter-topic"}
)

// checkModeFlags rejects a flag the chosen mode does not use: a replay
// given --duration would otherwise run to the end of its input, and one
// given --seed would look reproducible.
func checkModeFlags(fs *pflag.FlagSet, replay bool) error {
	names, why := replayOnly, "applies to replay only (--from)"
	if replay {
		names, why = generatorOnly, "applies to the generator only, not with --from"
	}
	for _, n := range names {
		if f := fs.Lookup(n); f != nil && f.Changed {
			return fmt.Errorf("--%s %s", n, why)
		}
	}
	return nil
}

func parseStart(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("--start %q: want RFC 3339 (2024-04-23T10:00:00Z) or a date", s)
}

// parseWeights reads COLUMN=VALUE:W,VALUE:W.
func parseWeights(specs []string) (map[string]map[string]float64, error) {
	if len(specs) == 0 {
		return nil, nil
	}
	out := map[string]map[string]float64{}
	for _, spec := range specs {
		col, list, ok := strings.Cut(spec, "=")
		if !ok || col == "" {
			return nil, fmt.Errorf("--weights %q: want COLUMN=VALUE:W,VALUE:W", spec)
		}
		m := map[string]float64{}
		for _, part := range strings.Split(list, ",") {
			i := strings.LastIndexByte(part, ':')
			if i <= 0 {
				return nil, fmt.Errorf("--weights %q: %q is not VALUE:WEIGHT", spec, part)
			}
			w, err := strconv.ParseFloat(part[i+1:], 64)
			if err != nil || w < 0 {
				return nil, fmt.Errorf("--weights %q: weight %q is not a number >= 0", spec, part[i+1:])
			}
			m[part[:i]] = w
		}
		out[col] = m
	}
	return out, nil
}

// progressWriter is stderr when a live line is wanted there.
func progressWriter(mode string, c *cobra.Command) (io.Writer, error) {
	switch mode {
	case "never":
		return nil, nil
	case "always":
		return os.Stderr, nil
	case "auto", "":
		if c.ErrOrStderr() == os.Stderr && term.IsTerminal(int(os.Stderr.Fd())) {
			return os.Stderr, nil
		}
		return nil, nil
	}
	return nil, errors.New("--progress: want auto, always or never")
}
