package producer

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are shared by the generator, replay and the collector; the
// component label keeps them apart when `sluice dev` runs several in one
// registry.
type metrics struct {
	acked, failed, invalid, deadLettered prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, component string) *metrics {
	records := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "sluice_producer_records_total",
		Help: "Records the producer handed to Kafka, by outcome: acked (acks=all) or failed (after retries).",
	}, []string{"result"})
	invalid := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "sluice_producer_invalid_events_total",
		Help: "Events that did not match the schema (replay and collect).",
	})
	dl := prometheus.NewCounter(prometheus.CounterOpts{
		Name: "sluice_producer_deadletter_records_total",
		Help: "Invalid events written to the dead-letter topic.",
	})
	if reg != nil {
		reg = prometheus.WrapRegistererWith(prometheus.Labels{"component": component}, reg)
		records = register(reg, records)
		invalid = register(reg, invalid)
		dl = register(reg, dl)
	}
	return &metrics{
		acked:        records.WithLabelValues("acked"),
		failed:       records.WithLabelValues("failed"),
		invalid:      invalid,
		deadLettered: dl,
	}
}

// register registers c, or returns the collector already registered under
// the same description (a component started twice in one process).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing
			}
		}
	}
	return c
}
