package producer

import (
	"context"
	"time"
)

// limiter paces events at a steady rate (a token bucket with a small
// burst): event n is due at t0 + n/rate. A run that falls more than
// maxDebt behind (a slow broker) does not burst to catch up; it resumes the
// steady pace from now.
type limiter struct {
	rate float64
	t0   time.Time
	n    int64
}

const maxDebt = time.Second

func newLimiter(rate float64) *limiter { return &limiter{rate: rate, t0: time.Now()} }

// wait blocks until the next event is due; it returns ctx's error if ctx
// ends first. A rate of 0 never waits.
func (l *limiter) wait(ctx context.Context) error {
	if l == nil || l.rate <= 0 {
		return nil
	}
	due := l.t0.Add(time.Duration(float64(l.n) / l.rate * float64(time.Second)))
	l.n++
	d := time.Until(due)
	switch {
	case d > time.Millisecond: // sleeping for less is not worth a timer
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	case d < -maxDebt:
		l.t0, l.n = time.Now(), 1
	}
	return nil
}
