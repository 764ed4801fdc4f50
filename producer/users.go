package producer

import (
	"fmt"
	"math/rand"
)

// Distributions of users over the pool.
const (
	DistUniform = "uniform" // every user equally likely
	DistZipf    = "zipf"    // a few heavy users, a long tail (user 1 the most active)
)

// userPool draws user numbers in [1, n].
type userPool struct {
	n    uint64
	r    *rng
	zipf *rand.Zipf
}

// pcgSource adapts rng to math/rand's Source64 so the standard Zipf sampler
// (whose output for a given source is stable across releases) can use it.
type pcgSource struct{ r *rng }

func (s pcgSource) Uint64() uint64 { return s.r.u64() }
func (s pcgSource) Int63() int64   { return int64(s.r.u64() >> 1) }
func (s pcgSource) Seed(int64)     {}

func newUserPool(r *rng, n int, dist string, zipfS float64) (*userPool, error) {
	p := &userPool{n: uint64(n), r: r}
	switch dist {
	case DistUniform:
	case DistZipf:
		if zipfS <= 1 {
			return nil, fmt.Errorf("zipf exponent %g must be greater than 1", zipfS)
		}
		p.zipf = rand.NewZipf(rand.New(pcgSource{r}), zipfS, 1, uint64(n-1))
	default:
		return nil, fmt.Errorf("user distribution %q: want %s or %s", dist, DistUniform, DistZipf)
	}
	return p, nil
}

func (p *userPool) next() uint64 {
	if p.zipf != nil {
		return p.zipf.Uint64() + 1
	}
	return p.r.below(p.n) + 1
}
