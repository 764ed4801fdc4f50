package producer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"reflect"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/internal/jsonstream"
	"github.com/sluicehq/sluice/internal/kclient"
	"github.com/sluicehq/sluice/internal/telemetry"
	"github.com/sluicehq/sluice/schema"
)

// What replay does with an event that does not match the schema.
const (
	OnInvalidDeadLetter = "deadletter" // write it to the dead-letter topic with the reason (default)
	OnInvalidSkip       = "skip"       // log it and go on
	OnInvalidFail       = "fail"       // stop the replay with an error
)

// Headers of a dead-letter record.
const (
	HeaderError  = "sluice-error"  // why the event was rejected
	HeaderOffset = "sluice-offset" // byte offset in the replayed input
	HeaderLine   = "sluice-line"   // line in the replayed input
	HeaderSource = "sluice-source" // the input file, "-" for stdin, or "collect"
	HeaderTopic  = "sluice-topic"  // the topic the event was meant for
)

// ErrInvalidEvent stops a replay run with --on-invalid=fail.
var ErrInvalidEvent = errors.New("invalid event")

// ReplayConfig configures a replay of a file of events.
type ReplayConfig struct {
	Kafka  kclient.Config
	Schema *schema.Schema
	Topic  string // default Schema.Topic

	From   string    // file to read; "-" (with Reader) for stdin
	Reader io.Reader // read this instead of opening From

	OnInvalid       string // deadletter (default), skip or fail
	DeadLetterTopic string // default <Topic>.deadletter; created when missing
	MaxEventBytes   int    // larger objects stop the replay; default 16 MiB

	Rate  float64 // events per second; 0 = as fast as possible
	Count int64   // stop after this many events; 0 = all

	Compression     string
	DeliveryTimeout time.Duration // default 30s

	Log      *slog.Logger
	Reg      prometheus.Registerer
	Stats    *Stats
	Progress io.Writer
	LogEvery time.Duration // default 10s, < 0 none
}

// Validate checks the configuration and fills defaults.
func (c *ReplayConfig) Validate() error {
	if err := c.Kafka.Validate(); err != nil {
		return err
	}
	if c.Schema == nil {
		return ErrNoSchema
	}
	if c.Topic == "" {
		c.Topic = c.Schema.Topic
	}
	if c.From == "" && c.Reader == nil {
		return errors.New("--from: no file to replay")
	}
	switch c.OnInvalid {
	case "":
		c.OnInvalid = OnInvalidDeadLetter
	case OnInvalidDeadLetter, OnInvalidSkip, OnInvalidFail:
	default:
		return fmt.Errorf("--on-invalid %q: want deadletter, skip or fail", c.OnInvalid)
	}
	if c.DeadLetterTopic == "" {
		c.DeadLetterTopic = c.Topic + ".deadletter"
	}
	if !validRate(c.Rate) {
		return ErrBadRate
	}
	if c.Count < 0 {
		return ErrBadCount
	}
	if err := deliveryDefaults(&c.Compression, &c.DeliveryTimeout, &c.LogEvery); err != nil {
		return err
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Stats == nil {
		c.Stats = &Stats{}
	}
	return nil
}

// prepareTopics fails fast when the topic is missing or, with dead
// letters on, when the dead-letter topic cannot be created: a run that
// went on anyway would lose every invalid event it met.
func prepareTopics(ctx context.Context, cl *kgo.Client, cfg ReplayConfig) error {
	if err := checkTopics(ctx, cl, 15*time.Second, cfg.Topic); err != nil {
		return err
	}
	if cfg.OnInvalid != OnInvalidDeadLetter {
		return nil
	}
	return ensureTopic(ctx, cl, 15*time.Second, cfg.DeadLetterTopic)
}

// Replay produces every valid event of the input to the topic (the bytes
// as read, keyed by the schema's key column) and handles invalid ones as
// OnInvalid says. It returns after every record is acknowledged or failed.
func Replay(ctx context.Context, cfg ReplayConfig) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	in := cfg.Reader
	source := cfg.From
	if in == nil {
		f, err := os.Open(cfg.From)
		if err != nil {
			return fmt.Errorf("opening --from: %w", err)
		}
		defer f.Close()
		in = f
	}
	if source == "" {
		source = "-"
	}
	in, err := jsonstream.Decompress(in)
	if err != nil {
		return err
	}
	cl, err := newProducer(cfg.Kafka, cfg.Compression, cfg.DeliveryTimeout, telemetry.KafkaMetrics("sluice_replay_kafka", cfg.Reg)...)
	if err != nil {
		return err
	}
	if err := prepareTopics(ctx, cl, cfg); err != nil {
		cl.Close()
		return err
	}
	log := cfg.Log.With("component", "replay", "topic", cfg.Topic, "from", source)
	log.Info("replaying", "schema", cfg.Schema.Name, "on_invalid", cfg.OnInvalid, "deadletter_topic", cfg.DeadLetterTopic)
	m := newMetrics(cfg.Reg, "replay")
	snd := newSender(cl, cfg.Stats, m)
	prog := startProgress("replay", cfg.Progress, log, cfg.LogEvery, cfg.Stats)
	grace := cfg.DeliveryTimeout + min(cfg.DeliveryTimeout, 10*time.Second)
	stop := make(chan struct{})
	snd.abandonAfter(stop, grace)

	codec := schema.NewCodec(cfg.Schema)
	keyOf := keyExtractor(codec)
	rec := codec.New()
	zero := reflect.ValueOf(rec).Elem()
	rd := jsonstream.NewObjectReader(in, cfg.MaxEventBytes)
	lim := newLimiter(cfg.Rate)
	var (
		runErr error
		events int64
		keyBuf []byte
	)
	invalid := func(offset int64, line int, reason string, data []byte) bool {
		cfg.Stats.Invalid.Add(1)
		m.invalid.Inc()
		switch cfg.OnInvalid {
		case OnInvalidFail:
			runErr = fmt.Errorf("%w at %s offset %d (line %d): %s", ErrInvalidEvent, source, offset, line, reason)
			return false
		case OnInvalidSkip:
			log.Warn("skipping invalid event", "offset", offset, "line", line, "reason", reason)
		default:
			r := snd.record()
			r.Topic, r.Value = cfg.DeadLetterTopic, snd.copyBytes(data)
			r.Headers = []kgo.RecordHeader{
				{Key: HeaderError, Value: []byte(reason)},
				{Key: HeaderOffset, Value: strconv.AppendInt(nil, offset, 10)},
				{Key: HeaderLine, Value: strconv.AppendInt(nil, int64(line), 10)},
				{Key: HeaderSource, Value: []byte(source)},
				{Key: HeaderTopic, Value: []byte(cfg.Topic)},
			}
			snd.produce(r)
			m.deadLettered.Inc()
		}
		return true
	}
	for cfg.Count == 0 || events < cfg.Count {
		if ctx.Err() != nil || lim.wait(ctx) != nil {
			break
		}
		obj, err := rd.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		var se *jsonstream.SyntaxError
		if errors.As(err, &se) {
			events++
			if !invalid(se.Offset, se.Line, se.Reason, se.Data) {
				break
			}
			continue
		}
		if err != nil {
			runErr = fmt.Errorf("replaying %s: %w", source, err)
			break
		}
		events++
		zero.SetZero()
		if err := codec.DecodeInto(obj.Data, rec); err != nil {
			if !invalid(obj.Offset, obj.Line, err.Error(), obj.Data) {
				break
			}
			continue
		}
		r := snd.record()
		r.Topic, r.Value = cfg.Topic, snd.copyBytes(obj.Data)
		var ok bool
		if keyBuf, ok = keyOf(rec, keyBuf[:0]); ok {
			r.Key = snd.copyBytes(keyBuf)
		}
		snd.produce(r)
	}
	close(stop)
	err = snd.finish(grace, cfg.Topic)
	prog.finish("events", events, "source", source)
	return errors.Join(runErr, err)
}
