package producer

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/internal/kclient"
	"github.com/sluicehq/sluice/schema"
)

// CollectConfig configures the HTTP collector.
type CollectConfig struct {
	Kafka  kclient.Config
	Schema *schema.Schema
	Topic  string // default Schema.Topic
	// DeadLetterTopic receives rejected events with the reason in headers;
	// default <Topic>.deadletter, created when missing.
	DeadLetterTopic string

	Listen   string       // default :8080
	Listener net.Listener // use this instead of listening on Listen (tests, `sluice dev`)

	MaxBody          int64         // request body limit, compressed and decompressed; default 1 MiB
	MaxEventBytes    int           // one event's limit; default 64 KiB
	MaxInFlightBytes int64         // bodies being handled at once; past it: 503; default 64 MiB
	MaxConns         int           // open connections; default 1024
	ReadTimeout      time.Duration // to read a request, headers and body; default 10s
	AckTimeout       time.Duration // to get the broker's acks for a request; default 10s
	DrainTimeout     time.Duration // to finish in-flight requests at shutdown; default 15s
	RetryAfter       time.Duration // Retry-After of 503 answers; default 1s

	// WriteKeys, when set, are the accepted keys (Authorization: Bearer KEY
	// or X-Write-Key: KEY).
	WriteKeys []string
	// TrustedProxies may set X-Forwarded-For; the client address is the
	// first one, from the right, not in these prefixes.
	TrustedProxies []netip.Prefix

	Compression string

	Log      *slog.Logger
	Reg      prometheus.Registerer
	Gatherer prometheus.Gatherer // serves /metrics; default Reg when it is a *prometheus.Registry
	Stats    *Stats
}

// Validate checks the configuration and fills defaults.
func (c *CollectConfig) Validate() error {
	if err := c.Kafka.Validate(); err != nil {
		return err
	}
	if c.Schema == nil {
		return ErrNoSchema
	}
	if c.Topic == "" {
		c.Topic = c.Schema.Topic
	}
	if c.DeadLetterTopic == "" {
		c.DeadLetterTopic = c.Topic + ".deadletter"
	}
	if c.Listen == "" {
		c.Listen = ":8080"
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil && c.Listener == nil {
		return fmt.Errorf("--listen %q: %w", c.Listen, err)
	}
	def := func(v *int64, d int64, name string) error {
		if *v < 0 {
			return fmt.Errorf("%s must be >= 0", name)
		}
		if *v == 0 {
			*v = d
		}
		return nil
	}
	if err := def(&c.MaxBody, 1<<20, "--max-body"); err != nil {
		return err
	}
	if err := def(&c.MaxInFlightBytes, 64<<20, "--max-in-flight-bytes"); err != nil {
		return err
	}
	if c.MaxInFlightBytes < c.MaxBody {
		return errors.New("--max-in-flight-bytes must be at least --max-body")
	}
	if c.MaxEventBytes < 0 || c.MaxConns < 0 {
		return errors.New("--max-event-bytes and --max-conns must be >= 0")
	}
	if c.MaxEventBytes == 0 {
		c.MaxEventBytes = 64 << 10
	}
	if c.MaxConns == 0 {
		c.MaxConns = 1024
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&c.ReadTimeout, 10 * time.Second}, {&c.AckTimeout, 10 * time.Second}, {&c.DrainTimeout, 15 * time.Second}, {&c.RetryAfter, time.Second}} {
		if *d.v < 0 {
			return ErrBadTimeout
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	for i, k := range c.WriteKeys {
		c.WriteKeys[i] = strings.TrimSpace(k)
		if c.WriteKeys[i] == "" {
			return errors.New("--write-keys: empty key")
		}
	}
	if err := validCompression(c.Compression); err != nil {
		return err
	}
	if c.Compression == "" {
		c.Compression = "snappy"
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Stats == nil {
		c.Stats = &Stats{}
	}
	if c.Gatherer == nil {
		if g, ok := c.Reg.(prometheus.Gatherer); ok {
			c.Gatherer = g
		}
	}
	return nil
}
