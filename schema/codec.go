package schema

import (
	"errors"
	"fmt"
	"reflect"
	"time"
	"unsafe"

	json "github.com/goccy/go-json"
)

// Codec turns the JSON events of one schema into records: values of a Go
// struct type built at run time with reflect.StructOf. goccy/go-json decodes
// into it, expr type-checks rules against it and parquet-go writes it, so a
// schema known only at run time still gets struct speed (DESIGN.md §5).
//
// A timestamp column becomes two fields: the raw string as it came in (kept
// so a record re-encodes to the same text) and the parsed time.Time, which is
// what rules and Parquet see.
type Codec struct {
	Schema *Schema

	typ       reflect.Type
	times     []timeField
	enums     []enumField
	required  []stringField
	eventTime uintptr // offset of the parsed event-time field
}

type timeField struct {
	raw, parsed uintptr // offsets from the start of the struct
	col         *Column
	path        string
}

type enumField struct {
	off     uintptr
	allowed map[string]struct{}
	path    string
	opt     bool
}

type stringField struct {
	off  uintptr
	path string
}

// InvalidError says why an event does not fit its schema.
type InvalidError struct{ Reason string }

func (e *InvalidError) Error() string { return e.Reason }

// ErrInvalid matches every InvalidError with errors.Is.
var ErrInvalid = errors.New("event does not match schema")

// Is lets errors.Is(err, ErrInvalid) find schema violations.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

var timeType = reflect.TypeOf(time.Time{})

// NewCodec builds the record type of s.
func NewCodec(s *Schema) *Codec {
	c := &Codec{Schema: s}
	c.typ = c.structOf(s.Columns)
	c.locate(c.typ, s.Columns, 0, "")
	for _, t := range c.times {
		if t.path == s.EventTime {
			c.eventTime = t.parsed
		}
	}
	return c
}

func tag(name string, extraParquet string) reflect.StructTag {
	return reflect.StructTag(fmt.Sprintf(`json:"%s" parquet:"%s%s" expr:"%s"`, name, name, extraParquet, name))
}

func (c *Codec) structOf(cols []Column) reflect.Type {
	fields := make([]reflect.StructField, 0, len(cols)+2)
	for i, col := range cols {
		opt := ""
		if col.Optional {
			opt = ",optional"
		}
		switch col.Type {
		case Timestamp:
			fields = append(fields,
				reflect.StructField{Name: fmt.Sprintf("R%d", i), Type: reflect.TypeOf(""),
					Tag: reflect.StructTag(fmt.Sprintf(`json:"%s" parquet:"-" expr:"-"`, col.Name))},
				reflect.StructField{Name: fmt.Sprintf("T%d", i), Type: timeType,
					Tag: reflect.StructTag(fmt.Sprintf(`json:"-" parquet:"%s,timestamp(microsecond)%s" expr:"%s"`, col.Name, opt, col.Name))})
		case Struct:
			fields = append(fields, reflect.StructField{Name: fmt.Sprintf("F%d", i), Type: c.structOf(col.Fields), Tag: tag(col.Name, "")})
		default:
			t := scalarType(col.Type)
			if col.Optional && col.Type != String {
				t = reflect.PointerTo(t)
				opt = ",optional"
			}
			fields = append(fields, reflect.StructField{Name: fmt.Sprintf("F%d", i), Type: t, Tag: tag(col.Name, opt)})
		}
	}
	return reflect.StructOf(fields)
}

func scalarType(t Type) reflect.Type {
	switch t {
	case Int:
		return reflect.TypeOf(int64(0))
	case Float:
		return reflect.TypeOf(float64(0))
	case Bool:
		return reflect.TypeOf(false)
	default:
		return reflect.TypeOf("")
	}
}

// locate records the offsets of fields that need work after decoding.
func (c *Codec) locate(t reflect.Type, cols []Column, base uintptr, prefix string) {
	for i := range cols {
		col := &cols[i]
		path := prefix + col.Name
		switch col.Type {
		case Timestamp:
			raw, _ := t.FieldByName(fmt.Sprintf("R%d", i))
			parsed, _ := t.FieldByName(fmt.Sprintf("T%d", i))
			c.times = append(c.times, timeField{raw: base + raw.Offset, parsed: base + parsed.Offset, col: col, path: path})
		case Struct:
			f, _ := t.FieldByName(fmt.Sprintf("F%d", i))
			c.locate(f.Type, col.Fields, base+f.Offset, path+".")
		case String:
			f, _ := t.FieldByName(fmt.Sprintf("F%d", i))
			if len(col.Enum) > 0 {
				set := make(map[string]struct{}, len(col.Enum))
				for _, v := range col.Enum {
					set[v] = struct{}{}
				}
				c.enums = append(c.enums, enumField{off: base + f.Offset, allowed: set, path: path, opt: col.Optional})
			} else if !col.Optional {
				c.required = append(c.required, stringField{off: base + f.Offset, path: path})
			}
		}
	}
}

// Type is the record struct type (not a pointer).
func (c *Codec) Type() reflect.Type { return c.typ }

// New returns a pointer to a zero record.
func (c *Codec) New() any { return reflect.New(c.typ).Interface() }

// Zero returns a zero record value (not a pointer): the environment rules
// are type-checked against.
func (c *Codec) Zero() any { return reflect.New(c.typ).Elem().Interface() }

// Decode parses one JSON event into a new record.
func (c *Codec) Decode(data []byte) (any, error) {
	rec := c.New()
	if err := c.DecodeInto(data, rec); err != nil {
		return nil, err
	}
	return rec, nil
}

// DecodeInto parses one JSON event into rec, a pointer from New, and checks
// it against the schema: types, timestamps, enums and required strings.
func (c *Codec) DecodeInto(data []byte, rec any) error { return c.decode(data, rec) }

// DecodeIntoRef is DecodeInto, but the record's strings refer to data
// instead of being copies of it (goccy/go-json's DecodeNoCopyString): no
// allocation per string field, which was most of the processor's
// allocations. The record is then only valid while data is unchanged, and
// a string kept from it keeps data alive: for callers that copy whatever
// they keep past data's reuse.
func (c *Codec) DecodeIntoRef(data []byte, rec any) error {
	return c.decode(data, rec, json.DecodeNoCopyString())
}

func (c *Codec) decode(data []byte, rec any, opts ...json.DecodeOptionFunc) error {
	if err := json.UnmarshalNoEscape(data, rec, opts...); err != nil {
		return &InvalidError{Reason: "decoding JSON: " + err.Error()}
	}
	return c.finish(rec)
}

func (c *Codec) finish(rec any) error {
	p := reflect.ValueOf(rec).UnsafePointer()
	for i := range c.times {
		tf := &c.times[i]
		raw := *(*string)(unsafe.Add(p, tf.raw))
		dst := (*time.Time)(unsafe.Add(p, tf.parsed))
		if raw == "" {
			if tf.col.Optional {
				*dst = time.Time{}
				continue
			}
			return &InvalidError{Reason: fmt.Sprintf("missing timestamp %s", tf.path)}
		}
		t, err := tf.col.ParseTime(raw)
		if err != nil {
			return &InvalidError{Reason: fmt.Sprintf("timestamp %s: %q does not match format %q", tf.path, raw, tf.col.Format)}
		}
		*dst = t
	}
	for i := range c.enums {
		ef := &c.enums[i]
		v := *(*string)(unsafe.Add(p, ef.off))
		if v == "" && ef.opt {
			continue
		}
		if _, ok := ef.allowed[v]; !ok {
			return &InvalidError{Reason: fmt.Sprintf("%s: %q is not one of the schema's values", ef.path, v)}
		}
	}
	for i := range c.required {
		if *(*string)(unsafe.Add(p, c.required[i].off)) == "" {
			return &InvalidError{Reason: fmt.Sprintf("missing %s", c.required[i].path)}
		}
	}
	return nil
}

// EventTime returns the event time of rec, a pointer from New or Decode.
func (c *Codec) EventTime(rec any) time.Time {
	return *(*time.Time)(unsafe.Add(reflect.ValueOf(rec).UnsafePointer(), c.eventTime))
}

// Encode renders rec as JSON, with timestamps as they came in.
func (c *Codec) Encode(rec any) ([]byte, error) { return json.Marshal(rec) }
