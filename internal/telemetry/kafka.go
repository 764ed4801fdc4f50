package telemetry

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"
)

// KafkaMetrics returns the client option that exports franz-go's client
// metrics (bytes, records, requests, errors per broker and topic) as
// <namespace>_* on reg; none when reg is nil.
func KafkaMetrics(namespace string, reg prometheus.Registerer) []kgo.Opt {
	if reg == nil {
		return nil
	}
	return []kgo.Opt{kgo.WithHooks(kprom.NewMetrics(namespace, kprom.Registerer(lenientRegisterer{reg})))}
}

// lenientRegisterer keeps the first of duplicate collectors instead of
// panicking as MustRegister does: two live clients of one component on one
// registry must not crash. (kprom unregisters a client's collectors when it
// closes, so a restarted client registers afresh.)
type lenientRegisterer struct{ prometheus.Registerer }

func (l lenientRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		_ = l.Register(c)
	}
}
