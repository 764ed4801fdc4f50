package producer

import (
	"fmt"
	"math"
	"slices"
	"strconv"

	json "github.com/goccy/go-json"

	"github.com/sluicehq/sluice/schema"
)

// literal is v as the JSON value of col, checked against its type.
func literal(col *schema.Column, v string) ([]byte, error) {
	switch col.Type {
	case schema.Int:
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return nil, fmt.Errorf("%q is not an int", v)
		}
		return []byte(v), nil
	case schema.Float:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("%q is not a finite float", v)
		}
		return []byte(v), nil
	case schema.Bool:
		if v != "true" && v != "false" {
			return nil, fmt.Errorf("%q is not true or false", v)
		}
		return []byte(v), nil
	case schema.Timestamp:
		if _, err := col.ParseTime(v); err != nil {
			return nil, fmt.Errorf("%q does not match format %q", v, col.Format)
		}
	case schema.String:
		if len(col.Enum) > 0 && !slices.Contains(col.Enum, v) {
			return nil, fmt.Errorf("%q is not one of the enum values", v)
		}
	default:
		return nil, fmt.Errorf("no literal for a %s column", col.Type)
	}
	return json.Marshal(v)
}

func compileChoice(g schema.Gen, col *schema.Column) (op, error) {
	var values []string
	var weights []float64
	if g.Kind == KindChoice {
		if len(col.Enum) == 0 {
			return nil, fmt.Errorf("gen choice needs an enum")
		}
		values = col.Enum
		for range values {
			weights = append(weights, 1)
		}
	} else {
		if len(g.Weights) == 0 {
			return nil, fmt.Errorf("gen weighted needs weights")
		}
		// Enum order first, then sorted: map order must not reach the output.
		for _, v := range col.Enum {
			if w, ok := g.Weights[v]; ok {
				values, weights = append(values, v), append(weights, w)
			}
		}
		var extra []string
		for v := range g.Weights {
			if !slices.Contains(col.Enum, v) {
				extra = append(extra, v)
			}
		}
		slices.Sort(extra)
		for _, v := range extra {
			values, weights = append(values, v), append(weights, g.Weights[v])
		}
	}
	lits := make([][]byte, len(values))
	cum := make([]float64, len(values))
	total := 0.0
	for i, v := range values {
		lit, err := literal(col, v)
		if err != nil {
			return nil, fmt.Errorf("weight key: %w", err)
		}
		if weights[i] < 0 || math.IsNaN(weights[i]) || math.IsInf(weights[i], 0) {
			return nil, fmt.Errorf("weight of %q must be a finite number >= 0", v)
		}
		lits[i] = lit
		total += weights[i]
		cum[i] = total
	}
	if total <= 0 {
		return nil, fmt.Errorf("weights sum to 0")
	}
	for i := range cum {
		cum[i] /= total
	}
	last := len(lits) - 1
	return func(s *EventSource, dst []byte) []byte {
		f := s.r.float()
		for i, c := range cum[:last] {
			if f < c {
				return append(dst, lits[i]...)
			}
		}
		return append(dst, lits[last]...)
	}, nil
}

func compileFloat(g schema.Gen) (op, error) {
	d := g.Decimals
	if d < 0 || d > 9 {
		return nil, fmt.Errorf("gen float: decimals %d must be 0..9", d)
	}
	scale := math.Pow10(d)
	lo, hi := int64(math.Ceil(g.Min*scale)), int64(math.Floor(g.Max*scale))
	if g.Min == 0 && g.Max == 0 {
		hi = int64(1000 * scale)
	}
	if hi < lo {
		return nil, fmt.Errorf("gen float: max %g < min %g", g.Max, g.Min)
	}
	pow := int64(scale)
	// Drawing an integer of units of 10^-d and printing it with a decimal
	// point gives exact text ("39.7", never "39.699999").
	return func(s *EventSource, dst []byte) []byte {
		v := s.r.between(lo, hi)
		if v < 0 {
			dst = append(dst, '-')
			v = -v
		}
		dst = strconv.AppendInt(dst, v/pow, 10)
		if d == 0 {
			return dst
		}
		dst = append(dst, '.')
		frac := v % pow
		for p := pow / 10; p > 1 && frac < p; p /= 10 {
			dst = append(dst, '0')
		}
		return strconv.AppendInt(dst, frac, 10)
	}, nil
}

const (
	alnumChars = "abcdefghijklmnopqrstuvwxyz0123456789"
	hexChars   = "0123456789abcdef"
)

// appendRandom appends n characters drawn uniformly from alphabet. One
// 64-bit draw yields several characters: each multiply by len(alphabet)
// takes the next "digit" of the fraction (at most 8 per draw keeps the bias
// far below 1e-6).
func (s *EventSource) appendRandom(dst []byte, alphabet string, n int) []byte {
	m := uint64(len(alphabet))
	for n > 0 {
		x := s.r.u64()
		k := min(n, 8)
		for range k {
			hi, lo := mulhi(x, m)
			dst = append(dst, alphabet[hi])
			x = lo
		}
		n -= k
	}
	return dst
}

func (s *EventSource) appendUUID(dst []byte) []byte {
	var b [16]byte
	a, c := s.r.u64(), s.r.u64()
	for i := range 8 {
		b[i], b[8+i] = byte(a>>(56-8*i)), byte(c>>(56-8*i))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	for i, v := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			dst = append(dst, '-')
		}
		dst = append(dst, hexChars[v>>4], hexChars[v&0xf])
	}
	return dst
}
