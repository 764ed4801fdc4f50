package processor

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the processor's Prometheus series.
type metrics struct {
	consumed     *prometheus.CounterVec // topic
	evaluated    *prometheus.CounterVec // rule
	matched      *prometheus.CounterVec
	ruleErrors   *prometheus.CounterVec
	closeErrors  *prometheus.CounterVec
	late         *prometheus.CounterVec
	deadLettered *prometheus.CounterVec // reason: invalid, rule_error
	stateSize    *prometheus.GaugeVec   // rule
	wmLag        *prometheus.GaugeVec   // rule
	consumerLag  *prometheus.GaugeVec   // topic, partition
	txns         *prometheus.CounterVec // result
	rulesLoaded  prometheus.Gauge
	reloadFailed prometheus.Gauge
	reloads      *prometheus.CounterVec // result
	restored     prometheus.Counter
	restores     prometheus.Counter // changelog partition reads
}

func newMetrics(reg prometheus.Registerer) *metrics {
	const ns = "sluice_process_"
	m := &metrics{
		consumed:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "records_consumed_total", Help: "Source records handled in committed transactions."}, []string{"topic"}),
		evaluated:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "rule_evaluated_total", Help: "Events a rule evaluated."}, []string{"rule"}),
		matched:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "rule_matched_total", Help: "Events a rule's where matched."}, []string{"rule"}),
		ruleErrors:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "rule_errors_total", Help: "Events a rule failed on (sent to the dead-letter topic)."}, []string{"rule"}),
		closeErrors:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "window_errors_total", Help: "Window results a rule failed to emit when closing windows (a having error, say), in committed transactions."}, []string{"rule"}),
		late:         prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "late_events_total", Help: "Events that came after their windows closed (sent to the late topic)."}, []string{"rule"}),
		deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "dead_lettered_total", Help: "Records sent to the dead-letter topic."}, []string{"reason"}),
		stateSize:    prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: ns + "window_state_size", Help: "Open (window, group) states of a rule."}, []string{"rule"}),
		wmLag:        prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: ns + "watermark_lag_seconds", Help: "Wall time minus the rule's lowest partition watermark."}, []string{"rule"}),
		consumerLag:  prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: ns + "consumer_lag_records", Help: "Records in a source partition not yet processed."}, []string{"topic", "partition"}),
		txns:         prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "transactions_total", Help: "Transactions by result (committed, aborted)."}, []string{"result"}),
		rulesLoaded:  prometheus.NewGauge(prometheus.GaugeOpts{Name: ns + "rules_loaded", Help: "Rules running."}),
		reloadFailed: prometheus.NewGauge(prometheus.GaugeOpts{Name: ns + "rules_reload_failed", Help: "1 when the last reload of the rules directory failed (the previous rules keep running)."}),
		reloads:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "rules_reloads_total", Help: "Reloads of the rules directory by result (ok, error)."}, []string{"result"}),
		restored:     prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "state_entries_restored_total", Help: "Window state entries read back from changelog topics."}),
		restores:     prometheus.NewCounter(prometheus.CounterOpts{Name: ns + "changelog_reads_total", Help: "Changelog partitions read to restore window state (empty ones included)."}),
	}
	for _, c := range []prometheus.Collector{m.consumed, m.evaluated, m.matched, m.ruleErrors, m.closeErrors, m.late, m.deadLettered,
		m.stateSize, m.wmLag, m.consumerLag, m.txns, m.rulesLoaded, m.reloadFailed, m.reloads, m.restored, m.restores} {
		// A second Run on one registry keeps the first series (tests).
		_ = reg.Register(c)
	}
	return m
}
