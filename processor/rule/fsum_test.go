package rule

import (
	"encoding/binary"
	"math"
	"math/big"
	"math/rand/v2"
	"strconv"
	"testing"
)

// bigSum is the reference: the exact sum of the finite values with
// math/big, rounded once to float64; non-finite values as in fsum.
func bigSum(xs []float64) float64 {
	acc := new(big.Float).SetPrec(4096)
	posInf, negInf := false, false
	for _, x := range xs {
		switch {
		case math.IsNaN(x):
			return math.NaN()
		case math.IsInf(x, 1):
			posInf = true
		case math.IsInf(x, -1):
			negInf = true
		default:
			acc.Add(acc, new(big.Float).SetFloat64(x))
		}
	}
	switch {
	case posInf && negInf:
		return math.NaN()
	case posInf:
		return math.Inf(1)
	case negInf:
		return math.Inf(-1)
	}
	f, _ := acc.Float64()
	if f == 0 {
		return 0
	}
	return f
}

func sumOf(xs []float64) float64 {
	var s fsum
	for _, x := range xs {
		s.add(x)
	}
	return s.value()
}

// same compares bit for bit (any NaN equals any NaN).
func same(a, b float64) bool {
	return math.Float64bits(a) == math.Float64bits(b) || math.IsNaN(a) && math.IsNaN(b)
}

func hexs(f float64) string { return strconv.FormatFloat(f, 'x', -1, 64) }

func TestFsumKnown(t *testing.T) {
	harmonic, alternating := make([]float64, 1000), make([]float64, 1000)
	for n := 1; n <= 1000; n++ {
		harmonic[n-1] = 1 / float64(n)
		alternating[n-1] = math.Pow(-1, float64(n)) / float64(n)
	}
	var dense []float64
	for n := -1074; n < 972; n += 2 {
		dense = append(dense, math.Ldexp(1, n)-math.Ldexp(1, n+50)+math.Ldexp(1, n+52))
	}
	dense = append(dense, -0x1p1022)
	p53 := 0x1p53
	cases := []struct {
		xs   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{0}, 0},
		{[]float64{math.Copysign(0, -1)}, 0},
		{[]float64{1e100, 1, -1e100}, 1},
		{[]float64{1e100, 1.0, -1e100, 1e-100, 1e50, -1.0, -1e50}, 1e-100},
		{[]float64{0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1}, 1},
		{[]float64{1e16, 1, 1e-16}, 10000000000000002},
		{[]float64{1e16 - 2, 1 - 0x1p-53, -(1e16 - 2), -(1 - 0x1p-53)}, 0},
		// half-way cases: the partials left decide the tie
		{[]float64{p53, -0.5, -0x1p-54}, p53 - 1},
		{[]float64{p53, 1, 0x1p-100}, p53 + 2},
		{[]float64{p53 + 10, 1, 0x1p-100}, p53 + 12},
		{[]float64{p53 - 4, 0.5, 0x1p-54}, p53 - 3},
		{harmonic, 0x1.df11f45f4e61ap+2},
		{alternating, -0x1.62a2af1bd3624p-1},
		{dense, 0x1.5555555555555p+970},
		// near and past the float64 range
		{[]float64{1e308, 1e308}, math.Inf(1)},
		{[]float64{-1e308, -1e308}, math.Inf(-1)},
		{[]float64{1e308, 1e308, -1e308}, 1e308},
		{[]float64{math.MaxFloat64, math.MaxFloat64, -math.MaxFloat64, -math.MaxFloat64, 1}, 1},
		{[]float64{math.MaxFloat64, 0x1p969}, math.MaxFloat64},
		{[]float64{math.MaxFloat64, 0x1p970}, math.Inf(1)},                          // a tie, to even: 2^1024
		{[]float64{math.MaxFloat64, 0x1p970, -0x1p-1074}, math.MaxFloat64},          // just below the tie
		{[]float64{math.MaxFloat64, 0x1p969, 0x1p969, -0x1p-1074}, math.MaxFloat64}, //
		{[]float64{0x1p1023, 0x1p1023, -0x1p1023, -0x1p970}, 0x1p1023 - 0x1p970},
		// subnormals
		{[]float64{0x1p-1074, 0x1p-1074, -0x1p-1073}, 0},
		{[]float64{0x1p-1022, -0x1p-1074}, 0x1p-1022 - 0x1p-1074},
		// non-finite values
		{[]float64{1, math.Inf(1), 1e308, 1e308}, math.Inf(1)},
		{[]float64{math.Inf(-1), -1, 1e308, 1e308}, math.Inf(-1)},
		{[]float64{math.Inf(1), math.Inf(-1)}, math.NaN()},
		{[]float64{math.NaN(), 1}, math.NaN()},
		{[]float64{1, math.Inf(1), math.Inf(1)}, math.Inf(1)},
	}
	for i, c := range cases {
		got := sumOf(c.xs)
		if !same(got, c.want) {
			t.Errorf("case %d: fsum = %s, want %s", i, hexs(got), hexs(c.want))
		}
		if ref := bigSum(c.xs); !same(ref, c.want) {
			t.Errorf("case %d: the math/big reference says %s, want %s", i, hexs(ref), hexs(c.want))
		}
		// reversed, too
		rev := make([]float64, len(c.xs))
		for j, x := range c.xs {
			rev[len(rev)-1-j] = x
		}
		if got := sumOf(rev); !same(got, c.want) {
			t.Errorf("case %d reversed: fsum = %s, want %s", i, hexs(got), hexs(c.want))
		}
	}
	if got := sumOf([]float64{math.Copysign(0, -1)}); math.Signbit(got) {
		t.Errorf("sum of -0 = -0, want +0")
	}
}

// generators of test inputs, from easy to nasty.
var fsumGens = map[string]func(r *rand.Rand) float64{
	"prices": func(r *rand.Rand) float64 { return float64(r.IntN(1_000_000)) / 100 },
	"signed decimals": func(r *rand.Rand) float64 {
		return float64(r.IntN(2_000_001)-1_000_000) / math.Pow(10, float64(r.IntN(8)))
	},
	"mixed magnitudes": func(r *rand.Rand) float64 {
		return math.Ldexp(1+r.Float64(), r.IntN(120)-60) * float64(1-2*r.IntN(2))
	},
	"whole range": func(r *rand.Rand) float64 {
		return math.Ldexp(1+r.Float64(), r.IntN(2046)-1022) * float64(1-2*r.IntN(2))
	},
	"near overflow": func(r *rand.Rand) float64 {
		return math.Ldexp(1+r.Float64(), 1015+r.IntN(9)) * float64(1-2*r.IntN(2))
	},
	"subnormals": func(r *rand.Rand) float64 {
		return math.Float64frombits(r.Uint64()&(1<<52-1) | r.Uint64()&(1<<63))
	},
	"any bits": func(r *rand.Rand) float64 {
		for {
			f := math.Float64frombits(r.Uint64())
			if !math.IsNaN(f) && !math.IsInf(f, 0) {
				return f
			}
		}
	},
}

// fsumInput draws n values; with cancel, about half of them are negated
// copies of others (the exact sum is then small against the values).
func fsumInput(r *rand.Rand, gen func(*rand.Rand) float64, n int, cancel bool) []float64 {
	xs := make([]float64, 0, n)
	for len(xs) < n {
		x := gen(r)
		xs = append(xs, x)
		if cancel && len(xs) < n && r.IntN(2) == 0 {
			xs = append(xs, -xs[r.IntN(len(xs))])
		}
	}
	return xs
}

func TestFsumMatchesBig(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for name, gen := range fsumGens {
		for trial := 0; trial < 300; trial++ {
			xs := fsumInput(r, gen, 1+r.IntN(60), trial%2 == 1)
			if got, want := sumOf(xs), bigSum(xs); !same(got, want) {
				t.Fatalf("%s: fsum(%v) = %s, want %s", name, xs, hexs(got), hexs(want))
			}
		}
	}
}

// treeSum sums xs as a random tree of partial sums merged in random order,
// sending some of them through the state encoding on the way.
func treeSum(t *testing.T, r *rand.Rand, xs []float64) *fsum {
	s := &fsum{}
	if len(xs) <= 2 || r.IntN(4) == 0 {
		for _, x := range xs {
			s.add(x)
		}
	} else {
		k := r.IntN(len(xs) + 1)
		a, b := treeSum(t, r, xs[:k]), treeSum(t, r, xs[k:])
		if r.IntN(2) == 0 {
			a, b = b, a
		}
		s.merge(a)
		s.merge(b)
	}
	if r.IntN(3) == 0 {
		var d fsum
		rest, err := d.decodeState(s.appendState(nil))
		if err != nil || len(rest) != 0 {
			t.Fatalf("decoding: %v (%d bytes left)", err, len(rest))
		}
		return &d
	}
	return s
}

func TestFsumOrderIndependent(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	for name, gen := range fsumGens {
		for trial := 0; trial < 40; trial++ {
			xs := fsumInput(r, gen, 2+r.IntN(200), trial%2 == 1)
			want := sumOf(xs)
			for k := 0; k < 10; k++ {
				ys := append([]float64(nil), xs...)
				r.Shuffle(len(ys), func(i, j int) { ys[i], ys[j] = ys[j], ys[i] })
				if got := sumOf(ys); !same(got, want) {
					t.Fatalf("%s: a permutation gives %s, want %s", name, hexs(got), hexs(want))
				}
				if got := treeSum(t, r, ys).value(); !same(got, want) {
					t.Fatalf("%s: a tree of merges gives %s, want %s", name, hexs(got), hexs(want))
				}
			}
		}
	}
}

func TestFsumSpecials(t *testing.T) {
	inf, nan := math.Inf(1), math.NaN()
	r := rand.New(rand.NewPCG(1, 1))
	for _, c := range []struct {
		add  []float64
		want float64
	}{
		{[]float64{inf}, inf},
		{[]float64{-inf}, -inf},
		{[]float64{inf, inf}, inf},
		{[]float64{inf, -inf}, nan},
		{[]float64{nan}, nan},
		{[]float64{-inf, nan}, nan},
		{[]float64{math.MaxFloat64, math.MaxFloat64, -inf}, -inf}, // the finite part overflows, the infinity wins
	} {
		for k := 0; k < 20; k++ {
			xs := append(fsumInput(r, fsumGens["whole range"], r.IntN(10), false), c.add...)
			r.Shuffle(len(xs), func(i, j int) { xs[i], xs[j] = xs[j], xs[i] })
			if got := sumOf(xs); !same(got, c.want) {
				t.Fatalf("%v: %v, want %v", xs, got, c.want)
			}
			if got := treeSum(t, r, xs).value(); !same(got, c.want) {
				t.Fatalf("%v merged: %v, want %v", xs, got, c.want)
			}
		}
	}
}

func TestFsumStateRoundTrip(t *testing.T) {
	var empty fsum
	if b := empty.appendState(nil); len(b) != 1 {
		t.Errorf("empty sum: %d bytes, want 1", len(b))
	}
	r := rand.New(rand.NewPCG(9, 9))
	for name, gen := range fsumGens {
		for trial := 0; trial < 50; trial++ {
			xs := fsumInput(r, gen, r.IntN(100), trial%2 == 1)
			if trial%10 == 0 {
				xs = append(xs, math.Inf(1-2*r.IntN(2)))
			}
			var s fsum
			for _, x := range xs {
				s.add(x)
			}
			b := s.appendState([]byte{0xAA})
			var d fsum
			rest, err := d.decodeState(append(b[1:], 0xBB))
			if err != nil || len(rest) != 1 || rest[0] != 0xBB {
				t.Fatalf("%s: decoding: %v, rest %x", name, err, rest)
			}
			if !same(d.value(), s.value()) {
				t.Fatalf("%s: decoded %s, want %s", name, hexs(d.value()), hexs(s.value()))
			}
			// Both still take more values alike.
			x := gen(r)
			s.add(x)
			d.add(x)
			if !same(d.value(), s.value()) {
				t.Fatalf("%s: decoded then added %s, want %s", name, hexs(d.value()), hexs(s.value()))
			}
		}
	}
	for _, bad := range [][]byte{
		nil,
		{0x80},   // truncated uvarint
		{1 << 4}, // one partial, no bytes
		{8},      // ovf flag, no ovf
		{8, 0},   // ovf flag with a zero ovf
		binary.LittleEndian.AppendUint64([]byte{1 << 4}, math.Float64bits(math.NaN())),
		binary.LittleEndian.AppendUint64([]byte{1 << 4}, 0),
	} {
		var d fsum
		if _, err := d.decodeState(bad); err == nil {
			t.Errorf("decodeState(%x) accepted", bad)
		}
	}
}

// The common case, a few partials, does not allocate.
func TestFsumAddDoesNotAllocate(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 2))
	xs := fsumInput(r, fsumGens["prices"], 1000, false)
	var s fsum
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		s.add(xs[i%len(xs)])
		i++
	})
	if allocs != 0 || s.ext != nil {
		t.Errorf("%v allocations per add (spilled: %v)", allocs, s.ext != nil)
	}
}

func FuzzFsumDecode(f *testing.F) {
	r := rand.New(rand.NewPCG(4, 4))
	for _, gen := range fsumGens {
		var s fsum
		for _, x := range fsumInput(r, gen, 20, true) {
			s.add(x)
		}
		f.Add(s.appendState(nil))
	}
	f.Add([]byte{8 | 1<<4, 2, 0, 0, 0, 0, 0, 0, 0xf0, 0x7f})
	f.Fuzz(func(t *testing.T, data []byte) {
		var s fsum
		if _, err := s.decodeState(data); err != nil {
			return
		}
		v := s.value()
		var d fsum
		if _, err := d.decodeState(s.appendState(nil)); err != nil {
			t.Fatalf("re-encoded state does not decode: %v", err)
		}
		if !same(d.value(), v) {
			t.Fatalf("round trip: %s, want %s", hexs(d.value()), hexs(v))
		}
		d.merge(&s)
		s.add(1)
		_, _ = d.value(), s.value()
	})
}

// FuzzFsum checks arbitrary values (8 bytes each) against math/big, forward
// and backward.
func FuzzFsum(f *testing.F) {
	f.Add(binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, math.Float64bits(1e308)), math.Float64bits(1e308)))
	f.Add(binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, math.Float64bits(0.1)), math.Float64bits(-1e100)))
	f.Fuzz(func(t *testing.T, data []byte) {
		var xs []float64
		for ; len(data) >= 8; data = data[8:] {
			xs = append(xs, math.Float64frombits(binary.LittleEndian.Uint64(data)))
		}
		want := bigSum(xs)
		if got := sumOf(xs); !same(got, want) {
			t.Fatalf("fsum(%v) = %s, want %s", xs, hexs(got), hexs(want))
		}
		var s fsum
		for i := len(xs) - 1; i >= 0; i-- {
			s.add(xs[i])
		}
		if got := s.value(); !same(got, want) {
			t.Fatalf("backward: %s, want %s", hexs(got), hexs(want))
		}
	})
}

var sink float64

func BenchmarkFsumAdd(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, name := range []string{"prices", "mixed magnitudes", "whole range"} {
		xs := fsumInput(r, fsumGens[name], 4096, false)
		b.Run(name, func(b *testing.B) {
			var s fsum
			for i := 0; i < b.N; i++ {
				s.add(xs[i&4095])
			}
			sink = s.value()
		})
	}
	xs := fsumInput(r, fsumGens["prices"], 4096, false)
	b.Run("naive float64 +=", func(b *testing.B) {
		s := 0.0
		for i := 0; i < b.N; i++ {
			s += xs[i&4095]
		}
		sink = s
	})
}
