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
// one schema share the record type) and hand it to Process, or a chunk of
// them to ProcessBatch.
type Task struct {
	Rules   []*Rule
	Windows []*Windows // parallel to Rules; nil for a filter
	Counts  []Counts   // parallel to Rules
	ev      Eval
	forward []bool   // parallel to Rules: events go to the owner (Repartition)
	one     [1]Event // Process's batch
	single  oneEvent
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

// Event is one decoded input event: Rec the record (from the rules'
// codec), Time its event time, Raw and Key the input record's bytes.
type Event struct {
	Rec      any
	Time     time.Time
	Raw, Key []byte
}

// BatchSink is the Sink of ProcessBatch: At(i) comes before the calls
// about the batch's i-th event.
type BatchSink interface {
	Sink
	At(i int)
}

// Process evaluates every rule on one event: rec is the decoded record, et
// its event time, raw and key the input record's bytes.
func (t *Task) Process(rec any, et time.Time, raw, key []byte, s Sink) {
	t.one[0] = Event{Rec: rec, Time: et, Raw: raw, Key: key}
	t.single.Sink = s
	t.process(t.one[:], &t.single, t.forwardSink(s))
	t.one[0], t.single.Sink = Event{}, nil
}

// ProcessBatch evaluates every rule on evs, rule by rule: one rule's state
// and code stay in the CPU's caches across the batch, where event by event
// the rules evict each other. Each rule sees the events in order, so its
// state and outputs are those of Process on them one by one; only the
// interleaving of different rules' outputs differs.
func (t *Task) ProcessBatch(evs []Event, s BatchSink) {
	t.process(evs, s, t.forwardSink(s))
}

func (t *Task) forwardSink(s Sink) ForwardSink {
	if t.forward == nil {
		return nil
	}
	fs, _ := s.(ForwardSink)
	return fs
}

func (t *Task) process(evs []Event, s BatchSink, fs ForwardSink) {
	ev := &t.ev
	for i, r := range t.Rules {
		c, w := &t.Counts[i], t.Windows[i]
		fwd := fs != nil && t.forward[i]
		c.Evaluated += int64(len(evs))
		for j := range evs {
			e := &evs[j]
			if w != nil {
				w.Observe(e.Time)
			}
			ok, err := r.Match(ev, e.Rec)
			if err != nil {
				c.Errors++
				s.At(j)
				s.Error(r, err)
				continue
			}
			if !ok {
				continue
			}
			c.Matched++
			if w == nil {
				v, err := r.Project(ev, e.Rec, e.Raw)
				if err == nil {
					var k []byte
					if k, err = r.Key(ev, e.Rec, e.Key); err == nil {
						s.At(j)
						s.Output(r, k, v)
						continue
					}
				}
				c.Errors++
				s.At(j)
				s.Error(r, err)
				continue
			}
			var late string
			if fwd {
				late, err = w.forward(ev, e.Rec, e.Time, fs)
			} else {
				late, err = w.Add(ev, e.Rec, e.Time)
			}
			switch {
			case err != nil:
				c.Errors++
				s.At(j)
				s.Error(r, err)
			case late != "":
				c.Late++
				s.At(j)
				s.Late(r, late)
			}
		}
	}
}

// oneEvent is Process's BatchSink: a batch of one event.
type oneEvent struct{ Sink }

func (oneEvent) At(int) {}

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
