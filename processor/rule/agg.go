package rule

import (
	"github.com/axiomhq/hyperloglog"
	"github.com/cespare/xxhash/v2"

	"github.com/sluicehq/sluice/schema"
)

// aggState is the running state of one aggregate in one window and group.
// Float sums (sum and avg) are exact (fsum), so they do not depend on the
// order of events or merges. count_distinct keeps exact 64-bit hashes up to
// the rule's distinct_exact bound, then a HyperLogLog sketch
// (axiomhq/hyperloglog, precision 14: about 0.8% standard error, 16 KiB per
// sketch at most).
type aggState struct {
	n     int64
	sumI  int64
	sumF  *fsum   // float sum and avg; nil until the first value
	mm    *minMax // min and max only
	exact *hashSet
	hll   *hyperloglog.Sketch
}

type minMax struct{ min, max value }

// aggOp is an aggregate's function: update runs for every event of every
// window rule, where a switch on the function's name compared strings.
type aggOp uint8

const (
	opCount aggOp = iota
	opSum
	opAvg
	opMin
	opMax
	opCountDistinct
)

var aggOps = map[string]aggOp{"count": opCount, "sum": opSum, "avg": opAvg, "min": opMin, "max": opMax, "count_distinct": opCountDistinct}

func (a *aggregate) update(st *aggState, v value, limit int) {
	if a.op == opCount {
		st.n++
		return
	}
	if v.null {
		return
	}
	st.n++
	switch a.op {
	case opSum, opAvg:
		if v.kind == kInt {
			st.sumI += v.i
		} else {
			st.fsum().add(v.float())
		}
	case opMin, opMax: // kept values are copied (value.keep)
		if st.mm == nil {
			v = v.keep("")
			st.mm = &minMax{v, v}
			return
		}
		if v.less(st.mm.min) {
			st.mm.min = v.keep("")
		}
		if st.mm.max.less(v) {
			st.mm.max = v.keep("")
		}
	case opCountDistinct:
		st.addHash(hashValue(v), limit)
	}
}

func (st *aggState) addHash(h uint64, limit int) {
	if st.hll != nil {
		st.hll.InsertHash(h)
		return
	}
	if st.exact == nil {
		st.exact = newHashSet(1)
	}
	st.exact.add(h)
	if st.exact.len() > limit {
		st.toSketch()
	}
}

// toSketch moves the exact set into a HyperLogLog sketch.
func (st *aggState) toSketch() {
	st.hll = hyperloglog.New14()
	if st.exact != nil {
		st.exact.each(st.hll.InsertHash)
	}
	st.exact = nil
}

func hashValue(v value) uint64 {
	if v.kind == kString {
		return xxhash.Sum64String(v.s)
	}
	var buf [16]byte
	return xxhash.Sum64(v.appendKey(buf[:0]))
}

// merge folds o into st (sessions that an event joins together).
func (a *aggregate) merge(st, o *aggState, limit int) {
	st.n += o.n
	st.sumI += o.sumI
	if o.sumF != nil {
		st.fsum().merge(o.sumF)
	}
	if o.mm != nil {
		if st.mm == nil {
			st.mm = &minMax{o.mm.min, o.mm.max}
		} else {
			if o.mm.min.less(st.mm.min) {
				st.mm.min = o.mm.min
			}
			if st.mm.max.less(o.mm.max) {
				st.mm.max = o.mm.max
			}
		}
	}
	if o.hll != nil {
		if st.hll == nil {
			st.toSketch()
		}
		_ = st.hll.Merge(o.hll)
	}
	if o.exact != nil {
		o.exact.each(func(h uint64) { st.addHash(h, limit) })
	}
}

// clear empties st for reuse. It keeps its float sum and a small exact
// set (their memory), not a sketch or a large set.
func (st *aggState) clear() {
	sum, exact := st.sumF, st.exact
	if sum != nil {
		*sum = fsum{}
	}
	if exact != nil {
		if exact.big != nil {
			exact = nil
		} else {
			exact.small = exact.small[:0]
		}
	}
	*st = aggState{sumF: sum, exact: exact}
}

// result is the aggregate's output value.
func (a *aggregate) result(st *aggState) value {
	switch a.op {
	case opCount:
		return value{kind: kInt, i: st.n}
	case opCountDistinct:
		if st.hll != nil {
			return value{kind: kInt, i: int64(st.hll.Estimate())}
		}
		if st.exact == nil {
			return value{kind: kInt}
		}
		return value{kind: kInt, i: int64(st.exact.len())}
	case opSum:
		if a.typ == schema.Int {
			return value{kind: kInt, i: st.sumI}
		}
		return floatVal(st.sumF.value())
	case opAvg:
		if st.n == 0 {
			return value{kind: kFloat, null: true}
		}
		return floatVal((st.sumF.value() + float64(st.sumI)) / float64(st.n))
	case opMin:
		if st.mm == nil {
			return value{kind: kindOf(a.typ), null: true}
		}
		return st.mm.min
	default: // opMax
		if st.mm == nil {
			return value{kind: kindOf(a.typ), null: true}
		}
		return st.mm.max
	}
}

// fsum is st's float sum, made on first use: non-sum aggregates do without
// (and aggState stays small), sums do not allocate per value.
func (st *aggState) fsum() *fsum {
	if st.sumF == nil {
		st.sumF = &fsum{}
	}
	return st.sumF
}
