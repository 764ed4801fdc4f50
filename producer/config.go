// Package producer puts events on a topic: a schema-driven generator of
// synthetic load (Generate), a replayer of NDJSON or Firehose-style
// concatenated JSON files (Replay) and an HTTP collector (Collect). Every
// record is produced with acks=all by an idempotent franz-go producer, keyed
// by the schema's key column so kafka-go's Murmur2Balancer agrees on the
// partition.
package producer

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/internal/kclient"
	"github.com/sluicehq/sluice/schema"
)

// Stats counts records as the broker answers for them.
type Stats struct {
	Produced atomic.Int64 // acknowledged by the broker (acks=all)
	Failed   atomic.Int64 // given up on after retries or the delivery timeout
	Invalid  atomic.Int64 // replay/collect: events that did not match the schema
}

// GenConfig configures the generator.
type GenConfig struct {
	Kafka  kclient.Config
	Schema *schema.Schema
	Topic  string // default Schema.Topic

	Rate     float64       // events per second, token bucket; 0 = as fast as the broker takes them
	Count    int64         // stop after this many events; 0 = no limit
	Duration time.Duration // stop after this long; 0 = no limit

	// Seed makes the events reproducible; 0 picks a random seed (Validate
	// stores it, and Generate logs it so the run can be repeated).
	Seed int64
	// Start is the event-time origin. When set, event i happens at
	// Start + i*Interval (+ jitter below Interval) and the output is
	// reproducible byte for byte. When zero, events carry the wall clock.
	Start time.Time
	// Interval is the event-time spacing with Start; default 1/Rate, or 1ms
	// when Rate is 0.
	Interval time.Duration

	Users    int     // size of the user pool; default 1000
	UserDist string  // uniform (default) or zipf
	ZipfS    float64 // zipf exponent, > 1; default 1.1

	// LateFraction of events get an event time up to MaxDelay in the past
	// (out of order and possibly late for windows); default 0, MaxDelay 2m.
	LateFraction float64
	MaxDelay     time.Duration

	// Weights overrides the weights of weighted or enum columns: column path
	// (e.g. "event_name") -> value -> weight.
	Weights map[string]map[string]float64

	Compression     string        // none, gzip, snappy (default), lz4, zstd
	DeliveryTimeout time.Duration // a record not acknowledged within this fails; default 30s

	Log      *slog.Logger
	Reg      prometheus.Registerer // nil: no metrics
	Stats    *Stats                // nil: allocated
	Progress io.Writer             // a live progress line goes here (a terminal); nil: none
	// LogEvery is the period of progress log lines; default 10s, < 0 none.
	LogEvery time.Duration
}

// Errors of GenConfig.Validate.
var (
	ErrNoSchema   = errors.New("no schema given")
	ErrNoTopic    = errors.New("no topic given")
	ErrBadRate    = errors.New("--rate must be a finite number >= 0")
	ErrBadCount   = errors.New("--count must be >= 0")
	ErrBadUsers   = errors.New("--users must be > 0")
	ErrBadLate    = errors.New("--late-fraction must be between 0 and 1")
	ErrBadTimeout = errors.New("durations must be >= 0")
)

// Validate checks the configuration and fills defaults.
func (c *GenConfig) Validate() error {
	if err := c.Kafka.Validate(); err != nil {
		return err
	}
	if err := c.validateGen(); err != nil {
		return err
	}
	if c.Topic == "" {
		return ErrNoTopic
	}
	if err := deliveryDefaults(&c.Compression, &c.DeliveryTimeout, &c.LogEvery); err != nil {
		return err
	}
	return nil
}

// validateGen checks and defaults what the event source needs (no Kafka).
func (c *GenConfig) validateGen() error {
	if c.Schema == nil {
		return ErrNoSchema
	}
	if c.Topic == "" {
		c.Topic = c.Schema.Topic
	}
	if !validRate(c.Rate) {
		return ErrBadRate
	}
	if c.Count < 0 {
		return ErrBadCount
	}
	if c.Duration < 0 || c.MaxDelay < 0 || c.Interval < 0 {
		return ErrBadTimeout
	}
	if c.Users == 0 {
		c.Users = 1000
	}
	if c.Users < 0 {
		return ErrBadUsers
	}
	if c.UserDist == "" {
		c.UserDist = DistUniform
	}
	if c.UserDist != DistUniform && c.UserDist != DistZipf {
		return fmt.Errorf("--user-dist %q: want %s or %s", c.UserDist, DistUniform, DistZipf)
	}
	if c.ZipfS == 0 {
		c.ZipfS = 1.1
	}
	if c.UserDist == DistZipf && c.ZipfS <= 1 {
		return fmt.Errorf("--zipf-s %g must be greater than 1", c.ZipfS)
	}
	if c.LateFraction < 0 || c.LateFraction > 1 || math.IsNaN(c.LateFraction) {
		return ErrBadLate
	}
	if c.MaxDelay == 0 {
		c.MaxDelay = 2 * time.Minute
	}
	if c.Interval == 0 {
		c.Interval = time.Millisecond
		if c.Rate > 0 {
			c.Interval = time.Duration(float64(time.Second) / c.Rate)
		}
	}
	if c.Interval <= 0 {
		c.Interval = time.Nanosecond
	}
	if c.Seed == 0 {
		c.Seed = time.Now().UnixNano() & math.MaxInt32
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Stats == nil {
		c.Stats = &Stats{}
	}
	return nil
}

// validRate: a finite rate >= 0. "rate < 0" alone lets NaN through (every
// comparison with NaN is false), and the limiter never waits at NaN or +Inf.
func validRate(r float64) bool {
	return r >= 0 && !math.IsInf(r, 1)
}

func validCompression(s string) error {
	_, err := kclient.Compression(s)
	return err
}

// deliveryDefaults checks and fills the produce settings the generator and
// replay share: compression (snappy), delivery timeout (30s) and the period
// of progress log lines (10s).
func deliveryDefaults(compression *string, timeout, logEvery *time.Duration) error {
	if err := validCompression(*compression); err != nil {
		return err
	}
	if *compression == "" {
		*compression = "snappy"
	}
	if *timeout < 0 {
		return ErrBadTimeout
	}
	if *timeout == 0 {
		*timeout = 30 * time.Second
	}
	if *logEvery == 0 {
		*logEvery = 10 * time.Second
	}
	return nil
}
