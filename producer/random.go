package producer

import (
	"math/bits"
	"math/rand/v2"
)

// rng is the generator's source of randomness. Only the PCG stream itself
// comes from the standard library (its algorithm is fixed); every derived
// draw (bounded ints, floats, choices) is computed here, so a seed gives the
// same bytes on every Go release.
type rng struct{ pcg *rand.PCG }

func newRNG(seed int64, stream uint64) *rng {
	return &rng{pcg: rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15^stream)}
}

func (r *rng) u64() uint64 { return r.pcg.Uint64() }

// below returns a uniform value in [0, n) (Lemire's multiply-shift with the
// rejection step, so there is no modulo bias).
func (r *rng) below(n uint64) uint64 {
	hi, lo := bits.Mul64(r.u64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(r.u64(), n)
		}
	}
	return hi
}

// between returns a uniform value in [lo, hi] (inclusive).
func (r *rng) between(lo, hi int64) int64 {
	if hi <= lo {
		return lo
	}
	return lo + int64(r.below(uint64(hi-lo)+1))
}

// float returns a uniform value in [0, 1) with 53 random bits.
func (r *rng) float() float64 { return float64(r.u64()>>11) / (1 << 53) }

// splitmix64 is a stateless mixer: a stable hash of (seed, n), used where a
// value must be a pure function of its input (a user's IP address).
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func mulhi(x, m uint64) (hi, lo uint64) { return bits.Mul64(x, m) }
