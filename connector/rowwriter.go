package connector

import (
	"fmt"
	"reflect"
	"strings"
	"time"
	"unsafe"

	"github.com/parquet-go/parquet-go"
)

// rowBuilder turns a decoded record into a Parquet row without reflection:
// the record type is built by schema.NewCodec from scalars, pointers to
// scalars (optional numbers), time.Time and nested structs, so every leaf
// is read at a fixed offset. It produces exactly what parquet.Schema's
// Deconstruct produces (rowwriter_test.go checks it), at a fraction of the
// cost and without allocating.
type rowBuilder struct {
	leaves []leaf
}

type leafKind uint8

const (
	leafString leafKind = iota
	leafInt
	leafFloat
	leafBool
	leafTime
	leafIntPtr
	leafFloatPtr
	leafBoolPtr
)

type leaf struct {
	off      uintptr
	kind     leafKind
	optional bool // definition level 1 when set, NULL otherwise
}

// newRowBuilder maps the leaves of t (the codec's record type) in the
// order parquet.SchemaOf gives them column indexes; it fails for any field
// shape it does not know, and the caller then uses Deconstruct.
func newRowBuilder(t reflect.Type) (*rowBuilder, error) {
	b := &rowBuilder{}
	if err := b.walk(t, 0); err != nil {
		return nil, err
	}
	return b, nil
}

var timeType = reflect.TypeOf(time.Time{})

func (b *rowBuilder) walk(t reflect.Type, base uintptr) error {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("parquet")
		if tag == "-" {
			continue
		}
		opts := strings.Split(tag, ",")[1:]
		optional := false
		for _, o := range opts {
			switch {
			case o == "optional":
				optional = true
			case o == "timestamp(microsecond)":
			default:
				return fmt.Errorf("field %s: parquet option %q", f.Name, o)
			}
		}
		l := leaf{off: base + f.Offset, optional: optional}
		switch {
		case f.Type == timeType:
			l.kind = leafTime
		case f.Type.Kind() == reflect.Struct:
			if optional {
				return fmt.Errorf("field %s: optional struct", f.Name)
			}
			if err := b.walk(f.Type, base+f.Offset); err != nil {
				return err
			}
			continue
		case f.Type.Kind() == reflect.String:
			l.kind = leafString
		case f.Type.Kind() == reflect.Int64:
			l.kind = leafInt
		case f.Type.Kind() == reflect.Float64:
			l.kind = leafFloat
		case f.Type.Kind() == reflect.Bool:
			l.kind = leafBool
		case f.Type.Kind() == reflect.Pointer && optional:
			switch f.Type.Elem().Kind() {
			case reflect.Int64:
				l.kind = leafIntPtr
			case reflect.Float64:
				l.kind = leafFloatPtr
			case reflect.Bool:
				l.kind = leafBoolPtr
			default:
				return fmt.Errorf("field %s: pointer to %s", f.Name, f.Type.Elem())
			}
		default:
			return fmt.Errorf("field %s: type %s", f.Name, f.Type)
		}
		b.leaves = append(b.leaves, l)
	}
	return nil
}

// build appends the row of rec (a pointer to the record type) to row.
func (b *rowBuilder) build(row parquet.Row, rec any) parquet.Row {
	p := reflect.ValueOf(rec).UnsafePointer()
	for i := range b.leaves {
		l := &b.leaves[i]
		at := unsafe.Add(p, l.off)
		var v parquet.Value
		null := false
		switch l.kind {
		case leafString:
			s := *(*string)(at)
			if l.optional && s == "" {
				null = true
			} else {
				v = parquet.ByteArrayValue(unsafe.Slice(unsafe.StringData(s), len(s)))
			}
		case leafInt:
			x := *(*int64)(at)
			null = l.optional && x == 0
			v = parquet.Int64Value(x)
		case leafFloat:
			x := *(*float64)(at)
			null = l.optional && x == 0
			v = parquet.DoubleValue(x)
		case leafBool:
			x := *(*bool)(at)
			null = l.optional && !x
			v = parquet.BooleanValue(x)
		case leafTime:
			t := (*time.Time)(at)
			if l.optional && t.IsZero() {
				null = true
			} else {
				v = parquet.Int64Value(t.UnixMicro())
			}
		case leafIntPtr:
			if x := *(**int64)(at); x != nil {
				v = parquet.Int64Value(*x)
			} else {
				null = true
			}
		case leafFloatPtr:
			if x := *(**float64)(at); x != nil {
				v = parquet.DoubleValue(*x)
			} else {
				null = true
			}
		case leafBoolPtr:
			if x := *(**bool)(at); x != nil {
				v = parquet.BooleanValue(*x)
			} else {
				null = true
			}
		}
		def := 0
		if l.optional && !null {
			def = 1
		}
		if null {
			v = parquet.NullValue()
		}
		row = append(row, v.Level(0, def, i))
	}
	return row
}
