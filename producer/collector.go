package producer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sluicehq/sluice/internal/telemetry"
	"github.com/sluicehq/sluice/schema"
)

// Collector is the HTTP ingest server: POST /v1/events, /healthz, /readyz
// and /metrics.
type Collector struct {
	cfg    CollectConfig
	cl     *kgo.Client
	codec  *schema.Codec
	keyOf  func(rec any, dst []byte) ([]byte, bool)
	keys   keyring
	budget budget
	m      *metrics
	cm     *collectMetrics
	server serverFields
	recs   sync.Pool

	ln       net.Listener
	srv      *http.Server
	ready    atomic.Bool // broker reachable and topics present
	notReady atomic.Pointer[string]
	draining atomic.Bool
	stop     chan struct{}
	bg       sync.WaitGroup

	shutdown    sync.Once
	shutdownErr error
}

type collectMetrics struct {
	requests *prometheus.CounterVec
	latency  prometheus.Histogram
}

// NewCollector validates cfg and creates the Kafka client; Start listens.
func NewCollector(cfg CollectConfig) (*Collector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Collector{cfg: cfg, codec: schema.NewCodec(cfg.Schema), keys: newKeyring(cfg.WriteKeys),
		budget: budget{max: cfg.MaxInFlightBytes}, stop: make(chan struct{})}
	c.keyOf = keyExtractor(c.codec)
	c.server = findServerFields(cfg.Schema)
	c.recs.New = func() any { return c.codec.New() }
	c.m = newMetrics(cfg.Reg, "collect")
	c.cm = &collectMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_collect_requests_total",
			Help: "HTTP ingest requests by status code."}, []string{"code"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "sluice_collect_request_seconds",
			Help: "Time to answer POST /v1/events, broker acks included.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}),
	}
	if cfg.Reg != nil {
		c.cm.requests = register(cfg.Reg, c.cm.requests)
		c.cm.latency = register(cfg.Reg, c.cm.latency)
	}
	// Records waiting in the client count against memory too: cap them at
	// the in-flight budget (a request that cannot buffer waits, then 503s).
	cl, err := newProducer(cfg.Kafka, cfg.Compression, cfg.AckTimeout,
		append(telemetry.KafkaMetrics("sluice_collect_kafka", cfg.Reg), kgo.MaxBufferedBytes(int(cfg.MaxInFlightBytes)))...)
	if err != nil {
		return nil, err
	}
	c.cl = cl
	msg := "not checked yet"
	c.notReady.Store(&msg)
	return c, nil
}

// Handler serves the collector's routes.
func (c *Collector) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/events", c.handleEvents)
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := c.Ready(); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	if c.cfg.Gatherer != nil {
		mux.Handle("/metrics", promhttp.HandlerFor(c.cfg.Gatherer, promhttp.HandlerOpts{}))
	}
	return mux
}

// Ready says whether the collector can accept events now.
func (c *Collector) Ready() error {
	if c.draining.Load() {
		return errors.New("shutting down")
	}
	if !c.ready.Load() {
		return errors.New(*c.notReady.Load())
	}
	return nil
}

// Start listens and serves in the background, and starts watching the
// broker.
func (c *Collector) Start(ctx context.Context) error {
	ln := c.cfg.Listener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", c.cfg.Listen); err != nil {
			return fmt.Errorf("listening on %s: %w", c.cfg.Listen, err)
		}
	}
	c.ln = &limitListener{Listener: ln, sem: make(chan struct{}, c.cfg.MaxConns), done: make(chan struct{})}
	c.srv = &http.Server{
		Handler:           c.Handler(),
		ReadHeaderTimeout: min(5*time.Second, c.cfg.ReadTimeout),
		ReadTimeout:       c.cfg.ReadTimeout,
		WriteTimeout:      c.cfg.ReadTimeout + c.cfg.AckTimeout + 5*time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	c.checkBroker(ctx)
	c.bg.Add(2)
	go c.watchBroker(ctx)
	go func() {
		defer c.bg.Done()
		if err := c.srv.Serve(c.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			c.cfg.Log.Error("collector server stopped", "err", err)
		}
	}()
	c.cfg.Log.Info("collecting", "component", "collect", "addr", c.Addr(), "topic", c.cfg.Topic,
		"schema", c.cfg.Schema.Name, "deadletter_topic", c.cfg.DeadLetterTopic, "auth", len(c.keys) > 0)
	return nil
}

// Addr is the address the collector listens on.
func (c *Collector) Addr() string {
	if c.ln == nil {
		return ""
	}
	return c.ln.Addr().String()
}

// Shutdown stops accepting, waits for in-flight requests (at most
// DrainTimeout) and flushes the producer. Later calls return the first
// call's result.
func (c *Collector) Shutdown() error {
	c.shutdown.Do(func() { c.shutdownErr = c.drain() })
	return c.shutdownErr
}

func (c *Collector) drain() error {
	c.draining.Store(true)
	close(c.stop)
	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.DrainTimeout)
	defer cancel()
	var err error
	if c.srv != nil {
		err = c.srv.Shutdown(ctx)
	}
	c.bg.Wait()
	if ferr := c.cl.Flush(ctx); err == nil {
		err = ferr
	}
	c.cl.Close()
	c.cfg.Log.Info("collector stopped", "component", "collect", "acked", c.cfg.Stats.Produced.Load(),
		"failed", c.cfg.Stats.Failed.Load(), "invalid", c.cfg.Stats.Invalid.Load())
	if err != nil {
		return fmt.Errorf("draining the collector: %w", err)
	}
	return nil
}

// Collect runs the collector until ctx ends, then drains it.
func Collect(ctx context.Context, cfg CollectConfig) error {
	c, err := NewCollector(cfg)
	if err != nil {
		return err
	}
	if err := c.Start(ctx); err != nil {
		c.cl.Close()
		return err
	}
	<-ctx.Done()
	return c.Shutdown()
}

// watchBroker keeps readiness current: the broker answers and the topics
// exist (the dead-letter topic is created when missing).
func (c *Collector) watchBroker(ctx context.Context) {
	defer c.bg.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.stop:
			return
		case <-t.C:
			c.checkBroker(ctx)
		}
	}
}

func (c *Collector) checkBroker(ctx context.Context) {
	var err error
	if !c.ready.Load() {
		if err = checkTopics(ctx, c.cl, 2*time.Second, c.cfg.Topic); err == nil {
			err = ensureTopic(ctx, c.cl, 2*time.Second, c.cfg.DeadLetterTopic)
		}
	} else {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err = c.cl.Ping(pctx)
		cancel()
	}
	if err != nil {
		msg := "broker unreachable or topic missing: " + err.Error()
		c.notReady.Store(&msg)
		if c.ready.Swap(false) {
			c.cfg.Log.Warn("collector not ready", "component", "collect", "err", err)
		}
		return
	}
	if !c.ready.Swap(true) {
		c.cfg.Log.Info("collector ready", "component", "collect")
	}
}
