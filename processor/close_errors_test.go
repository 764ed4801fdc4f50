package processor

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// countingHandler counts the log records with one message.
type countingHandler struct {
	msg string
	mu  sync.Mutex
	n   int
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *countingHandler) WithGroup(string) slog.Handler            { return h }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.mu.Lock()
		h.n++
		h.mu.Unlock()
	}
	return nil
}

// A having that fails on some rows (a comparison with a null min) fails
// those window results: each is counted in
// sluice_process_window_errors_total, and the log gets one line per rule
// and transaction, not one per row.
func TestWindowCloseErrorsAreCountedAndLoggedOnce(t *testing.T) {
	b := startBroker(t, 1, "clickstream")
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	evs := genEvents(3, 1, 600, start, 500*time.Millisecond) // 5 minutes, 50 users
	closer := genEvents(4, 1, 1, start.Add(time.Hour), time.Second)
	evs = append(evs, closer...)
	want := 0 // (user, minute) windows without a purchase: their lo is null
	purchase := map[[2]string]bool{}
	for _, e := range evs[:len(evs)-1] {
		k := [2]string{e.user, e.ts.Truncate(time.Minute).String()}
		if _, seen := purchase[k]; !seen {
			purchase[k] = false
		}
		purchase[k] = purchase[k] || e.name == "Purchase"
	}
	for _, p := range purchase {
		if !p {
			want++
		}
	}
	dir := t.TempDir()
	writeFile(t, dir, "cheap.yaml", `name: cheap_buyers
source: clickstream
output: out.cheap
window: {type: tumbling, size: 1m}
group_by: [user_id]
aggregate: {lo: 'min(event_name == "Purchase" ? additional_data.price : nil)'}
having: lo < 10
`)
	produce(t, b, "clickstream", eventRecords(evs)...)
	h := &countingHandler{msg: "rule failed while closing windows; those results are not emitted"}
	reg, stats := prometheus.NewRegistry(), &Stats{}
	stop := startRun(t, Config{Kafka: kafkaCfg(b), RulesDir: dir, Group: "g", InstanceID: "t", Log: slog.New(h), Reg: reg, Stats: stats,
		NoWatch: true, MaxPollRecords: 97})
	waitFor(t, 60*time.Second, "all records consumed", settled(stats, int64(len(evs))))
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got := gathered(t, reg, "sluice_process_window_errors_total"); int(got) != want || want < 50 {
		t.Errorf("window errors %v, want %d", got, want)
	}
	txns := gathered(t, reg, "sluice_process_transactions_total")
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n == 0 || float64(h.n) > txns || h.n >= want {
		t.Errorf("%d log lines for %d failed results in %v transactions: want at most one per transaction", h.n, want, txns)
	}
}
