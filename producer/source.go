package producer

import (
	"bytes"
	"time"

	json "github.com/goccy/go-json"
)

// EventSource generates the events of a GenConfig without Kafka: the same
// sequence Generate produces for the same seed, start and settings.
type EventSource struct {
	cfg     GenConfig
	r       *rng
	users   *userPool
	members []member
	n       int64 // events generated so far

	// per-event state the column writers read
	user       uint64
	eventTime  time.Time
	insertTime time.Time
	late       bool
	keyBuf     []byte
}

// NewEventSource validates the generator settings (Kafka ones are not
// needed) and compiles the schema's gen hints.
func NewEventSource(cfg GenConfig) (*EventSource, error) {
	if err := cfg.validateGen(); err != nil {
		return nil, err
	}
	s := &EventSource{cfg: cfg, r: newRNG(cfg.Seed, 1)}
	// Users get their own stream so the pool's draws do not shift when a
	// schema adds a column.
	users, err := newUserPool(newRNG(cfg.Seed, 2), cfg.Users, cfg.UserDist, cfg.ZipfS)
	if err != nil {
		return nil, err
	}
	s.users = users
	if err := checkWeights(cfg.Schema, cfg.Weights); err != nil {
		return nil, err
	}
	if s.members, err = s.compileObject("", cfg.Schema.Columns, true); err != nil {
		return nil, err
	}
	return s, nil
}

// Config is the validated configuration (with the seed that was picked).
func (s *EventSource) Config() GenConfig { return s.cfg }

// Count is the number of events generated so far.
func (s *EventSource) Count() int64 { return s.n }

// EventTime is the event time of the last event.
func (s *EventSource) EventTime() time.Time { return s.eventTime }

// Late reports whether the last event was made late on purpose.
func (s *EventSource) Late() bool { return s.late }

// Append appends the next event's JSON to dst and returns it with the
// record key (the key column's value as text). key aliases dst's storage or
// an internal buffer: copy it before the next call.
func (s *EventSource) Append(dst []byte) (out, key []byte) {
	s.user = s.users.next()
	var nominal time.Time
	if s.cfg.Start.IsZero() {
		nominal = time.Now()
	} else {
		iv := int64(s.cfg.Interval)
		nominal = s.cfg.Start.Add(time.Duration(s.n*iv + int64(s.r.below(uint64(iv)))))
	}
	s.eventTime, s.late = nominal, false
	if s.cfg.LateFraction > 0 && s.r.float() < s.cfg.LateFraction {
		s.eventTime = nominal.Add(-time.Duration(1 + s.r.below(uint64(s.cfg.MaxDelay))))
		s.late = true
	}
	// Arrival a little after the nominal time: for a late event that is
	// "now", long after it happened.
	s.insertTime = nominal.Add(time.Duration(s.r.below(200_000)))
	out, key = s.appendTop(dst)
	s.n++
	return out, key
}

// Next returns the next event and key in fresh slices.
func (s *EventSource) Next() (key, value []byte) {
	value, k := s.Append(nil)
	return append([]byte(nil), k...), value
}

func (s *EventSource) appendTop(dst []byte) (out, key []byte) {
	dst = append(dst, '{')
	for _, m := range s.members {
		dst = append(dst, m.prefix...)
		if !m.isKey {
			dst = m.write(s, dst)
			continue
		}
		start := len(dst)
		dst = m.write(s, dst)
		key = keyText(dst[start:], &s.keyBuf)
	}
	return append(dst, '}'), key
}

func (s *EventSource) appendObject(dst []byte, members []member) []byte {
	dst = append(dst, '{')
	for _, m := range members {
		dst = append(dst, m.prefix...)
		dst = m.write(s, dst)
	}
	return append(dst, '}')
}

// keyText turns a JSON scalar into the record key: strings without their
// quotes (unescaped if needed), other scalars as written.
func keyText(v []byte, buf *[]byte) []byte {
	if len(v) < 2 || v[0] != '"' {
		return v
	}
	inner := v[1 : len(v)-1]
	if bytes.IndexByte(inner, '\\') < 0 {
		return inner
	}
	var str string
	_ = json.Unmarshal(v, &str)
	*buf = append((*buf)[:0], str...)
	return *buf
}
