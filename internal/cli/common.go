package cli

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/sluicehq/sluice/internal/kclient"
	"github.com/sluicehq/sluice/internal/telemetry"
)

// obsFlags are the observability flags of every long-running command.
type obsFlags struct {
	log         telemetry.LogConfig
	metricsAddr string
}

func (o *obsFlags) add(c *cobra.Command, defaultMetrics string) {
	c.Flags().StringVar(&o.log.Format, "log-format", "auto", "log format: auto (text on a terminal, JSON otherwise), text or json")
	c.Flags().StringVar(&o.log.Level, "log-level", "info", "log level: debug, info, warn or error")
	c.Flags().StringVar(&o.metricsAddr, "metrics-addr", defaultMetrics, "serve /metrics, /healthz and /readyz on this address (empty: off)")
}

// runtime is what a running component is handed: a logger, a registry and
// the HTTP server that exposes them.
type runtime struct {
	log *slog.Logger
	reg *prometheus.Registry
	srv *telemetry.Server
}

// start validates the flags and starts the metrics server.
func (o *obsFlags) start(c *cobra.Command) (*runtime, error) {
	if err := o.log.Validate(); err != nil {
		return nil, usageErr(err)
	}
	rt := &runtime{log: telemetry.NewLogger(o.log, c.ErrOrStderr()), reg: telemetry.NewRegistry()}
	rt.srv = &telemetry.Server{Addr: o.metricsAddr, Reg: rt.reg, Log: rt.log}
	// A worker that talks to Kafka is ready when the brokers answer it.
	if kc, ok := kclient.FromFlags(c.Flags()); ok {
		rt.srv.Ready = func(ctx context.Context) error { return kc.Check(ctx, 3*time.Second) }
	}
	if err := rt.srv.Start(); err != nil {
		return nil, err
	}
	if o.metricsAddr != "" {
		rt.log.Debug("serving metrics", "addr", rt.srv.BoundAddr())
	}
	return rt, nil
}

func (rt *runtime) close() { rt.srv.Close() }
