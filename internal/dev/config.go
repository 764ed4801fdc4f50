// Package dev runs the whole pipeline in one process on the embedded broker:
// generator -> processor (rule files) -> Parquet sink into a local lake. It is
// what `sluice dev` and `make run` start, and what the in-process
// end-to-end test drives.
package dev

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/broker"
	"github.com/sluicehq/sluice/processor/rule"
	"github.com/sluicehq/sluice/schema"
)

// Config configures a dev run.
type Config struct {
	Rate          float64       // events per second; 0 = as fast as possible (default 1000)
	Duration      time.Duration // 0 = until ctx is done
	Count         int64         // stop after this many events; 0 = no limit
	Seed          int64
	Users         int
	Schema        string // schema of the generated events (default clickstream)
	RulesDir      string // default rules
	Lake          string // default ./lake
	FlushInterval time.Duration
	DrainTimeout  time.Duration // how long to wait for workers to catch up at the end
	BrokerAddr    string        // embedded broker listen address (default 127.0.0.1:0)

	Log    *slog.Logger
	Reg    prometheus.Registerer
	Status io.Writer // live status line and summary; nil: none
}

// Validate fills defaults and checks everything that can be checked before
// starting, so bad input fails fast with nothing half-written.
func (c *Config) Validate() error {
	if !(c.Rate >= 0) || math.IsInf(c.Rate, 1) { // NaN fails every comparison
		return errors.New("--rate must be a finite number >= 0")
	}
	if c.Duration < 0 || c.Count < 0 {
		return errors.New("--duration and --count must not be negative")
	}
	if c.Schema == "" {
		c.Schema = "clickstream"
	}
	if c.RulesDir == "" {
		c.RulesDir = "rules"
	}
	if c.Lake == "" {
		c.Lake = "lake"
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = 10 * time.Second
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 30 * time.Second
	}
	if c.BrokerAddr == "" {
		c.BrokerAddr = "127.0.0.1:0"
	}
	if c.Users <= 0 {
		c.Users = 1000
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Reg == nil {
		c.Reg = prometheus.NewRegistry()
	}
	st, err := os.Stat(c.RulesDir)
	if err != nil {
		return fmt.Errorf("--rules: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("--rules: %s is not a directory", c.RulesDir)
	}
	return checkWritable(c.Lake)
}

// checkWritable makes sure dir exists (creating it) and accepts files.
func checkWritable(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--lake: %w", err)
	}
	f, err := os.CreateTemp(dir, ".sluice-write-check-*")
	if err != nil {
		return fmt.Errorf("--lake: %s is not writable: %w", dir, err)
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// loadPipeline resolves the schema and rules and lists the topics to seed.
func loadPipeline(c *Config) (*schema.Schema, map[string]*schema.Schema, []*rule.Rule, error) {
	src, err := schema.Resolve(c.Schema)
	if err != nil {
		return nil, nil, nil, err
	}
	schemas := map[string]*schema.Schema{}
	for _, n := range schema.Builtin() {
		s, err := schema.Resolve(n)
		if err != nil {
			return nil, nil, nil, err
		}
		schemas[s.Name] = s
	}
	schemas[src.Name] = src
	rules, err := rule.LoadDir(c.RulesDir, schemas)
	if err != nil {
		return nil, nil, nil, err
	}
	return src, schemas, rules, nil
}

func topicsFor(schemas map[string]*schema.Schema, rules []*rule.Rule, extra ...string) []string {
	set := map[string]bool{}
	for _, s := range schemas {
		set[s.Topic] = true
	}
	for _, r := range rules {
		set[r.Output] = true
	}
	for _, t := range extra {
		set[t] = true
	}
	out := make([]string, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

func absLake(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("resolving --lake: %w", err)
	}
	return abs, nil
}

// startBroker starts the embedded broker with every topic seeded.
func startBroker(c *Config, topics []string) (*broker.Broker, error) {
	return broker.Start(broker.Config{Listen: c.BrokerAddr, Topics: topics, Partitions: 6, Log: c.Log.With("component", "broker")})
}
