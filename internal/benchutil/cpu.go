// Package benchutil reports benchmark results the way the project quotes
// them: events per CPU-second of this process (user+system time, so a noisy
// shared machine skews it less than wall time) and peak resident set.
package benchutil

import (
	"syscall"
	"testing"
	"time"
)

// CPUTime returns the user+system CPU time this process has used.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// PeakRSS returns the peak resident set of this process in bytes.
func PeakRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss * 1024 // Linux reports KiB
}

// Meter measures the CPU a benchmark's timed section uses.
type Meter struct {
	b     *testing.B
	start time.Duration
}

// Start resets the benchmark timer and starts measuring CPU.
func Start(b *testing.B) *Meter {
	b.ResetTimer()
	return &Meter{b: b, start: CPUTime()}
}

// Report stops the timer and reports events/CPU-s, CPU-s per million events
// and the peak RSS in MB, for n events processed.
func (m *Meter) Report(n int64) {
	m.b.StopTimer()
	cpu := (CPUTime() - m.start).Seconds()
	if cpu > 0 && n > 0 {
		m.b.ReportMetric(float64(n)/cpu, "events/CPU-s")
		m.b.ReportMetric(cpu/float64(n)*1e6, "CPU-s/Mevents")
	}
	m.b.ReportMetric(float64(PeakRSS())/1e6, "peakRSS-MB")
}
