package rule

import (
	"time"
)

// Sink receives what rules produce while a Task runs.
type Sink interface {
	// Output is one output record of r. key and value are only valid
	// during the call: copy them to keep them.
	Output(r *Rule, key, value []byte)
	// Late says the current event came after its windows closed.
	Late(r *Rule, reason string)
	// Error is a rule that failed on the current event (an expression
	// error at run time).
	Error(r *Rule, err error)
}

// Counts are a rule's counters since the last Reset.
type Counts struct {
	Evaluated, Matched, Errors, Late int64
}

// Task runs the rules of one source over one input partition's events, in
// order. Decode each event once (with any of the rules' codecs: rules of
// one schema share the record type) and hand it to Process.
type Task struct {
	Rules   []*Rule
	Windows []*Windows // parallel to Rules; nil for a filter
	Counts  []Counts   // parallel to Rules
	ev      Eval
	forward []bool // parallel to Rules: events go to the owner (Repartition)
}

// NewTask returns a task with empty state.
func NewTask(rules []*Rule) *Task {
	t := &Task{Rules: rules, Windows: make([]*Windows, len(rules)), Counts: make([]Counts, len(rules))}
	for i, r := range rules {
		if !r.IsFilter() {
			t.Windows[i] = r.NewWindows()
		}
	}
	return t
}

// TrackChanges turns on change tracking for every window rule (see
// Windows.Changes).
func (t *Task) TrackChanges() {
	for _, w := range t.Windows {
		if w != nil {
			w.TrackChanges()
		}
	}
}

// Process evaluates every rule on one event: rec is the decoded record, et
// its event time, raw and key the input record's bytes.
func (t *Task) Process(rec any, et time.Time, raw, key []byte, s Sink) {
	ev := &t.ev
	var fs ForwardSink
	if t.forward != nil {
		fs, _ = s.(ForwardSink)
	}
	for i, r := range t.Rules {
		c := &t.Counts[i]
		c.Evaluated++
		w := t.Windows[i]
		if w != nil {
			w.Observe(et)
		}
		ok, err := r.Match(ev, rec)
		if err != nil {
			c.Errors++
			s.Error(r, err)
			continue
		}
		if !ok {
			continue
		}
		c.Matched++
		if w == nil {
			v, err := r.Project(ev, rec, raw)
			if err == nil {
				var k []byte
				if k, err = r.Key(ev, rec, key); err == nil {
					s.Output(r, k, v)
					continue
				}
			}
			c.Errors++
			s.Error(r, err)
			continue
		}
		var late string
		if fs != nil && t.forward[i] {
			late, err = w.forward(ev, rec, et, fs)
		} else {
			late, err = w.Add(ev, rec, et)
		}
		switch {
		case err != nil:
			c.Errors++
			s.Error(r, err)
		case late != "":
			c.Late++
			s.Late(r, late)
		}
	}
}

// Observe moves the event-time clock of every window rule without an
// event (an idle partition's clock, moved by processing time).
func (t *Task) Observe(et time.Time) {
	for _, w := range t.Windows {
		if w != nil {
			w.Observe(et)
		}
	}
}

// Advance emits the windows the watermark has passed, and early updates
// when due at now.
func (t *Task) Advance(s Sink, now time.Time) {
	for _, w := range t.Windows {
		if w != nil {
			w.Advance(&t.ev, s)
			w.Early(&t.ev, s, now)
		}
	}
}

// Flush emits every open window: the input has ended.
func (t *Task) Flush(s Sink) {
	for _, w := range t.Windows {
		if w != nil {
			w.Flush(&t.ev, s)
		}
	}
}

// MaxEventTime is the latest event time the task has seen (zero if none).
func (t *Task) MaxEventTime() time.Time {
	var m time.Time
	for _, w := range t.Windows {
		if w != nil && w.hasET && unixTime(w.maxET).After(m) {
			m = unixTime(w.maxET)
		}
	}
	return m
}
