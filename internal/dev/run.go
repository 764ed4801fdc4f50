package dev

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/connector"
	"github.com/sluicehq/sluice/internal/kclient"
	"github.com/sluicehq/sluice/processor"
	"github.com/sluicehq/sluice/processor/rule"
	"github.com/sluicehq/sluice/producer"
)

// Run runs the pipeline until Duration, Count or ctx ends generation, then
// lets the workers catch up, stops them (the sink flushes what it holds)
// and returns what happened.
func Run(ctx context.Context, c Config) (*Summary, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	src, schemas, rules, err := loadPipeline(&c)
	if err != nil {
		return nil, err
	}
	lake, err := absLake(c.Lake)
	if err != nil {
		return nil, err
	}
	dlq, late := src.Topic+".deadletter", src.Topic+".late"
	b, err := startBroker(&c, topicsFor(schemas, rules, dlq, late))
	if err != nil {
		return nil, err
	}
	defer b.Close()
	kc := kclient.Config{Brokers: b.Addrs(), ClientID: "sluice-dev"}

	p := &pipeline{gen: &producer.Stats{}, proc: &processor.Stats{}, sink: &connector.Stats{}, rules: rules, source: src.Topic}
	p.tables = []connector.Table{{Topic: src.Topic, Name: connector.TableName(src.Topic), Schema: src}}
	// Tables are named as `sluice sink` names them, so the dev lake looks
	// like production's.
	for _, r := range rules {
		p.tables = append(p.tables, connector.Table{Topic: r.Output, Name: connector.TableName(r.Output), Schema: r.OutputSchema()})
	}

	// Workers outlive generation: they stop only once they caught up, so a
	// Ctrl-C still ends with everything produced in the lake.
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	genCtx, stopGen := context.WithCancel(ctx)
	defer stopGen()
	procDone := p.start("processor", stopGen, func() error {
		return processor.Run(workCtx, processor.Config{
			Kafka: kc, RulesDir: c.RulesDir, Schemas: schemas, Group: "sluice-dev-processor", InstanceID: "dev",
			DeadLetterTopic: dlq, LateTopic: late, Log: c.Log.With("component", "processor"),
			Reg: prometheus.WrapRegistererWith(prometheus.Labels{"worker": "processor"}, c.Reg), Stats: p.proc,
		})
	})
	sinkDone := p.start("sink", stopGen, func() error {
		return connector.Run(workCtx, connector.Config{
			Kafka: kc, Group: "sluice-dev-sink", Tables: p.tables, To: "file://" + lake,
			FlushInterval: c.FlushInterval, Log: c.Log.With("component", "sink"),
			Reg: prometheus.WrapRegistererWith(prometheus.Labels{"worker": "sink"}, c.Reg), Stats: p.sink,
		})
	})

	st := newStatus(c.Status, p)
	stopStatus := st.start()
	genErr := producer.Generate(genCtx, producer.GenConfig{
		Kafka: kc, Schema: src, Rate: c.Rate, Count: c.Count, Duration: c.Duration, Seed: c.Seed,
		Users: c.Users, Log: c.Log, Stats: p.gen, LogEvery: -1,
		Reg: prometheus.WrapRegistererWith(prometheus.Labels{"worker": "generator"}, c.Reg),
	})
	drained := p.waitDrained(c.DrainTimeout)
	stopWork()
	procErr, sinkErr := <-procDone, <-sinkDone
	stopStatus()
	sum := p.summary(lake, drained)
	sum.Schema = c.Schema
	switch {
	case genErr != nil:
		return sum, fmt.Errorf("generating events: %w", genErr)
	case procErr != nil:
		return sum, procErr
	case sinkErr != nil:
		return sum, sinkErr
	case !drained:
		return sum, fmt.Errorf("workers did not catch up within %s: the lake may miss recent events", c.DrainTimeout)
	}
	return sum, nil
}

// pipeline tracks the running workers of a dev run.
type pipeline struct {
	gen    *producer.Stats
	proc   *processor.Stats
	sink   *connector.Stats
	rules  []*rule.Rule
	tables []connector.Table
	source string
	exited atomic.Int32 // workers that have returned
}

// start runs fn in the background. A worker that returns before it is told
// to stop ends generation, so a broken worker fails the run at once.
func (p *pipeline) start(name string, stopGen context.CancelFunc, fn func() error) <-chan error {
	done := make(chan error, 1)
	go func() {
		err := fn()
		p.exited.Add(1)
		if err != nil {
			err = fmt.Errorf("%s: %w", name, err)
		}
		stopGen()
		done <- err
	}()
	return done
}

// waitDrained waits until every produced record went through the processor
// and reached the sink, and every committed rule output reached the sink.
func (p *pipeline) waitDrained(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for {
		if p.caughtUp() {
			return true
		}
		if p.exited.Load() > 0 || time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *pipeline) caughtUp() bool {
	produced := p.gen.Produced.Load()
	if p.proc.Consumed() < produced || p.sink.Consumed(p.source) < produced {
		return false
	}
	for _, r := range p.rules {
		if p.sink.Consumed(r.Output) < p.proc.Produced(r.Output) {
			return false
		}
	}
	return true
}
