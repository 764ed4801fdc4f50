package rule

import (
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/sluicehq/sluice/schema"
)

// value is one typed scalar, held without boxing so the hot path does not
// allocate, and small (32 bytes), as values are copied for every rule and
// event: a float is held as its bits in i, a timestamp as its Unix
// nanoseconds (as the state changelog and group keys hold it), the kind in
// one byte.
type value struct {
	s    string
	i    int64 // int, a float's bits (float), or a timestamp's Unix nanoseconds
	kind vkind
	null bool
	b    bool
}

// vkind is a value's type: schema.Type is a 16-byte string.
type vkind uint8

const (
	kString vkind = iota + 1
	kInt
	kFloat
	kBool
	kTimestamp
)

func kindOf(t schema.Type) vkind {
	switch t {
	case schema.String:
		return kString
	case schema.Int:
		return kInt
	case schema.Float:
		return kFloat
	case schema.Bool:
		return kBool
	default:
		return kTimestamp
	}
}

func timeVal(t time.Time) value { return value{kind: kTimestamp, i: t.UnixNano()} }

func floatVal(f float64) value { return value{kind: kFloat, i: int64(math.Float64bits(f))} }

// keep returns v fit to be kept in window state: with a string of its
// own. An event's strings refer to the fetched record's bytes
// (schema.Codec.DecodeIntoRef), which are reused once the transaction
// ends. A string that ends within (a group key ends with its last value's
// bytes) is taken from it instead of copied, as the state keeps the key
// anyway.
func (v value) keep(within string) value {
	if v.kind != kString || v.s == "" {
		return v
	}
	if strings.HasSuffix(within, v.s) {
		v.s = within[len(within)-len(v.s):]
	} else {
		v.s = strings.Clone(v.s)
	}
	return v
}

// float is a float value's number.
func (v value) float() float64 { return math.Float64frombits(uint64(v.i)) }

// time is a timestamp value's time, in UTC.
func (v value) time() time.Time { return unixTime(v.i) }

// accessor reads a scalar field straight out of a record at a fixed offset:
// group_by and aggregate arguments that are plain field paths skip expr.
type accessor struct {
	off  uintptr
	kind vkind
	ptr  bool // optional int/float/bool: a pointer field
}

func (a *accessor) read(rec any) value {
	p := unsafe.Add(reflect.ValueOf(rec).UnsafePointer(), a.off)
	if a.ptr {
		p = *(*unsafe.Pointer)(p)
		if p == nil {
			return value{kind: a.kind, null: true}
		}
	}
	switch a.kind {
	case kString:
		return value{kind: a.kind, s: *(*string)(p)}
	case kInt:
		return value{kind: a.kind, i: *(*int64)(p)}
	case kFloat:
		return floatVal(*(*float64)(p))
	case kBool:
		return value{kind: a.kind, b: *(*bool)(p)}
	default:
		return timeVal(*(*time.Time)(p))
	}
}

// fromAny converts an expr result to a value of kind k.
func fromAny(k vkind, v any) value {
	switch x := v.(type) {
	case nil:
		return value{kind: k, null: true}
	case string:
		return value{kind: k, s: x}
	case int:
		return value{kind: k, i: int64(x)}
	case int64:
		return value{kind: k, i: x}
	case *int64:
		if x == nil {
			return value{kind: k, null: true}
		}
		return value{kind: k, i: *x}
	case float64:
		return value{kind: k, i: int64(math.Float64bits(x))}
	case *float64:
		if x == nil {
			return value{kind: k, null: true}
		}
		return value{kind: k, i: int64(math.Float64bits(*x))}
	case bool:
		return value{kind: k, b: x}
	case time.Time:
		return value{kind: k, i: x.UnixNano()}
	default:
		return value{kind: k, s: fmt.Sprint(x)}
	}
}

// number returns v as a float64 (sum, avg, min and max over numbers).
func (v value) number() float64 {
	if v.kind == kInt {
		return float64(v.i)
	}
	return v.float()
}

// appendKey appends an unambiguous binary form of v (group keys).
func (v value) appendKey(b []byte) []byte {
	if v.null {
		return append(b, 0)
	}
	switch v.kind {
	case kString:
		b = append(b, 1)
		b = binary.AppendUvarint(b, uint64(len(v.s)))
		return append(b, v.s...)
	case kInt:
		return binary.BigEndian.AppendUint64(append(b, 2), uint64(v.i))
	case kFloat:
		return binary.BigEndian.AppendUint64(append(b, 3), uint64(v.i))
	case kBool:
		if v.b {
			return append(b, 4, 1)
		}
		return append(b, 4, 0)
	default:
		return binary.BigEndian.AppendUint64(append(b, 5), uint64(v.i))
	}
}

// appendText appends v as plain text (record keys).
func (v value) appendText(b []byte) []byte {
	if v.null {
		return b
	}
	switch v.kind {
	case kString:
		return append(b, v.s...)
	case kInt:
		return strconv.AppendInt(b, v.i, 10)
	case kFloat:
		return strconv.AppendFloat(b, v.float(), 'g', -1, 64)
	case kBool:
		return strconv.AppendBool(b, v.b)
	default:
		return v.time().AppendFormat(b, time.RFC3339Nano)
	}
}

// appendJSON appends v as a JSON value.
func (v value) appendJSON(b []byte) []byte {
	if v.null {
		return append(b, "null"...)
	}
	switch v.kind {
	case kString:
		return appendJSONString(b, v.s)
	case kInt:
		return strconv.AppendInt(b, v.i, 10)
	case kFloat:
		f := v.float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return append(b, "null"...)
		}
		return strconv.AppendFloat(b, f, 'g', -1, 64)
	case kBool:
		return strconv.AppendBool(b, v.b)
	default:
		b = append(b, '"')
		b = v.time().AppendFormat(b, time.RFC3339Nano)
		return append(b, '"')
	}
}

// less orders values of one kind (min, max, sorting groups).
func (v value) less(o value) bool {
	switch v.kind {
	case kString:
		return v.s < o.s
	case kInt:
		return v.i < o.i
	case kFloat:
		// A total order, so that min and max do not depend on the order
		// values (or partials) come in: -0 before 0 (equal, but they print
		// differently), and NaN (an expression such as 0.0/0.0 makes one)
		// after every number, as in PostgreSQL.
		x, y := v.float(), o.float()
		if math.IsNaN(x) || math.IsNaN(y) {
			return !math.IsNaN(x)
		}
		return x < y || x == 0 && y == 0 && math.Signbit(x) && !math.Signbit(y)
	case kBool:
		return !v.b && o.b
	default:
		return v.i < o.i
	}
}

const hexDigits = "0123456789abcdef"

func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
