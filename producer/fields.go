package producer

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	json "github.com/goccy/go-json"

	"github.com/sluicehq/sluice/schema"
)

// Generator hint kinds (the `gen:` of a schema column). A column without a
// hint gets one from its type: timestamps the event time, strings with an
// enum a uniform choice, other strings 12 alphanumerics, ints 0..1000, floats
// 0..1000 with 2 decimals, bools a coin toss, structs their fields.
const (
	KindEventTime     = "event_time"     // timestamp: when the event happened
	KindInsertionTime = "insertion_time" // timestamp: event time + up to 200µs (late events: their arrival time)
	KindUser          = "user"           // int or string: a user number from the --users pool
	KindUserIP        = "user_ip"        // string: a public IPv4 address, stable per user
	KindAlnum         = "alnum"          // string: `length` random [a-z0-9]
	KindHex           = "hex"            // string: `length` random lowercase hex digits
	KindUUID          = "uuid"           // string: a random version-4 UUID
	KindWeighted      = "weighted"       // one of `weights`' keys, in proportion to the weights
	KindChoice        = "choice"         // one of the column's enum values, uniform
	KindInt           = "int"            // int in [min, max]
	KindFloat         = "float"          // float in [min, max] with `decimals` decimals
	KindBool          = "bool"           // true with probability `min` (default 0.5)
	KindConst         = "const"          // always `value`
	KindSeq           = "seq"            // int or string: the event's sequence number, from 0
)

// op appends one JSON value to dst.
type op func(s *EventSource, dst []byte) []byte

// member is one "name":value of an object.
type member struct {
	prefix []byte // `"name":` with the separating comma when not first
	write  op
	isKey  bool
}

func (s *EventSource) compileObject(path string, cols []schema.Column, top bool) ([]member, error) {
	out := make([]member, 0, len(cols))
	for i := range cols {
		col := &cols[i]
		p := col.Name
		if path != "" {
			p = path + "." + col.Name
		}
		name, _ := json.Marshal(col.Name)
		prefix := append(name, ':')
		if i > 0 {
			prefix = append([]byte{','}, prefix...)
		}
		w, err := s.compileColumn(p, col)
		if err != nil {
			return nil, fmt.Errorf("schema %s: column %s: %w", s.cfg.Schema.Name, p, err)
		}
		out = append(out, member{prefix: prefix, write: w, isKey: top && col.Name == s.cfg.Schema.Key})
	}
	return out, nil
}

func (s *EventSource) compileColumn(path string, col *schema.Column) (op, error) {
	if col.Type == schema.Struct {
		members, err := s.compileObject(path, col.Fields, false)
		if err != nil {
			return nil, err
		}
		return func(s *EventSource, dst []byte) []byte { return s.appendObject(dst, members) }, nil
	}
	g := schema.Gen{}
	if col.Gen != nil {
		g = *col.Gen
	} else {
		g = defaultGen(path, col, s.cfg.Schema.EventTime)
	}
	if w, ok := s.cfg.Weights[path]; ok {
		g = schema.Gen{Kind: KindWeighted, Weights: w}
	}
	want := func(types ...schema.Type) error {
		if slices.Contains(types, col.Type) {
			return nil
		}
		return fmt.Errorf("gen kind %q does not fit a %s column", g.Kind, col.Type)
	}
	switch g.Kind {
	case KindEventTime, KindInsertionTime:
		if err := want(schema.Timestamp); err != nil {
			return nil, err
		}
		f := newTimeFormatter(timeLayout(col.Format), col.Location())
		if g.Kind == KindEventTime {
			return func(s *EventSource, dst []byte) []byte {
				dst = append(dst, '"')
				return append(f.append(dst, s.eventTime), '"')
			}, nil
		}
		return func(s *EventSource, dst []byte) []byte {
			dst = append(dst, '"')
			return append(f.append(dst, s.insertTime), '"')
		}, nil
	case KindUser, KindSeq:
		if err := want(schema.Int, schema.String); err != nil {
			return nil, err
		}
		quote := col.Type == schema.String
		user := g.Kind == KindUser
		return func(s *EventSource, dst []byte) []byte {
			v := uint64(s.n)
			if user {
				v = s.user
			}
			if quote {
				dst = append(dst, '"')
				return append(strconv.AppendUint(dst, v, 10), '"')
			}
			return strconv.AppendUint(dst, v, 10)
		}, nil
	case KindUserIP:
		if err := want(schema.String); err != nil {
			return nil, err
		}
		return func(s *EventSource, dst []byte) []byte {
			dst = append(dst, '"')
			return append(appendIPv4(dst, userIPv4(s.cfg.Seed, s.user)), '"')
		}, nil
	case KindAlnum, KindHex:
		if err := want(schema.String); err != nil {
			return nil, err
		}
		n := g.Length
		if n <= 0 {
			n = 12
		}
		alphabet := alnumChars
		if g.Kind == KindHex {
			alphabet = hexChars
		}
		return func(s *EventSource, dst []byte) []byte {
			dst = append(dst, '"')
			return append(s.appendRandom(dst, alphabet, n), '"')
		}, nil
	case KindUUID:
		if err := want(schema.String); err != nil {
			return nil, err
		}
		return func(s *EventSource, dst []byte) []byte {
			dst = append(dst, '"')
			return append(s.appendUUID(dst), '"')
		}, nil
	case KindWeighted, KindChoice:
		return compileChoice(g, col)
	case KindInt:
		if err := want(schema.Int, schema.Float, schema.String); err != nil {
			return nil, err
		}
		lo, hi := int64(math.Ceil(g.Min)), int64(math.Floor(g.Max))
		if g.Max == 0 && g.Min == 0 {
			hi = 1000
		}
		if hi < lo {
			return nil, fmt.Errorf("gen int: max %g < min %g", g.Max, g.Min)
		}
		quote := col.Type == schema.String
		return func(s *EventSource, dst []byte) []byte {
			if quote {
				dst = append(dst, '"')
				return append(strconv.AppendInt(dst, s.r.between(lo, hi), 10), '"')
			}
			return strconv.AppendInt(dst, s.r.between(lo, hi), 10)
		}, nil
	case KindFloat:
		if err := want(schema.Float); err != nil {
			return nil, err
		}
		return compileFloat(g)
	case KindBool:
		if err := want(schema.Bool); err != nil {
			return nil, err
		}
		p := g.Min
		if p == 0 {
			p = 0.5
		}
		return func(s *EventSource, dst []byte) []byte {
			if s.r.float() < p {
				return append(dst, "true"...)
			}
			return append(dst, "false"...)
		}, nil
	case KindConst:
		lit, err := literal(col, g.Value)
		if err != nil {
			return nil, err
		}
		return func(_ *EventSource, dst []byte) []byte { return append(dst, lit...) }, nil
	}
	return nil, fmt.Errorf("unknown gen kind %q (want %s)", g.Kind, strings.Join([]string{KindEventTime, KindInsertionTime,
		KindUser, KindUserIP, KindAlnum, KindHex, KindUUID, KindWeighted, KindChoice, KindInt, KindFloat, KindBool, KindConst, KindSeq}, ", "))
}

func defaultGen(path string, col *schema.Column, eventTime string) schema.Gen {
	switch col.Type {
	case schema.Timestamp:
		if path == eventTime {
			return schema.Gen{Kind: KindEventTime}
		}
		return schema.Gen{Kind: KindInsertionTime}
	case schema.String:
		if len(col.Enum) > 0 {
			return schema.Gen{Kind: KindChoice}
		}
		return schema.Gen{Kind: KindAlnum, Length: 12}
	case schema.Int:
		return schema.Gen{Kind: KindInt, Min: 0, Max: 1000}
	case schema.Float:
		return schema.Gen{Kind: KindFloat, Min: 0, Max: 1000, Decimals: 2}
	default:
		return schema.Gen{Kind: KindBool}
	}
}

// timeLayout is a column's layout with fixed-width fractions, the way
// schema.Column.FormatTime writes it.
func timeLayout(format string) string {
	if format == "" || format == "rfc3339" {
		return "2006-01-02T15:04:05.000000Z07:00"
	}
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		if format[i] == '.' && i+1 < len(format) && format[i+1] == '9' {
			b.WriteByte('.')
			for i+1 < len(format) && format[i+1] == '9' {
				b.WriteByte('0')
				i++
			}
			continue
		}
		b.WriteByte(format[i])
	}
	return b.String()
}

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
