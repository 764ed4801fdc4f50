package rule

import (
	"encoding/binary"
	"math"
	"math/big"
)

// fsum is an exact sum of float64 values: value() is the exact real sum of
// everything added, rounded once to the nearest float64 (ties to even), so
// it depends only on the multiset of values, not on the order in which they
// were added or in which partial sums were merged.
//
// It is Shewchuk's grow-expansion ("Adaptive Precision Floating-Point
// Arithmetic and Fast Robust Geometric Predicates", 1997), the recipe of
// Python's math.fsum: the sum is held as non-overlapping partials in
// increasing magnitude, and each value is folded in with error-free
// two-sums. When they no longer fit in the inline array they are
// compressed (also Shewchuk's): most sums then need two or three, held
// inline; more spill to the heap.
//
// Beyond Python's fsum:
//   - non-finite values are recorded as flags: the sum is NaN if a NaN or
//     both infinities were added, else the one infinity added;
//   - finite sums cannot overflow in the middle: partials stay below 2^1023
//     in magnitude and whole multiples of 2^1023 are counted in ovf, so the
//     sum of 1e308, 1e308 and -1e308 is 1e308 in any order, and a sum
//     beyond the float64 range is ±Inf;
//   - zeros are not kept, and a zero sum is +0.
type fsum struct {
	p   [fsumInline]float64 // partials while they fit (ext == nil)
	n   uint8               // partials in p
	sp  uint8               // non-finite values seen: fsumNaN, fsumPosInf, fsumNegInf
	ext *fsumExt            // partials once they do not fit in p, and ovf
}

type fsumExt struct {
	p   []float64
	ovf int64 // multiples of fsumTop
}

const (
	fsumInline = 3
	fsumTop    = 0x1p1023 // partials stay below this in magnitude

	fsumNaN    = 1
	fsumPosInf = 2
	fsumNegInf = 4
)

func (s *fsum) partials() []float64 {
	if s.ext != nil {
		return s.ext.p
	}
	return s.p[:s.n]
}

// add adds x to the sum.
func (s *fsum) add(x float64) {
	if x == 0 {
		return
	}
	var d int64 // change of ovf
	if !(math.Abs(x) < fsumTop) {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			s.sp |= special(x)
			return
		}
		x, d = fsumReduce(x, d)
	}
	ps := s.partials()
	i := 0
	for _, y := range ps {
		if math.Abs(x) < math.Abs(y) {
			x, y = y, x
		}
		// Fast two-sum (|x| >= |y|): hi + lo == x + y exactly. The
		// operands are below 2^1023, so hi cannot overflow.
		hi := x + y
		lo := y - (hi - x)
		if lo != 0 {
			ps[i] = lo // i <= the index being read: in place
			i++
		}
		x = hi
		if !(math.Abs(x) < fsumTop) {
			x, d = fsumReduce(x, d)
		}
	}
	if s.ext == nil {
		if x != 0 {
			if i == fsumInline {
				s.addFull(x)
			} else {
				s.p[i] = x
				s.n = uint8(i + 1)
			}
		} else {
			s.n = uint8(i)
		}
		if d != 0 {
			s.addOvf(d)
		}
		return
	}
	ps = ps[:i]
	if x != 0 {
		ps = append(ps, x)
	}
	if len(ps) > fsumInline {
		ps = fsumCompress(ps)
	}
	s.ext.p = ps
	s.ext.ovf += d
}

// addFull adds x, the last partial, to the full inline partials:
// compressed, they often fit again.
func (s *fsum) addFull(x float64) {
	var buf [fsumInline + 1]float64
	copy(buf[:], s.p[:])
	buf[fsumInline] = x
	ps := fsumCompress(buf[:])
	if len(ps) <= fsumInline {
		s.n = uint8(copy(s.p[:], ps))
		return
	}
	s.ext, s.n = &fsumExt{p: append(make([]float64, 0, 2*len(ps)), ps...)}, 0
}

// addOvf adds d*fsumTop to the sum.
func (s *fsum) addOvf(d int64) {
	if s.ext == nil {
		s.ext, s.n = &fsumExt{p: append(make([]float64, 0, 2*fsumInline), s.p[:s.n]...)}, 0
	}
	s.ext.ovf += d
}

// fsumReduce takes one fsumTop off x (2^1023 <= |x| < 2^1024: exact by
// Sterbenz's lemma) and counts it in d.
func fsumReduce(x float64, d int64) (float64, int64) {
	if x > 0 {
		return x - fsumTop, d + 1
	}
	return x + fsumTop, d - 1
}

func special(x float64) uint8 {
	switch {
	case math.IsNaN(x):
		return fsumNaN
	case x > 0:
		return fsumPosInf
	default:
		return fsumNegInf
	}
}

// fsumCompress rewrites non-overlapping partials in increasing magnitude
// as few ones with the same sum (Shewchuk's Compress, in place): add's
// partials are exact but often sparse (sums of prices settle at five to
// eight of them); compressed they take about one per 53 bits of the sum's
// span, two or three for most sums. Partials near the float64 range are
// left alone: the running sums could reach 2^1023.
func fsumCompress(ps []float64) []float64 {
	m := len(ps)
	if m < 2 || !(math.Abs(ps[m-1]) < fsumTop/2) {
		return ps
	}
	// From the top: the sum so far in q, the partials it shed above it.
	q, bottom := ps[m-1], m-1
	for i := m - 2; i >= 0; i-- {
		y := ps[i]
		hi := q + y
		lo := y - (hi - q)
		if lo != 0 {
			ps[bottom] = hi // bottom > i
			bottom--
			q = lo
		} else {
			q = hi
		}
	}
	ps[bottom] = q
	// From the bottom: carry q up through them.
	top := 0
	for i := bottom + 1; i < m; i++ {
		x := ps[i]
		hi := x + q
		lo := q - (hi - x)
		if lo != 0 {
			ps[top] = lo // top < i
			top++
		}
		q = hi
	}
	if q == 0 {
		return ps[:top]
	}
	ps[top] = q
	return ps[:top+1]
}

// merge adds o's values to s.
func (s *fsum) merge(o *fsum) {
	s.sp |= o.sp
	for _, p := range o.partials() {
		s.add(p)
	}
	if o.ext != nil && o.ext.ovf != 0 {
		s.addOvf(o.ext.ovf)
	}
}

// value is the sum, correctly rounded (0 for a nil *fsum).
func (s *fsum) value() float64 {
	if s == nil {
		return 0
	}
	if s.sp != 0 {
		switch {
		case s.sp&fsumNaN != 0, s.sp&(fsumPosInf|fsumNegInf) == fsumPosInf|fsumNegInf:
			return math.NaN()
		case s.sp&fsumPosInf != 0:
			return math.Inf(1)
		default:
			return math.Inf(-1)
		}
	}
	ps := s.partials()
	if s.ext != nil && s.ext.ovf != 0 {
		return fsumBig(ps, s.ext.ovf)
	}
	n := len(ps)
	if n == 0 {
		return 0
	}
	// Add the partials from the largest down until the first inexact
	// addition: hi then holds the rounded sum of the partials so far, lo
	// its rounding error, and the partials left are smaller than lo's
	// last bit.
	n--
	hi, lo := ps[n], 0.0
	for n > 0 {
		x := hi
		n--
		y := ps[n]
		hi = x + y
		lo = y - (hi - x)
		if lo != 0 {
			break
		}
	}
	// hi + lo was rounded to hi. When lo is half an ulp of hi, that was a
	// tie, broken to even; but if the partials left have lo's sign, the
	// exact sum is past the half-way point and rounds away from hi, to
	// hi+2lo (exact then; |hi| is at most 2^1023 here, so it cannot
	// overflow).
	if n > 0 && (lo < 0 && ps[n-1] < 0 || lo > 0 && ps[n-1] > 0) {
		y := lo * 2
		x := hi + y
		if x-hi == y {
			hi = x
		}
	}
	return hi
}

// fsumBig rounds ovf*2^1023 + sum(ps) with math/big: only sums that went
// past 2^1023 in magnitude get here. The exact value needs at most 1087
// bits above the binary point (|ovf| < 2^63), 1074 below, plus carries.
func fsumBig(ps []float64, ovf int64) float64 {
	const prec = 2304
	acc := new(big.Float).SetPrec(prec).SetInt64(ovf)
	acc.SetMantExp(acc, 1023)
	t := new(big.Float).SetPrec(prec)
	for _, p := range ps {
		acc.Add(acc, t.SetFloat64(p))
	}
	f, _ := acc.Float64()
	if f == 0 {
		return 0
	}
	return f
}

// appendState appends the sum's compact binary form:
//
//	uvarint(partials<<4 | has ovf<<3 | non-finite flags) | [ovf varint] |
//	partials, 8 bytes little-endian each
//
// An empty (or nil) sum is one zero byte.
func (s *fsum) appendState(b []byte) []byte {
	if s == nil {
		return append(b, 0)
	}
	ps := s.partials()
	h := uint64(len(ps))<<4 | uint64(s.sp)
	if s.ext != nil && s.ext.ovf != 0 {
		h |= 8
	}
	b = binary.AppendUvarint(b, h)
	if h&8 != 0 {
		b = binary.AppendVarint(b, s.ext.ovf)
	}
	for _, p := range ps {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(p))
	}
	return b
}

// decodeState reads a sum written by appendState into the empty s and
// returns the bytes after it. The partials are added again, so whatever
// the bytes, s keeps its invariants.
func (s *fsum) decodeState(b []byte) ([]byte, error) {
	h, n := binary.Uvarint(b)
	if n <= 0 {
		return nil, errBadState
	}
	b = b[n:]
	s.sp = uint8(h & 7)
	var ovf int64
	if h&8 != 0 {
		if ovf, n = binary.Varint(b); n <= 0 || ovf == 0 {
			return nil, errBadState
		}
		b = b[n:]
	}
	cnt := h >> 4
	if cnt > uint64(len(b))/8 {
		return nil, errBadState
	}
	for range cnt {
		p := math.Float64frombits(binary.LittleEndian.Uint64(b))
		b = b[8:]
		if p == 0 || math.IsNaN(p) || math.IsInf(p, 0) {
			return nil, errBadState
		}
		s.add(p)
	}
	if ovf != 0 {
		s.addOvf(ovf)
	}
	return b, nil
}
