package connector

import "github.com/prometheus/client_golang/prometheus"

// metrics are the sink's Prometheus series.
type metrics struct {
	records    *prometheus.CounterVec // topic
	rows       *prometheus.CounterVec // table
	files      *prometheus.CounterVec // table, kind
	bytes      *prometheus.CounterVec // table, kind
	errors     *prometheus.CounterVec // table
	flushes    *prometheus.CounterVec // reason
	retries    prometheus.Counter
	flushTime  prometheus.Histogram
	buffered   prometheus.Gauge
	openFiles  prometheus.Gauge
	commitLag  prometheus.Gauge
	registered []prometheus.Collector
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		records: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_sink_records_total",
			Help: "Records received from Kafka."}, []string{"topic"}),
		rows: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_sink_rows_total",
			Help: "Rows written to durable Parquet files."}, []string{"table"}),
		files: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_sink_files_total",
			Help: "Objects made durable, by kind (parquet, errors, raw)."}, []string{"table", "kind"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_sink_bytes_total",
			Help: "Bytes of objects made durable, by kind."}, []string{"table", "kind"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_sink_bad_records_total",
			Help: "Records that could not be converted and went to the error prefix."}, []string{"table"}),
		flushes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_sink_flushes_total",
			Help: "Partition flushes by trigger (size, records, time, memory, open_files, revoke, shutdown)."}, []string{"reason"}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{Name: "sluice_sink_store_retries_total",
			Help: "Object store writes retried after an error or timeout."}),
		flushTime: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "sluice_sink_flush_seconds",
			Help: "Time to make one partition's files durable and commit.", Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 12)}),
		buffered: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sluice_sink_buffered_bytes",
			Help: "Bytes held by open files (bounded by the memory budget)."}),
		openFiles: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sluice_sink_open_files",
			Help: "Files open across all partitions."}),
		commitLag: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sluice_sink_uncommitted_records",
			Help: "Records received but not yet durable and committed."}),
	}
	m.registered = []prometheus.Collector{m.records, m.rows, m.files, m.bytes, m.errors, m.flushes,
		m.retries, m.flushTime, m.buffered, m.openFiles, m.commitLag}
	for i, c := range m.registered {
		if err := reg.Register(c); err != nil {
			for _, done := range m.registered[:i] {
				reg.Unregister(done)
			}
			return nil, err
		}
	}
	return m, nil
}

// unregister lets a later Run in the same process register again.
func (m *metrics) unregister(reg prometheus.Registerer) {
	for _, c := range m.registered {
		reg.Unregister(c)
	}
}
