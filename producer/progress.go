package producer

import (
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"
)

// progress shows how a run is going: a line rewritten in place on a
// terminal (w), and a log line every logEvery otherwise.
type progress struct {
	what     string
	w        io.Writer
	log      *slog.Logger
	logEvery time.Duration
	stats    *Stats
	start    time.Time
	stop     chan struct{}
	done     sync.WaitGroup
}

func startProgress(what string, w io.Writer, log *slog.Logger, logEvery time.Duration, stats *Stats) *progress {
	p := &progress{what: what, w: w, log: log, logEvery: logEvery, stats: stats, start: time.Now(), stop: make(chan struct{})}
	p.done.Add(1)
	go p.run()
	return p
}

func (p *progress) run() {
	defer p.done.Done()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	lastLog := time.Now()
	var lastN int64
	lastT := time.Now()
	for {
		select {
		case <-p.stop:
			return
		case now := <-tick.C:
			n := p.stats.Produced.Load()
			rate := float64(n-lastN) / now.Sub(lastT).Seconds()
			lastN, lastT = n, now
			if p.w != nil {
				fmt.Fprintf(p.w, "\r%s: %d acked  %.0f/s  %d failed  %d invalid  %s   ", p.what, n, rate,
					p.stats.Failed.Load(), p.stats.Invalid.Load(), time.Since(p.start).Truncate(time.Second))
			}
			if p.w == nil && p.logEvery > 0 && now.Sub(lastLog) >= p.logEvery { // the live line replaces them
				lastLog = now
				p.log.Info(p.what+" progress", "acked", n, "failed", p.stats.Failed.Load(),
					"invalid", p.stats.Invalid.Load(), "rate", int64(rate))
			}
		}
	}
}

// finish stops the line and logs the summary.
func (p *progress) finish(extra ...any) {
	close(p.stop)
	p.done.Wait()
	el := time.Since(p.start)
	n := p.stats.Produced.Load()
	rate := 0.0
	if el > 0 {
		rate = float64(n) / el.Seconds()
	}
	if p.w != nil {
		fmt.Fprintf(p.w, "\r%s: %d acked  %.0f/s average  %d failed  %d invalid  %s\n", p.what, n, rate,
			p.stats.Failed.Load(), p.stats.Invalid.Load(), el.Truncate(time.Millisecond))
	}
	args := append([]any{"acked", n, "failed", p.stats.Failed.Load(), "invalid", p.stats.Invalid.Load(),
		"elapsed", el.Truncate(time.Millisecond).String(), "rate", int64(rate)}, extra...)
	p.log.Info(p.what+" finished", args...)
}
