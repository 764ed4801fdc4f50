package dev

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// status renders the live status line of a dev run.
type status struct {
	w     io.Writer
	tty   bool
	p     *pipeline
	begin time.Time
}

func newStatus(w io.Writer, p *pipeline) *status {
	s := &status{w: w, p: p, begin: time.Now()}
	if f, ok := w.(*os.File); ok {
		s.tty = term.IsTerminal(int(f.Fd()))
	}
	return s
}

func (s *status) line() string {
	var m []string
	for _, r := range s.p.rules {
		m = append(m, fmt.Sprintf("%s=%d", r.Name, s.p.proc.Matched(r.Name)))
	}
	return fmt.Sprintf("%4.0fs produced %d | processed %d | matched %s | rows %d | files %d",
		time.Since(s.begin).Seconds(), s.p.gen.Produced.Load(), s.p.proc.Consumed(),
		strings.Join(m, " "), s.p.sink.Rows(), s.p.sink.Files())
}

// start refreshes the line every second in place on a terminal, or prints
// it every 10 s otherwise, until the returned function is called.
func (s *status) start() (stop func()) {
	if s.w == nil {
		return func() {}
	}
	every := 10 * time.Second
	if s.tty {
		every = time.Second
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if s.tty {
					fmt.Fprintf(s.w, "\r\033[K%s", s.line())
				} else {
					fmt.Fprintln(s.w, s.line())
				}
			}
		}
	}()
	return func() {
		close(done)
		wg.Wait()
		if s.tty {
			fmt.Fprint(s.w, "\r\033[K")
		}
	}
}
