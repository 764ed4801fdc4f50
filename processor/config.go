// Package processor runs rule files over Kafka topics: filters and
// event-time windows (package rule), with exactly-once outputs through
// Kafka transactions, window state kept in a changelog topic, watermarks
// per input partition, late-event and dead-letter topics, hot reload and
// per-rule metrics.
package processor

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/internal/kclient"
	"github.com/sluicehq/sluice/schema"
)

// Config configures the processor.
type Config struct {
	Kafka kclient.Config
	// RulesDir holds the rule files (*.yaml, *.sql), one rule per file.
	RulesDir string
	// Schemas the rules may name as source, by schema name; nil: the built-ins.
	Schemas map[string]*schema.Schema
	// Group is the consumer group; default "sluice-process". Workers of one
	// group share the source partitions.
	Group string
	// InstanceID names this worker within the group; default the host name.
	// It must be stable across restarts and unique among running workers:
	// the transactional ID is Group + "-" + InstanceID, so a restarted worker
	// fences its crashed predecessor at once.
	InstanceID string
	// DeadLetterTopic gets undecodable or schema-invalid events and events a
	// rule failed on, with headers error, source_topic, source_partition,
	// source_offset (and rule). Default "sluice.dead-letter".
	DeadLetterTopic string
	// LateTopic gets events that arrived after their windows closed, with
	// headers rule and reason. Default "sluice.late".
	LateTopic string
	// StateTopicSuffix names the changelog topics of window state:
	// <group>.<source topic><suffix>. Default ".state".
	StateTopicSuffix string
	// IdleTimeout: a partition without events for this long stops holding
	// its windows open; its event-time clock then follows the other
	// partitions, or wall time. Default 1m; negative disables.
	IdleTimeout time.Duration
	// MaxPollRecords bounds one transaction's input; default 10000.
	MaxPollRecords int
	// CommitInterval: a transaction gathers input for up to this long,
	// unless MaxPollRecords come sooner (see poll). It bounds how often a
	// slow input is committed, and adds up to this long to the time an
	// output takes to become visible. Default 100ms (Kafka Streams'
	// commit.interval.ms under exactly-once); negative: a transaction per
	// poll.
	CommitInterval time.Duration
	// Compression of the batches the worker produces (outputs, changelog,
	// internal topics): none, gzip, snappy (default), lz4 or zstd.
	Compression string
	// TransactionTimeout is the broker's bound on an open transaction;
	// default 60s.
	TransactionTimeout time.Duration
	// Watch reloads rules when files in RulesDir change. Default on
	// (NoWatch turns it off).
	NoWatch bool

	Log   *slog.Logger
	Reg   prometheus.Registerer
	Stats *Stats

	now     func() time.Time     // clock; time.Now by default
	crash   func(at string) bool // tests: true drops the client without committing
	kgoOpts []kgo.Opt            // tests: more options for the group client
}

// Errors Validate returns.
var (
	ErrNoRulesDir = errors.New("processor: --rules directory is required")
	ErrBadOption  = errors.New("processor: bad option")
	// ErrSourceGrew: a source topic with window rules has more partitions
	// than its window state (see sourceGrew).
	ErrSourceGrew = errors.New("processor: a source topic gained partitions")
)

// Validate checks the configuration and fills in defaults.
func (c *Config) Validate() error {
	if err := c.Kafka.Validate(); err != nil {
		return err
	}
	if c.RulesDir == "" {
		return ErrNoRulesDir
	}
	if st, err := os.Stat(c.RulesDir); err != nil || !st.IsDir() {
		return fmt.Errorf("%w: --rules %s is not a directory", ErrBadOption, c.RulesDir)
	}
	if c.Group == "" {
		c.Group = "sluice-process"
	}
	if c.InstanceID == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "local"
		}
		c.InstanceID = h
	}
	if c.DeadLetterTopic == "" {
		c.DeadLetterTopic = "sluice.dead-letter"
	}
	if c.LateTopic == "" {
		c.LateTopic = "sluice.late"
	}
	if c.StateTopicSuffix == "" {
		c.StateTopicSuffix = ".state"
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = time.Minute
	}
	if c.MaxPollRecords == 0 {
		c.MaxPollRecords = 10000
	}
	if c.CommitInterval == 0 {
		c.CommitInterval = 100 * time.Millisecond
	}
	if c.MaxPollRecords < 0 {
		return fmt.Errorf("%w: max poll records must be positive", ErrBadOption)
	}
	if c.Compression == "" {
		c.Compression = "snappy"
	}
	if _, err := kclient.Compression(c.Compression); err != nil {
		return fmt.Errorf("%w: %v", ErrBadOption, err)
	}
	if c.TransactionTimeout == 0 {
		c.TransactionTimeout = 60 * time.Second
	}
	if c.Schemas == nil {
		s, err := schema.ResolveAll(schema.Builtin())
		if err != nil {
			return err
		}
		c.Schemas = s
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Reg == nil {
		c.Reg = prometheus.NewRegistry()
	}
	if c.Stats == nil {
		c.Stats = &Stats{}
	}
	if c.now == nil {
		c.now = time.Now
	}
	return nil
}

// Stats counts what the processor has committed. Safe for concurrent use;
// share one across restarts to total them.
type Stats struct {
	consumed atomic.Int64
	mu       sync.Mutex
	produced map[string]int64
	matched  map[string]int64
}

// Consumed is the number of source records handled in committed
// transactions, invalid ones included.
func (s *Stats) Consumed() int64 { return s.consumed.Load() }

// Produced is the number of committed output records on topic (rule
// outputs, dead-letter and late topics).
func (s *Stats) Produced(topic string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.produced[topic]
}

// Matched is the number of committed events rule matched.
func (s *Stats) Matched(rule string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.matched[rule]
}

// producedTotal is the number of committed records on every topic.
func (s *Stats) producedTotal() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, v := range s.produced {
		n += v
	}
	return n
}

func (s *Stats) add(consumed int64, produced, matched map[string]int64) {
	s.consumed.Add(consumed)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.produced == nil {
		s.produced, s.matched = map[string]int64{}, map[string]int64{}
	}
	for k, v := range produced {
		s.produced[k] += v
	}
	for k, v := range matched {
		s.matched[k] += v
	}
}
