package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/sluicehq/sluice/schema"
)

// InferOptions name the inferred schema.
type InferOptions struct {
	Name  string // schema name; default "events"
	Topic string // default the name
	Zone  string // zone of timestamps written without one; default UTC
}

// Validate checks the options before any sample is read: a name or zone
// the schema file cannot hold is the caller's mistake, not the inference's.
// Empty values take their defaults.
func (o InferOptions) Validate() error {
	if o.Name != "" && !identRe.MatchString(o.Name) {
		return fmt.Errorf("--name %q: must be an identifier (letters, digits, _)", o.Name)
	}
	if o.Zone != "" {
		if _, err := time.LoadLocation(o.Zone); err != nil {
			return fmt.Errorf("--zone %q: unknown time zone", o.Zone)
		}
	}
	return nil
}

// Inference is what Infer found.
type Inference struct {
	Schema  *schema.Schema
	YAML    []byte   // the schema file, ready to save (it loads with schema.Parse)
	Samples int      // events read
	Notes   []string // fields left out and choices worth a look

	zone string
}

// ErrNoSamples is returned for input without a single JSON object.
var ErrNoSamples = errors.New("no JSON objects in the input")

// kind is the widened type of a field across samples.
type kind int

const (
	kNone   kind = iota // only null seen so far
	kBool               // true/false
	kInt                // integers
	kFloat              // numbers with a fraction or exponent (ints widen to it)
	kTime               // strings that all parse with at least one layout
	kString             // anything else; the widest scalar
	kStruct             // objects
	kArray              // arrays: no schema type; reported and left out
)

type field struct {
	name    string
	kind    kind
	seen    int      // samples where the field is present and not null
	layouts []string // kTime: layouts every value so far parses with
	fields  []*field // kStruct, in order of first appearance
	index   map[string]*field
	values  map[string]bool // kString: distinct values, to spot enums (nil when too many)
	mixed   bool            // a struct met a scalar, or the like
	zoned   bool            // kTime: some value carried a zone
}

var zoneRe = regexp.MustCompile(`(Z|[+-]\d\d:?\d\d)$`)

// timeLayouts are the timestamp formats recognised, most specific first.
// "rfc3339" is the schema's name for RFC 3339 with an optional zone.
var timeLayouts = []struct {
	name string
	re   *regexp.Regexp
}{
	{"rfc3339", regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)?$`)},
	{"2006-01-02 15:04:05.999999999", regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,9})?$`)},
	{"2006-01-02 15:04:05.999999999Z07:00", regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$`)},
	{"2006/01/02 15:04:05", regexp.MustCompile(`^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d$`)},
	{"02/Jan/2006:15:04:05 -0700", regexp.MustCompile(`^\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}$`)},
	{time.RFC1123Z, regexp.MustCompile(`^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d [+-]\d{4}$`)},
}

// maxEnum is the most distinct values a string field may have to be
// proposed as an enum, and only when seen often enough to be a pattern.
const maxEnum = 12

// Infer reads sample events — NDJSON, or concatenated JSON objects as
// Firehose delivers them — and returns a schema that decodes all of them:
// types widened across samples (int to float to string), nested objects as
// structs, timestamp formats detected, fields missing or null somewhere
// marked optional, small closed sets of strings proposed as enums.
func Infer(r io.Reader, o InferOptions) (*Inference, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.Name == "" {
		o.Name = "events"
	}
	if o.Topic == "" {
		o.Topic = o.Name
	}
	if o.Zone == "" {
		o.Zone = "UTC"
	}
	root := &field{kind: kStruct, index: map[string]*field{}}
	dec := json.NewDecoder(r)
	dec.UseNumber()
	n := 0
	for {
		v, err := readValue(dec)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading sample %d: %w", n+1, err)
		}
		obj, ok := v.(object)
		if !ok {
			return nil, fmt.Errorf("sample %d is not a JSON object", n+1)
		}
		n++
		root.seen++
		mergeObject(root, obj)
	}
	if n == 0 {
		return nil, ErrNoSamples
	}
	inf := &Inference{Samples: n, zone: o.Zone}
	s := &schema.Schema{Name: o.Name, Topic: o.Topic, Zone: o.Zone,
		Description: fmt.Sprintf("inferred by sluice schema infer from %d sample events", n)}
	s.Columns = inf.columns(root, "", n)
	if len(s.Columns) == 0 {
		return nil, errors.New("no field could be typed")
	}
	s.EventTime = pickEventTime(s.Columns)
	if s.EventTime == "" {
		inf.Notes = append(inf.Notes, "no timestamp field found: event_time is left empty, set it before use")
	}
	out, err := yaml.MarshalWithOptions(s, yaml.IndentSequence(true))
	if err != nil {
		return nil, fmt.Errorf("rendering schema: %w", err)
	}
	var head bytes.Buffer
	fmt.Fprintf(&head, "# Inferred by `sluice schema infer` from %d sample events. Review before use:\n", n)
	head.WriteString("# enums and optional fields reflect only the samples seen.\n")
	for _, note := range inf.Notes {
		fmt.Fprintf(&head, "# note: %s\n", note)
	}
	inf.YAML = append(head.Bytes(), out...)
	if s.EventTime != "" {
		parsed, err := schema.Parse(o.Name+".yaml", inf.YAML)
		if err != nil {
			return nil, fmt.Errorf("inferred schema does not load (a bug): %w", err)
		}
		inf.Schema = parsed
	} else {
		inf.Schema = s
	}
	return inf, nil
}

// object is a JSON object with its keys in the order of the sample, so
// columns come out in the order producers write them.
type object []member

type member struct {
	key   string
	value any
}

// readValue reads one JSON value, keeping object key order.
func readValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			var o object
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				v, err := readValue(dec)
				if err != nil {
					return nil, err
				}
				o = append(o, member{kt.(string), v})
			}
			_, err := dec.Token()
			return o, err
		case '[':
			var a []any
			for dec.More() {
				v, err := readValue(dec)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			_, err := dec.Token()
			return a, err
		}
		return nil, fmt.Errorf("unexpected %v", t)
	}
	return tok, nil
}

func mergeObject(f *field, obj object) {
	for _, m := range obj {
		c := f.index[m.key]
		if c == nil {
			c = &field{name: m.key, values: map[string]bool{}}
			f.index[m.key] = c
			f.fields = append(f.fields, c)
		}
		merge(c, m.value)
	}
}

func merge(f *field, v any) {
	if v == nil {
		return
	}
	f.seen++
	var k kind
	switch x := v.(type) {
	case bool:
		k = kBool
	case json.Number:
		k = kInt
		if strings.ContainsAny(x.String(), ".eE") {
			k = kFloat
		}
	case string:
		k = kString
		if ls := matchLayouts(x, f); len(ls) > 0 {
			k = kTime
			f.layouts = ls
			f.zoned = f.zoned || zoneRe.MatchString(x)
		}
		if f.values != nil {
			f.values[x] = true
			if len(f.values) > maxEnum {
				f.values = nil
			}
		}
	case object:
		if f.kind != kNone && f.kind != kStruct {
			f.mixed = true
			f.kind = kString
			return
		}
		if f.index == nil {
			f.index = map[string]*field{}
		}
		f.kind = kStruct
		mergeObject(f, x)
		return
	case []any:
		f.kind = kArray
		return
	}
	f.kind = widen(f, k)
}

// matchLayouts returns the layouts s parses with, among those every
// earlier value of f parsed with.
func matchLayouts(s string, f *field) []string {
	if f.kind != kNone && f.kind != kTime {
		return nil
	}
	var out []string
	for _, l := range timeLayouts {
		if f.kind == kTime && !contains(f.layouts, l.name) {
			continue
		}
		if l.re.MatchString(s) {
			out = append(out, l.name)
		}
	}
	return out
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// widen combines the kind so far with the kind of a new value.
func widen(f *field, k kind) kind {
	switch {
	case f.kind == kArray || k == kArray:
		return kArray
	case f.kind == kNone || f.kind == k:
		return k
	case f.kind == kStruct:
		f.mixed = true
		return kString
	case (f.kind == kInt && k == kFloat) || (f.kind == kFloat && k == kInt):
		return kFloat
	}
	// Anything else (number and string, time and plain string, bool and
	// number) only fits a string.
	f.layouts = nil
	return kString
}

func (inf *Inference) columns(f *field, path string, parentSeen int) []schema.Column {
	var cols []schema.Column
	for _, c := range f.fields {
		p := path + c.name
		if !identRe.MatchString(c.name) {
			inf.Notes = append(inf.Notes, fmt.Sprintf("field %q left out: not an identifier", p))
			continue
		}
		col := schema.Column{Name: c.name, Optional: c.seen < parentSeen}
		switch c.kind {
		case kNone:
			inf.Notes = append(inf.Notes, fmt.Sprintf("field %s was always null: typed string", p))
			col.Type, col.Optional = schema.String, true
		case kArray:
			inf.Notes = append(inf.Notes, fmt.Sprintf("field %s left out: arrays have no column type yet", p))
			continue
		case kBool:
			col.Type = schema.Bool
		case kInt:
			col.Type = schema.Int
		case kFloat:
			col.Type = schema.Float
		case kTime:
			col.Type, col.Format = schema.Timestamp, c.layouts[0]
			if !c.zoned {
				inf.Notes = append(inf.Notes, fmt.Sprintf("timestamp %s carries no zone: it is read in zone %s; set zone to the producers' if they write local time", p, inf.zone))
			}
		case kString:
			col.Type = schema.String
			if c.mixed {
				inf.Notes = append(inf.Notes, fmt.Sprintf("field %s mixes objects and scalars: typed string, such events will be rejected", p))
			}
			if c.values != nil && len(c.values) > 1 && c.seen >= 4*len(c.values) && !c.mixed {
				for v := range c.values {
					col.Enum = append(col.Enum, v)
				}
				sort.Strings(col.Enum)
			}
		case kStruct:
			col.Type = schema.Struct
			col.Fields = inf.columns(c, p+".", c.seen)
			if len(col.Fields) == 0 {
				inf.Notes = append(inf.Notes, fmt.Sprintf("field %s left out: no typed field inside", p))
				continue
			}
		}
		cols = append(cols, col)
	}
	return cols
}

var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// pickEventTime prefers a required top-level timestamp whose name says it
// is the event's time.
func pickEventTime(cols []schema.Column) string {
	best, score := "", -1
	for _, c := range cols {
		if c.Type != schema.Timestamp {
			continue
		}
		sc := 1
		n := strings.ToLower(c.Name)
		switch {
		case strings.Contains(n, "insert") || strings.Contains(n, "ingest") || strings.Contains(n, "received"):
			sc = 0
		case n == "timestamp" || n == "event_time" || n == "ts" || strings.Contains(n, "event") || strings.Contains(n, "client"):
			sc = 3
		case strings.Contains(n, "time"):
			sc = 2
		}
		if c.Optional {
			sc -= 2
		}
		if sc > score {
			best, score = c.Name, sc
		}
	}
	return best
}
