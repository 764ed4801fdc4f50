package rule

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/sluicehq/sluice/schema"
)

// MaxNodes bounds the size of every expression (expr.MaxNodes).
const MaxNodes = 2000

// DefaultDistinctExact is how many distinct values per group count_distinct
// keeps exactly before it switches to HyperLogLog.
const DefaultDistinctExact = 1000

// Rule is a compiled rule, ready to run.
type Rule struct {
	Name        string
	Description string
	Source      string // source schema name
	Output      string // output topic
	Spec        *Spec
	Schema      *schema.Schema // the source schema
	Codec       *schema.Codec
	Window      *WindowSpec // nil for a filter
	// Hash fingerprints what decides the rule's state (source, where,
	// window, group_by, aggregate, having, and the state's encoding): a
	// changed hash resets the state.
	Hash string

	where   *vm.Program
	fast    pred // where compiled to Go, when it has a simple shape
	sel     []column
	key     *column
	groups  []column
	aggs    []aggregate
	having  *vm.Program
	htype   reflect.Type // the struct having is evaluated against
	out     *schema.Schema
	evTime  *schema.Column
	rawTime accessor // raw text of the event-time column (select carries it)
}

// column is one output column computed from the input record.
type column struct {
	name     string
	typ      schema.Type
	prog     *vm.Program
	acc      *accessor    // fast path for a plain field path
	raw      *accessor    // timestamp field path: output the text as it came in
	whole    reflect.Type // struct field path: encode the nested object
	wholeOff uintptr
	src      *schema.Column // the schema column when the expression is a field path
}

// aggregate is one compiled aggregate.
type aggregate struct {
	name string
	fn   string
	op   aggOp   // fn, switched on per event
	arg  *column // nil for count()
	typ  schema.Type
}

var nameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// IsFilter says whether the rule is a filter (no window).
func (r *Rule) IsFilter() bool { return r.Window == nil }

// OutputSchema describes the rule's output records, so a sink can write
// them: a filter without select emits source records (the source schema
// under the output topic); a projection emits its columns plus the event
// time; a window emits group columns, aggregates, window_start (its event
// time) and window_end.
func (r *Rule) OutputSchema() *schema.Schema { return r.out }

type compiler struct {
	s     *Spec
	sc    *schema.Schema
	codec *schema.Codec
	env   any
}

// Compile type-checks a Spec against its source schema and compiles its
// expressions once. Errors are positioned in the rule file.
func Compile(s *Spec, schemas map[string]*schema.Schema) (*Rule, error) {
	loc := s.Loc
	if !nameRe.MatchString(s.Name) {
		return nil, loc.Errorf("$.name", "rule name %q must be an identifier (letters, digits, _)", s.Name)
	}
	if s.Source == "" {
		return nil, loc.Errorf("$.source", "source is required: the schema of the input stream (%s)", knownSchemas(schemas))
	}
	sc, ok := schemas[s.Source]
	if !ok {
		return nil, loc.Errorf("$.source", "unknown source schema %q (known: %s)", s.Source, knownSchemas(schemas))
	}
	if s.Output == "" {
		return nil, loc.Errorf("$.output", "output topic is required")
	}
	if s.Output == sc.Topic {
		return nil, loc.Errorf("$.output", "output topic %q is the source topic: that would loop", s.Output)
	}
	codec := schema.NewCodec(sc)
	c := &compiler{s: s, sc: sc, codec: codec, env: codec.Zero()}
	r := &Rule{Name: s.Name, Description: s.Description, Source: sc.Name, Output: s.Output, Spec: s,
		Schema: sc, Codec: codec, Window: s.Window, evTime: sc.Column(sc.EventTime)}
	r.rawTime = *c.rawAccessor(sc.EventTime)
	var err error
	if strings.TrimSpace(s.Where.Text) != "" {
		if r.where, err = c.compile(s.Where, expr.AsBool()); err != nil {
			return nil, err
		}
		r.fast = c.fastPred(r.where.Node())
	}
	if strings.TrimSpace(s.Key.Text) != "" {
		k, err := c.column(Named{Name: "key", Expr: s.Key})
		if err != nil {
			return nil, err
		}
		if k.whole != nil {
			return nil, loc.Errorf(s.Key.Path, "key must be a scalar, not an object")
		}
		r.key = &k
	}
	if s.Window == nil {
		if len(s.GroupBy) > 0 || len(s.Aggregates) > 0 || s.Having.Text != "" {
			return nil, loc.Errorf("$", "group_by, aggregate and having need a window")
		}
		if err := c.filter(r); err != nil {
			return nil, err
		}
	} else if err := c.window(r); err != nil {
		return nil, err
	}
	r.Hash = fingerprint(s, r.Combines())
	return r, nil
}

func knownSchemas(m map[string]*schema.Schema) string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func (c *compiler) filter(r *Rule) error {
	if len(c.s.Select) == 0 {
		out := *c.sc
		out.Name, out.Topic, out.Source = r.Name, r.Output, c.s.File
		out.Description = r.Description
		r.out = &out
		return nil
	}
	out := &schema.Schema{Name: r.Name, Topic: r.Output, Description: r.Description, Zone: c.sc.Zone, Source: c.s.File}
	seen := map[string]string{}
	for _, n := range c.s.Select {
		if !nameRe.MatchString(n.Name) {
			return c.s.Loc.Errorf(n.Expr.Path, "column name %q must be an identifier", n.Name)
		}
		if p, dup := seen[n.Name]; dup {
			return c.s.Loc.Errorf(n.Expr.Path, "column %q is already selected at %s", n.Name, p)
		}
		seen[n.Name] = n.Expr.Path
		col, err := c.column(n)
		if err != nil {
			return err
		}
		r.sel = append(r.sel, col)
		out.Columns = append(out.Columns, col.schemaColumn())
		if col.src != nil && col.src.Type == schema.Timestamp && strings.TrimSpace(n.Expr.Text) == c.sc.EventTime {
			out.EventTime = n.Name
		}
	}
	if out.EventTime == "" {
		// The event time always travels with a projection: sinks partition by it.
		if _, dup := seen[c.sc.EventTime]; dup {
			return c.s.Loc.Errorf("$.select", "select names a column %q that is not the event time; rename it (the event time is added under that name)", c.sc.EventTime)
		}
		col, err := c.column(Named{Name: c.sc.EventTime, Expr: Expr{Text: c.sc.EventTime, Path: "$.select"}})
		if err != nil {
			return err
		}
		r.sel = append(r.sel, col)
		out.Columns = append(out.Columns, col.schemaColumn())
		out.EventTime = c.sc.EventTime
	}
	r.out = out
	return nil
}

func (c *compiler) window(r *Rule) error {
	w, loc := c.s.Window, c.s.Loc
	switch w.Type {
	case Tumbling:
		if w.Size <= 0 {
			return loc.Errorf("$.window", "a tumbling window needs size (e.g. size: 1m)")
		}
	case Hopping:
		if w.Size <= 0 || w.Every <= 0 {
			return loc.Errorf("$.window", "a hopping window needs size and every (e.g. size: 5m, every: 1m)")
		}
		if w.Every > w.Size {
			return loc.Errorf("$.window.every", "every (%s) must not exceed size (%s)", w.Every, w.Size)
		}
		if w.Size/w.Every > 1000 {
			return loc.Errorf("$.window.every", "size/every is %d windows per event; keep it under 1000", w.Size/w.Every)
		}
	case Session:
		if w.Gap <= 0 {
			return loc.Errorf("$.window", "a session window needs gap (e.g. gap: 30m)")
		}
	case "":
		return loc.Errorf("$.window", "window type is required: tumbling, hopping or session")
	default:
		return loc.Errorf("$.window.type", "unknown window type %q (want tumbling, hopping or session)", w.Type)
	}
	if w.DistinctExact <= 0 {
		w.DistinctExact = DefaultDistinctExact
	}
	if r.key != nil {
		return loc.Errorf(c.s.Key.Path, "key is for filters; window results are keyed by their group values")
	}
	if len(c.s.Select) > 0 {
		return loc.Errorf("$.select", "select is for filters; a window's columns are its group_by and aggregate")
	}
	if len(c.s.Aggregates) == 0 {
		return loc.Errorf("$.window", "a window needs at least one aggregate (e.g. aggregate: {events: count()})")
	}
	out := &schema.Schema{Name: r.Name, Topic: r.Output, Description: r.Description, Zone: "UTC", Source: c.s.File, EventTime: "window_start"}
	seen := map[string]bool{"window_start": true, "window_end": true}
	hfields := []reflect.StructField{}
	// A column that may be null (an optional group column; min, max and
	// avg of no values) is a pointer in having's struct, so that having
	// sees a null as nil (`lo != nil`, `lo ?? 0`), as SQL's HAVING sees
	// NULL, rather than as the type's zero value.
	addH := func(name string, t schema.Type, optional bool) {
		gt := goType(t)
		if optional {
			gt = reflect.PointerTo(gt)
		}
		hfields = append(hfields, reflect.StructField{Name: fmt.Sprintf("H%d", len(hfields)), Type: gt,
			Tag: reflect.StructTag(fmt.Sprintf(`expr:"%s"`, name))})
	}
	for _, n := range c.s.GroupBy {
		if !nameRe.MatchString(n.Name) || seen[n.Name] {
			return loc.Errorf(n.Expr.Path, "group column name %q must be a unique identifier (window_start and window_end are taken)", n.Name)
		}
		seen[n.Name] = true
		col, err := c.column(n)
		if err != nil {
			return err
		}
		if col.whole != nil {
			return loc.Errorf(n.Expr.Path, "cannot group by an object; pick one of its fields")
		}
		col.raw = nil // group values are emitted in RFC 3339
		r.groups = append(r.groups, col)
		sc := col.schemaColumn()
		if sc.Type == schema.Timestamp {
			sc.Format, sc.Zone = "rfc3339", ""
		}
		out.Columns = append(out.Columns, sc)
		addH(n.Name, col.typ, sc.Optional)
	}
	for _, a := range c.s.Aggregates {
		if !nameRe.MatchString(a.Name) || seen[a.Name] {
			return loc.Errorf(a.Path, "aggregate name %q must be a unique identifier", a.Name)
		}
		seen[a.Name] = true
		ag := aggregate{name: a.Name, fn: a.Func}
		hasArg := strings.TrimSpace(a.Arg.Text) != "" && strings.TrimSpace(a.Arg.Text) != "*"
		if hasArg {
			col, err := c.column(Named{Name: a.Name, Expr: a.Arg})
			if err != nil {
				return err
			}
			if col.whole != nil {
				return loc.Errorf(a.Path, "%s(): cannot aggregate an object; pick one of its fields", a.Func)
			}
			ag.arg = &col
		}
		switch a.Func {
		case "count":
			ag.typ = schema.Int
			if hasArg {
				return loc.ErrorAt(a.Path, a.Arg.Offset, 1, 0, "count() takes no argument (count_distinct(x) counts distinct values)")
			}
		case "count_distinct":
			ag.typ = schema.Int
			if !hasArg {
				return loc.Errorf(a.Path, "count_distinct needs an argument, e.g. count_distinct(user_id)")
			}
		case "sum", "avg", "min", "max":
			if !hasArg {
				return loc.Errorf(a.Path, "%s needs an argument, e.g. %s(additional_data.price)", a.Func, a.Func)
			}
			t := ag.arg.typ
			numeric := t == schema.Int || t == schema.Float
			switch {
			case (a.Func == "sum" || a.Func == "avg") && !numeric:
				return loc.ErrorAt(a.Path, a.Arg.Offset, 1, 0, fmt.Sprintf("%s needs a number, but %s is %s", a.Func, strings.TrimSpace(a.Arg.Text), t))
			case (a.Func == "min" || a.Func == "max") && !(numeric || t == schema.Timestamp || t == schema.String):
				return loc.ErrorAt(a.Path, a.Arg.Offset, 1, 0, fmt.Sprintf("%s needs a number, string or timestamp, but %s is %s", a.Func, strings.TrimSpace(a.Arg.Text), t))
			}
			ag.typ = t
			if a.Func == "avg" {
				ag.typ = schema.Float
			}
		default:
			return loc.Errorf(a.Path, "unknown aggregate %q (want count, sum, min, max, avg or count_distinct)", a.Func)
		}
		ag.op = aggOps[a.Func]
		r.aggs = append(r.aggs, ag)
		col := schema.Column{Name: a.Name, Type: ag.typ, Optional: a.Func == "min" || a.Func == "max" || a.Func == "avg"}
		if ag.typ == schema.Timestamp {
			col.Format = "rfc3339"
		}
		out.Columns = append(out.Columns, col)
		addH(a.Name, ag.typ, col.Optional)
	}
	out.Columns = append(out.Columns,
		schema.Column{Name: "window_start", Type: schema.Timestamp, Format: "rfc3339", Description: "start of the window (inclusive)"},
		schema.Column{Name: "window_end", Type: schema.Timestamp, Format: "rfc3339", Description: "end of the window (exclusive)"})
	addH("window_start", schema.Timestamp, false)
	addH("window_end", schema.Timestamp, false)
	if w.EmitEvery > 0 {
		out.Columns = append(out.Columns, schema.Column{Name: "final", Type: schema.Bool, Description: "false for an early update, true for the result at the window's close"})
		addH("final", schema.Bool, false)
	}
	r.out = out
	r.htype = reflect.StructOf(hfields)
	if strings.TrimSpace(c.s.Having.Text) != "" {
		hc := &compiler{s: c.s, sc: c.sc, env: reflect.New(r.htype).Elem().Interface()}
		p, err := hc.compile(c.s.Having, expr.AsBool())
		if err != nil {
			return err
		}
		r.having = p
	}
	return nil
}

func goType(t schema.Type) reflect.Type {
	switch t {
	case schema.Int:
		return reflect.TypeOf(int64(0))
	case schema.Float:
		return reflect.TypeOf(float64(0))
	case schema.Bool:
		return reflect.TypeOf(false)
	case schema.Timestamp:
		return reflect.TypeOf(time.Time{})
	default:
		return reflect.TypeOf("")
	}
}

func (col *column) schemaColumn() schema.Column {
	if col.src != nil {
		sc := *col.src
		sc.Name = col.name
		sc.Gen = nil
		return sc
	}
	sc := schema.Column{Name: col.name, Type: col.typ}
	if col.typ == schema.Timestamp {
		sc.Format = "rfc3339"
	}
	return sc
}

// column compiles an expression that yields one output column.
func (c *compiler) column(n Named) (column, error) {
	p, err := c.compile(n.Expr)
	if err != nil {
		return column{}, err
	}
	col := column{name: n.Name, prog: p}
	text := strings.TrimSpace(n.Expr.Text)
	if pathRe.MatchString(text) {
		if sc := lookupColumn(c.sc.Columns, text); sc != nil {
			col.src = sc
			col.typ = sc.Type
			if sc.Type == schema.Struct {
				col.wholeOff, col.whole, _ = walk(c.codec.Type(), text, "expr")
				return col, nil
			}
			col.acc = c.accessor(text, sc)
			if sc.Type == schema.Timestamp {
				col.raw = c.rawAccessor(text)
			}
			return col, nil
		}
	}
	t := p.Node().Type()
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == nil:
	case t.Kind() == reflect.String:
		col.typ = schema.String
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		col.typ = schema.Int
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		col.typ = schema.Float
	case t.Kind() == reflect.Bool:
		col.typ = schema.Bool
	case t == reflect.TypeOf(time.Time{}):
		col.typ = schema.Timestamp
	}
	if col.typ == "" {
		return column{}, c.s.Loc.ErrorAt(n.Expr.Path, n.Expr.Offset, 1, 0,
			fmt.Sprintf("cannot tell the type of %q (%v); convert it with string(), int() or float()", text, t))
	}
	return col, nil
}

// compile compiles one expression against the compiler's environment and
// positions any error at the spot in the file.
func (c *compiler) compile(e Expr, opts ...expr.Option) (*vm.Program, error) {
	opts = append([]expr.Option{expr.Env(c.env), expr.MaxNodes(MaxNodes)}, opts...)
	p, err := expr.Compile(e.Text, opts...)
	if err == nil {
		return p, nil
	}
	var fe *file.Error
	if errors.As(err, &fe) {
		line := fe.Line
		if line < 1 {
			line = 1
		}
		return nil, c.s.Loc.ErrorAt(e.Path, e.Offset, line, fe.Column, friendly(fe.Message))
	}
	return nil, c.s.Loc.ErrorAt(e.Path, e.Offset, 1, 0, err.Error())
}

var (
	noFieldRe = regexp.MustCompile(`^type struct \{.*\} has no field (\w+)`)
	tagRe     = regexp.MustCompile(`expr:\\?"(\w+)\\?"`)
	noNameRe  = regexp.MustCompile(`^unknown name (\w+)`)
)

// friendly rewrites expr's messages about run-time struct types into the
// schema's words.
func friendly(msg string) string {
	if m := noFieldRe.FindStringSubmatch(msg); m != nil {
		var fields []string
		for _, t := range tagRe.FindAllStringSubmatch(msg, -1) {
			fields = append(fields, t[1])
		}
		return fmt.Sprintf("unknown field %s (fields here: %s)", m[1], strings.Join(fields, ", "))
	}
	if m := noNameRe.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("unknown field %s", m[1])
	}
	return msg
}

func lookupColumn(cols []schema.Column, path string) *schema.Column {
	parts := strings.Split(path, ".")
	for i, p := range parts {
		var found *schema.Column
		for j := range cols {
			if cols[j].Name == p {
				found = &cols[j]
			}
		}
		if found == nil {
			return nil
		}
		if i == len(parts)-1 {
			return found
		}
		if found.Type != schema.Struct {
			return nil
		}
		cols = found.Fields
	}
	return nil
}

// walk finds the field of a record type by tag along a path and returns
// its offset and type.
func walk(t reflect.Type, path, tagKey string) (uintptr, reflect.Type, bool) {
	var off uintptr
	parts := strings.Split(path, ".")
	for i, p := range parts {
		found := false
		for j := 0; j < t.NumField(); j++ {
			f := t.Field(j)
			want := tagKey
			if i < len(parts)-1 {
				want = "expr"
			}
			if f.Tag.Get(want) == p && (want != "json" || f.Type.Kind() == reflect.String) {
				off += f.Offset
				t = f.Type
				found = true
				break
			}
		}
		if !found {
			return 0, nil, false
		}
	}
	return off, t, true
}

func (c *compiler) accessor(path string, sc *schema.Column) *accessor {
	off, ft, ok := walk(c.codec.Type(), path, "expr")
	if !ok {
		return nil
	}
	return &accessor{off: off, kind: kindOf(sc.Type), ptr: ft.Kind() == reflect.Pointer}
}

// rawAccessor reads the text of a timestamp field as it came in.
func (c *compiler) rawAccessor(path string) *accessor {
	off, _, ok := walk(c.codec.Type(), path, "json")
	if !ok {
		return nil
	}
	return &accessor{off: off, kind: kString}
}

// fingerprint hashes the parts of a spec that decide its state and output;
// combines is whether the rule's windows go through a Combiner.
func fingerprint(s *Spec, combines bool) string {
	h := sha256.New()
	w := func(parts ...string) {
		for _, p := range parts {
			fmt.Fprintf(h, "%d:%s;", len(p), p)
		}
	}
	w(s.Source, s.Where.Text, s.Key.Text, s.Output, s.Having.Text)
	for _, n := range s.Select {
		w("sel", n.Name, n.Expr.Text)
	}
	for _, n := range s.GroupBy {
		w("grp", n.Name, n.Expr.Text)
	}
	for _, a := range s.Aggregates {
		w("agg", a.Name, a.Func, a.Arg.Text)
	}
	if win := s.Window; win != nil {
		w("win", win.Type, win.Size.String(), win.Every.String(), win.Gap.String(), win.AllowedLateness.String(),
			win.EmitEvery.String(), fmt.Sprint(win.DistinctExact))
		if win.Repartition && win.Type != Session && win.EmitEvery == 0 {
			// Only where it changes where the state lives: the hashes of
			// rules without it stay as they were.
			w("repartition")
		}
		// The encoding of window state (codec_state.go): the Hash keys a
		// rule's changelog entries and partials, so entries written in
		// another format are ignored (the rule starts empty) rather than
		// misread. Version 2 made float sums exact.
		w("state", fmt.Sprint(stateVersion))
		if combines {
			// The combiner's changelog layout, likewise (combine.go).
			w("combine", fmt.Sprint(combineVersion))
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}
