package producer

import (
	"fmt"
	"maps"
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

// checkWeights fails on weights for a path that is no scalar column of
// the schema: a misspelt --weights would otherwise run, in silence, with
// the schema's own weights.
func checkWeights(s *schema.Schema, weights map[string]map[string]float64) error {
	for _, path := range slices.Sorted(maps.Keys(weights)) {
		if col := columnAt(s.Columns, path); col == nil || col.Type == schema.Struct {
			return fmt.Errorf("--weights %s: schema %s has no such scalar column (nested ones as parent.child)", path, s.Name)
		}
	}
	return nil
}

// columnAt finds the column at a dotted path (additional_data.price).
func columnAt(cols []schema.Column, path string) *schema.Column {
	name, rest, nested := strings.Cut(path, ".")
	for i := range cols {
		if cols[i].Name != name {
			continue
		}
		if !nested {
			return &cols[i]
		}
		return columnAt(cols[i].Fields, rest)
	}
	return nil
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
