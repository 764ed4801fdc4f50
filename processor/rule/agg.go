package rule

import (
	"math"

	"github.com/axiomhq/hyperloglog"
	"github.com/cespare/xxhash/v2"

	"github.com/sluicehq/sluice/schema"
)

// aggState is the running state of one aggregate in one window and group.
// count_distinct keeps exact 64-bit hashes up to the rule's distinct_exact
// bound, then a HyperLogLog sketch (axiomhq/hyperloglog, precision 14:
// about 0.8% standard error, 16 KiB per sketch at most).
type aggState struct {
	n     int64
	sumI  int64
	sumF  float64
	min   value
	max   value
	has   bool
	exact map[uint64]struct{}
	hll   *hyperloglog.Sketch
}

func (a *aggregate) update(st *aggState, v value, limit int) {
	if a.fn == "count" {
		st.n++
		return
	}
	if v.null {
		return
	}
	st.n++
	switch a.fn {
	case "sum", "avg":
		if v.kind == schema.Int {
			st.sumI += v.i
		} else {
			st.sumF += v.f
		}
	case "min", "max":
		if !st.has {
			st.min, st.max, st.has = v, v, true
			return
		}
		if v.less(st.min) {
			st.min = v
		}
		if st.max.less(v) {
			st.max = v
		}
	case "count_distinct":
		st.addHash(hashValue(v), limit)
	}
}

func (st *aggState) addHash(h uint64, limit int) {
	if st.hll != nil {
		st.hll.InsertHash(h)
		return
	}
	if st.exact == nil {
		st.exact = make(map[uint64]struct{}, 4)
	}
	st.exact[h] = struct{}{}
	if len(st.exact) > limit {
		st.hll = hyperloglog.New14()
		for x := range st.exact {
			st.hll.InsertHash(x)
		}
		st.exact = nil
	}
}

func hashValue(v value) uint64 {
	if v.kind == schema.String {
		return xxhash.Sum64String(v.s)
	}
	var buf [16]byte
	return xxhash.Sum64(v.appendKey(buf[:0]))
}

// merge folds o into st (sessions that an event joins together).
func (a *aggregate) merge(st, o *aggState, limit int) {
	st.n += o.n
	st.sumI += o.sumI
	st.sumF += o.sumF
	if o.has {
		if !st.has {
			st.min, st.max, st.has = o.min, o.max, true
		} else {
			if o.min.less(st.min) {
				st.min = o.min
			}
			if st.max.less(o.max) {
				st.max = o.max
			}
		}
	}
	if o.hll != nil {
		if st.hll == nil {
			st.hll = hyperloglog.New14()
			for x := range st.exact {
				st.hll.InsertHash(x)
			}
			st.exact = nil
		}
		_ = st.hll.Merge(o.hll)
	}
	for x := range o.exact {
		st.addHash(x, limit)
	}
}

// result is the aggregate's output value.
func (a *aggregate) result(st *aggState) value {
	switch a.fn {
	case "count":
		return value{kind: schema.Int, i: st.n}
	case "count_distinct":
		if st.hll != nil {
			return value{kind: schema.Int, i: int64(st.hll.Estimate())}
		}
		return value{kind: schema.Int, i: int64(len(st.exact))}
	case "sum":
		if a.typ == schema.Int {
			return value{kind: schema.Int, i: st.sumI}
		}
		return value{kind: schema.Float, f: st.sumF}
	case "avg":
		if st.n == 0 {
			return value{kind: schema.Float, null: true}
		}
		return value{kind: schema.Float, f: (st.sumF + float64(st.sumI)) / float64(st.n)}
	case "min":
		if !st.has {
			return value{kind: a.typ, null: true}
		}
		return st.min
	default:
		if !st.has {
			return value{kind: a.typ, null: true}
		}
		return st.max
	}
}

// Serialized form of state, for the changelog.

type valJSON struct {
	S string  `json:"s,omitempty"`
	I int64   `json:"i,omitempty"`
	F float64 `json:"f,omitempty"`
	B bool    `json:"b,omitempty"`
	N bool    `json:"n,omitempty"` // null
}

func toJSONVal(v value) valJSON {
	j := valJSON{S: v.s, I: v.i, F: v.f, B: v.b, N: v.null}
	if v.kind == schema.Timestamp {
		j.I = v.t.UnixNano()
	}
	if math.IsNaN(j.F) || math.IsInf(j.F, 0) {
		j.F = 0
	}
	return j
}

func fromJSONVal(k schema.Type, j valJSON) value {
	v := value{kind: k, s: j.S, i: j.I, f: j.F, b: j.B, null: j.N}
	if k == schema.Timestamp {
		v.t = unixTime(j.I)
		v.i = 0
	}
	return v
}

type aggJSON struct {
	N    int64    `json:"n,omitempty"`
	SI   int64    `json:"si,omitempty"`
	SF   float64  `json:"sf,omitempty"`
	Min  *valJSON `json:"min,omitempty"`
	Max  *valJSON `json:"max,omitempty"`
	D    []uint64 `json:"d,omitempty"`
	HLL  []byte   `json:"h,omitempty"`
	Seen bool     `json:"has,omitempty"`
}

func (st *aggState) toJSON() aggJSON {
	j := aggJSON{N: st.n, SI: st.sumI, SF: st.sumF, Seen: st.has}
	if st.has {
		mn, mx := toJSONVal(st.min), toJSONVal(st.max)
		j.Min, j.Max = &mn, &mx
	}
	for x := range st.exact {
		j.D = append(j.D, x)
	}
	if st.hll != nil {
		j.HLL, _ = st.hll.MarshalBinary()
	}
	return j
}

func (a *aggregate) fromJSON(j aggJSON) (aggState, error) {
	st := aggState{n: j.N, sumI: j.SI, sumF: j.SF, has: j.Seen}
	if j.Min != nil && a.arg != nil {
		st.min = fromJSONVal(a.arg.typ, *j.Min)
	}
	if j.Max != nil && a.arg != nil {
		st.max = fromJSONVal(a.arg.typ, *j.Max)
	}
	if len(j.D) > 0 {
		st.exact = make(map[uint64]struct{}, len(j.D))
		for _, x := range j.D {
			st.exact[x] = struct{}{}
		}
	}
	if len(j.HLL) > 0 {
		st.hll = hyperloglog.New14()
		if err := st.hll.UnmarshalBinary(j.HLL); err != nil {
			return st, err
		}
	}
	return st, nil
}
