package rule

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/pgplex/pgparser/nodes"
)

// anchor ties a span of generated expr text to the SQL it came from, so an
// expr compile error lands on the SQL token.
type anchor struct {
	at, n     int // offset and length in the expr text
	src, srcN int // offset and length in the SQL file
}

// exprBuf is expr text under construction with its anchors.
type exprBuf struct {
	b       strings.Builder
	anchors []anchor
}

func (e *exprBuf) WriteString(s string) { e.b.WriteString(s) }

// leaf writes s, anchored at the file token t (none when t is nil).
func (e *exprBuf) leaf(s string, t *token) {
	if t != nil {
		e.anchors = append(e.anchors, anchor{at: e.b.Len(), n: len(s), src: t.start, srcN: t.end - t.start})
	}
	e.b.WriteString(s)
}

func (e *exprBuf) String() string { return e.b.String() }

// exprMode says what names an expression may use.
type exprMode int

const (
	modeRow    exprMode = iota // WHERE, SELECT columns, GROUP BY, aggregate arguments: the input record
	modeHaving                 // HAVING: group columns, aggregates, window_start, window_end
)

// sqlAggs are the aggregate functions, by SQL name.
var sqlAggs = map[string]bool{"count": true, "sum": true, "min": true, "max": true, "avg": true}

// sqlWindows are the window functions of GROUP BY (Flink's group windows,
// KDA's STEP and FLOOR(ROWTIME TO unit)) and the SELECT helpers that read
// their bounds.
var sqlWindows = map[string]string{
	"tumble": "", "hop": "", "session": "", "step": "", "floor": "",
	"tumble_start": "window_start", "hop_start": "window_start", "session_start": "window_start",
	"tumble_end": "window_end", "hop_end": "window_end", "session_end": "window_end",
	"tumble_rowtime": "", "hop_rowtime": "", "session_rowtime": "",
}

// scalarFuncs maps SQL functions onto expr builtins of the same meaning.
var scalarFuncs = map[string]string{
	"lower": "lower", "upper": "upper", "length": "len", "char_length": "len", "character_length": "len",
	"abs": "abs", "trim": "trim", "btrim": "trim", "ceil": "ceil", "ceiling": "ceil", "round": "round",
}

var exprIdentRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// expr translates a SQL expression into expr text.
func (f *sqlFile) expr(n nodes.Node, e *exprBuf, mode exprMode) error {
	switch x := n.(type) {
	case *nodes.ColumnRef:
		return f.columnRef(x, e, mode)
	case *nodes.A_Const:
		return f.constant(x, e)
	case *nodes.BoolExpr:
		args := list(x.Args)
		switch x.Boolop {
		case nodes.NOT_EXPR:
			t := f.find(func(t token) bool { return t.is("not") })
			e.leaf("!", t)
			e.WriteString("(")
			if err := f.expr(args[0], e, mode); err != nil {
				return err
			}
			e.WriteString(")")
			return nil
		default:
			op, word := " && ", "and"
			if x.Boolop == nodes.OR_EXPR {
				op, word = " || ", "or"
			}
			e.WriteString("(")
			for i, a := range args {
				if i > 0 {
					e.leaf(op, f.find(func(t token) bool { return t.is(word) }))
				}
				if err := f.expr(a, e, mode); err != nil {
					return err
				}
			}
			e.WriteString(")")
			return nil
		}
	case *nodes.A_Expr:
		return f.aExpr(x, e, mode)
	case *nodes.NullTest:
		e.WriteString("(")
		if err := f.expr(x.Arg, e, mode); err != nil {
			return err
		}
		t := f.find(func(t token) bool { return t.is("is") })
		if x.Nulltesttype == nodes.IS_NULL {
			e.leaf(" == nil", t)
		} else {
			e.leaf(" != nil", t)
		}
		e.WriteString(")")
		return nil
	case *nodes.BooleanTest:
		e.WriteString("(")
		if err := f.expr(x.Arg, e, mode); err != nil {
			return err
		}
		t := f.find(func(t token) bool { return t.is("is") })
		ops := map[nodes.BoolTestType]string{nodes.IS_TRUE: " == true", nodes.IS_NOT_TRUE: " != true",
			nodes.IS_FALSE: " == false", nodes.IS_NOT_FALSE: " != false", nodes.IS_UNKNOWN: " == nil", nodes.IS_NOT_UNKNOWN: " != nil"}
		e.leaf(ops[x.Booltesttype], t)
		e.WriteString(")")
		return nil
	case *nodes.CaseExpr:
		return f.caseExpr(x, e, mode)
	case *nodes.CoalesceExpr:
		e.leaf("(", f.find(func(t token) bool { return t.is("coalesce") }))
		for i, a := range list(x.Args) {
			if i > 0 {
				e.WriteString(" ?? ")
			}
			if err := f.expr(a, e, mode); err != nil {
				return err
			}
		}
		e.WriteString(")")
		return nil
	case *nodes.MinMaxExpr:
		fn := "max"
		t := f.find(func(t token) bool { return t.is("greatest", "least") })
		if t != nil && t.text == "least" {
			fn = "min"
		}
		e.leaf(fn, t)
		e.WriteString("(")
		for i, a := range list(x.Args) {
			if i > 0 {
				e.WriteString(", ")
			}
			if err := f.expr(a, e, mode); err != nil {
				return err
			}
		}
		e.WriteString(")")
		return nil
	case *nodes.TypeCast:
		return f.typeCast(x, e, mode)
	case *nodes.FuncCall:
		return f.funcCall(x, e, mode)
	case *nodes.SubLink:
		return f.errAt(f.find(func(t token) bool { return t.is("select", "exists") }), "a subquery is not supported yet")
	case *nodes.ParamRef:
		return f.errAt(f.find(func(t token) bool { return t.kind == tOp && t.text == "$" }), "query parameters ($1) are not supported")
	case *nodes.SQLValueFunction:
		return f.errAt(f.cur(), "CURRENT_TIMESTAMP and friends are not supported: a rule's result must not depend on when it runs")
	case *nodes.A_ArrayExpr:
		return f.errAt(f.find(func(t token) bool { return t.is("array") }), "ARRAY is not supported yet")
	case *nodes.RowExpr:
		return f.errAt(f.cur(), "ROW(...) values are not supported yet")
	case *nodes.CollateClause:
		return f.errAt(f.find(func(t token) bool { return t.is("collate") }), "COLLATE is not supported")
	case *nodes.A_Indirection:
		return f.errAt(f.cur(), "subscripts ([n]) are not supported yet")
	case nil:
		return f.errAt(f.cur(), "missing expression")
	}
	return f.errAt(f.cur(), fmt.Sprintf("%s is not supported yet", nodeName(n)))
}

func nodeName(n nodes.Node) string {
	return strings.TrimPrefix(fmt.Sprintf("%T", n), "*nodes.")
}

func list(l *nodes.List) []nodes.Node {
	if l == nil {
		return nil
	}
	return l.Items
}

func str(n nodes.Node) string {
	if s, ok := n.(*nodes.String); ok {
		return s.Str
	}
	return ""
}

// refNames returns the parts of a column reference, without the stream
// qualifier ("SOURCE_SQL_STREAM_001".ROWTIME, s.price).
func (f *sqlFile) refNames(x *nodes.ColumnRef) ([]string, bool) {
	var parts []string
	for _, it := range list(x.Fields) {
		if _, star := it.(*nodes.A_Star); star {
			return nil, false
		}
		parts = append(parts, str(it))
	}
	if len(parts) > 1 && f.isStream(parts[0]) {
		parts = parts[1:]
	}
	return parts, true
}

func (f *sqlFile) isStream(name string) bool {
	for _, s := range f.streams {
		if name == s || strings.EqualFold(name, s) {
			return true
		}
	}
	return false
}

// fieldPath resolves a column reference to a field path of the source
// schema: the -- map header first, then ROWTIME, then the name as written.
func (f *sqlFile) fieldPath(parts []string) string {
	joined := strings.Join(parts, ".")
	if p, ok := f.mapping[joined]; ok {
		return p
	}
	for k, p := range f.mapping {
		if strings.EqualFold(k, joined) {
			return p
		}
	}
	if strings.EqualFold(joined, "rowtime") && f.sc.Column(joined) == nil {
		return f.sc.EventTime
	}
	return joined
}

// findRef positions a column reference: the next token that spells its
// first part.
func (f *sqlFile) findRef(x *nodes.ColumnRef) *token {
	var first string
	if it := list(x.Fields); len(it) > 0 {
		first = str(it[0])
	}
	return f.find(func(t token) bool {
		return (t.kind == tIdent || t.kind == tQIdent) && strings.EqualFold(t.text, first) || first == "" && t.op("*")
	})
}

func (f *sqlFile) columnRef(x *nodes.ColumnRef, e *exprBuf, mode exprMode) error {
	t := f.findRef(x)
	parts, ok := f.refNames(x)
	if !ok {
		return f.errAt(t, "* is only allowed as SELECT * or COUNT(*)")
	}
	if mode == modeHaving {
		name := strings.Join(parts, ".")
		if f.outNames[name] {
			e.leaf(name, t)
			return nil
		}
		path := f.fieldPath(parts)
		for _, g := range f.spec.GroupBy {
			if g.Expr.Text == path {
				e.leaf(g.Name, t)
				return nil
			}
		}
		return f.errAt(t, fmt.Sprintf("HAVING can use the group columns, the SELECT list's aggregates (by alias or as written) and window_start/window_end; %q is none of them", name))
	}
	path := f.fieldPath(parts)
	for _, p := range strings.Split(path, ".") {
		if !exprIdentRe.MatchString(p) {
			return f.errAt(t, fmt.Sprintf("column %q is not a field of %s; map it to one with a header line -- map: %s = field.path", strings.Join(parts, "."), f.sc.Name, strings.Join(parts, ".")))
		}
	}
	if t != nil {
		// Span the whole dotted reference, so an error on a nested name
		// (additional_data.percent_viewd) points at that name.
		end := t.end
		for i := f.pos; i+1 < len(f.toks) && f.toks[i].op(".") && f.toks[i].start == end; i += 2 {
			end = f.toks[i+1].end
			f.pos = i + 2
		}
		if f.src[t.start:end] == path {
			e.anchors = append(e.anchors, anchor{at: e.b.Len(), n: len(path), src: t.start, srcN: len(path)})
			e.WriteString(path)
			return nil
		}
	}
	e.leaf(path, t)
	return nil
}

func (f *sqlFile) constant(x *nodes.A_Const, e *exprBuf) error {
	if x.Isnull {
		e.leaf("nil", f.find(func(t token) bool { return t.is("null") }))
		return nil
	}
	switch v := x.Val.(type) {
	case *nodes.Integer:
		s := strconv.FormatInt(v.Ival, 10)
		e.leaf(s, f.find(func(t token) bool { return t.kind == tNumber }))
	case *nodes.Float:
		e.leaf(v.Fval, f.find(func(t token) bool { return t.kind == tNumber }))
	case *nodes.String:
		e.leaf(strconv.Quote(v.Str), f.find(func(t token) bool { return t.kind == tString }))
	case *nodes.Boolean:
		e.leaf(strconv.FormatBool(v.Boolval), f.find(func(t token) bool { return t.is("true", "false") }))
	default:
		return f.errAt(f.cur(), fmt.Sprintf("literal %s is not supported", nodeName(x.Val)))
	}
	return nil
}

var sqlOps = map[string]string{"=": "==", "<>": "!=", "!=": "!=", "<": "<", ">": ">", "<=": "<=", ">=": ">=",
	"+": "+", "-": "-", "*": "*", "/": "/", "%": "%", "||": "+"}

func (f *sqlFile) aExpr(x *nodes.A_Expr, e *exprBuf, mode exprMode) error {
	var name string
	if it := list(x.Name); len(it) > 0 {
		name = str(it[len(it)-1])
	}
	sub := func(n nodes.Node) error { return f.expr(n, e, mode) }
	switch x.Kind {
	case nodes.AEXPR_OP:
		op, ok := sqlOps[name]
		if !ok {
			return f.errAt(f.find(func(t token) bool { return t.kind == tOp && t.text == name }), fmt.Sprintf("operator %s is not supported", name))
		}
		e.WriteString("(")
		if x.Lexpr != nil {
			if err := sub(x.Lexpr); err != nil {
				return err
			}
			e.leaf(" "+op+" ", f.find(func(t token) bool { return t.kind == tOp && t.text == name }))
		} else {
			e.leaf(op, f.find(func(t token) bool { return t.kind == tOp && t.text == name }))
		}
		if err := sub(x.Rexpr); err != nil {
			return err
		}
		e.WriteString(")")
		return nil
	case nodes.AEXPR_DISTINCT, nodes.AEXPR_NOT_DISTINCT:
		op := " != "
		if x.Kind == nodes.AEXPR_NOT_DISTINCT {
			op = " == "
		}
		e.WriteString("(")
		if err := sub(x.Lexpr); err != nil {
			return err
		}
		e.leaf(op, f.find(func(t token) bool { return t.is("is") }))
		if err := sub(x.Rexpr); err != nil {
			return err
		}
		e.WriteString(")")
		return nil
	case nodes.AEXPR_IN:
		e.WriteString("(")
		if name == "<>" {
			e.WriteString("!(")
		}
		if err := sub(x.Lexpr); err != nil {
			return err
		}
		e.leaf(" in ", f.find(func(t token) bool { return t.is("in") }))
		items, ok := x.Rexpr.(*nodes.List)
		if !ok {
			return f.errAt(f.cur(), "IN takes a list of values, e.g. IN ('a', 'b')")
		}
		e.WriteString("[")
		for i, it := range items.Items {
			if i > 0 {
				e.WriteString(", ")
			}
			if err := sub(it); err != nil {
				return err
			}
		}
		e.WriteString("]")
		if name == "<>" {
			e.WriteString(")")
		}
		e.WriteString(")")
		return nil
	case nodes.AEXPR_BETWEEN, nodes.AEXPR_NOT_BETWEEN:
		items, ok := x.Rexpr.(*nodes.List)
		if !ok || len(items.Items) != 2 {
			return f.errAt(f.cur(), "BETWEEN takes two bounds: x BETWEEN a AND b")
		}
		// x is written twice; its anchors are found once, so translate it
		// once and copy the text.
		var lx exprBuf
		if err := f.expr(x.Lexpr, &lx, mode); err != nil {
			return err
		}
		t := f.find(func(t token) bool { return t.is("between") })
		if x.Kind == nodes.AEXPR_NOT_BETWEEN {
			e.leaf("!", t)
		}
		e.WriteString("(")
		e.appendBuf(&lx)
		e.leaf(" >= ", t)
		if err := sub(items.Items[0]); err != nil {
			return err
		}
		e.WriteString(" && ")
		e.appendBuf(&lx)
		e.WriteString(" <= ")
		if err := sub(items.Items[1]); err != nil {
			return err
		}
		e.WriteString(")")
		return nil
	case nodes.AEXPR_LIKE, nodes.AEXPR_ILIKE:
		return f.like(x, name, e, mode)
	case nodes.AEXPR_SIMILAR:
		return f.errAt(f.find(func(t token) bool { return t.is("similar") }), "SIMILAR TO is not supported yet; use LIKE")
	case nodes.AEXPR_NULLIF:
		return f.errAt(f.find(func(t token) bool { return t.is("nullif") }), "NULLIF is not supported yet; use CASE")
	case nodes.AEXPR_OP_ANY, nodes.AEXPR_OP_ALL:
		return f.errAt(f.find(func(t token) bool { return t.is("any", "all", "some") }), "ANY/ALL are not supported yet; use IN")
	}
	return f.errAt(f.cur(), "this operator is not supported yet")
}

// appendBuf copies o's text and anchors onto e.
func (e *exprBuf) appendBuf(o *exprBuf) {
	base := e.b.Len()
	for _, a := range o.anchors {
		a.at += base
		e.anchors = append(e.anchors, a)
	}
	e.b.WriteString(o.String())
}

func (f *sqlFile) caseExpr(x *nodes.CaseExpr, e *exprBuf, mode exprMode) error {
	e.leaf("(", f.find(func(t token) bool { return t.is("case") }))
	var arg *exprBuf
	if x.Arg != nil {
		arg = &exprBuf{}
		if err := f.expr(x.Arg, arg, mode); err != nil {
			return err
		}
	}
	whens := list(x.Args)
	for _, w := range whens {
		cw, ok := w.(*nodes.CaseWhen)
		if !ok {
			return f.errAt(f.cur(), "malformed CASE")
		}
		f.find(func(t token) bool { return t.is("when") })
		if arg != nil {
			e.WriteString("(")
			e.appendBuf(arg)
			e.WriteString(" == ")
			if err := f.expr(cw.Expr, e, mode); err != nil {
				return err
			}
			e.WriteString(")")
		} else if err := f.expr(cw.Expr, e, mode); err != nil {
			return err
		}
		e.WriteString(" ? ")
		if err := f.expr(cw.Result, e, mode); err != nil {
			return err
		}
		e.WriteString(" : ")
	}
	if x.Defresult != nil {
		if err := f.expr(x.Defresult, e, mode); err != nil {
			return err
		}
	} else {
		e.WriteString("nil")
	}
	e.WriteString(")")
	return nil
}

func typeNames(t *nodes.TypeName) string {
	if t == nil {
		return ""
	}
	var parts []string
	for _, n := range list(t.Names) {
		if s := str(n); s != "pg_catalog" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, ".")
}

func (f *sqlFile) typeCast(x *nodes.TypeCast, e *exprBuf, mode exprMode) error {
	tn := typeNames(x.TypeName)
	t := f.find(func(t token) bool { return t.is("cast", "interval") || t.op("::") })
	var fn string
	switch tn {
	case "int2", "int4", "int8", "integer", "int", "bigint", "smallint":
		fn = "int"
	case "float4", "float8", "numeric", "decimal", "real", "double":
		fn = "float"
	case "varchar", "text", "bpchar", "char", "string":
		fn = "string"
	case "bool":
		// TRUE/FALSE arrive as constants; 't'::bool and friends here.
		if c, ok := x.Arg.(*nodes.A_Const); ok {
			if s, ok := c.Val.(*nodes.String); ok {
				switch strings.ToLower(s.Str) {
				case "t", "true", "yes", "on", "1":
					e.leaf("true", t)
					return nil
				case "f", "false", "no", "off", "0":
					e.leaf("false", t)
					return nil
				}
			}
		}
		return f.errAt(t, "a cast to BOOLEAN is not supported; compare instead (x = 'yes')")
	case "interval":
		return f.errAt(t, "an INTERVAL is only allowed as a window size: TUMBLE(ROWTIME, INTERVAL '1' MINUTE)")
	default:
		return f.errAt(t, fmt.Sprintf("a cast to %s is not supported (INTEGER, DOUBLE, VARCHAR are)", strings.ToUpper(tn)))
	}
	e.leaf(fn, t)
	e.WriteString("(")
	if err := f.expr(x.Arg, e, mode); err != nil {
		return err
	}
	e.WriteString(")")
	return nil
}

func funcName(x *nodes.FuncCall) string {
	var parts []string
	for _, n := range list(x.Funcname) {
		if s := str(n); s != "pg_catalog" {
			parts = append(parts, s)
		}
	}
	return strings.ToLower(strings.Join(parts, "."))
}

func (f *sqlFile) findFunc(name string) *token {
	return f.find(func(t token) bool {
		return (t.kind == tIdent || t.kind == tQIdent) && strings.EqualFold(t.text, name)
	})
}

func (f *sqlFile) funcCall(x *nodes.FuncCall, e *exprBuf, mode exprMode) error {
	name := funcName(x)
	t := f.findFunc(name)
	if x.Over != nil {
		return f.errAt(t, "OVER (...) window functions are not supported yet; use GROUP BY with TUMBLE, HOP or SESSION")
	}
	if sqlAggs[name] {
		if mode != modeHaving {
			return f.errAt(t, fmt.Sprintf("aggregate %s() is only allowed in the SELECT list and HAVING of a GROUP BY query", strings.ToUpper(name)))
		}
		a, _, err := f.aggCall(x, t)
		if err != nil {
			return err
		}
		for _, have := range f.spec.Aggregates {
			if have.Func == a.Func && strings.TrimSpace(have.Arg.Text) == strings.TrimSpace(a.Arg.Text) {
				e.leaf(have.Name, t)
				return nil
			}
		}
		return f.errAt(t, fmt.Sprintf("HAVING uses %s(%s), which the SELECT list does not compute; add it there with an alias", strings.ToUpper(name), a.Arg.Text))
	}
	if _, ok := sqlWindows[name]; ok {
		return f.errAt(t, fmt.Sprintf("%s() belongs in GROUP BY (or, for the window bounds, in the SELECT list of a windowed query)", strings.ToUpper(name)))
	}
	fn, ok := scalarFuncs[name]
	if !ok {
		return f.errAt(t, fmt.Sprintf("function %s() is not supported yet", name))
	}
	if x.AggStar || x.AggDistinct || x.AggFilter != nil || x.AggOrder != nil {
		return f.errAt(t, fmt.Sprintf("%s() is not an aggregate", name))
	}
	e.leaf(fn, t)
	e.WriteString("(")
	for i, a := range list(x.Args) {
		if i > 0 {
			e.WriteString(", ")
		}
		if err := f.expr(a, e, mode); err != nil {
			return err
		}
	}
	e.WriteString(")")
	return nil
}

// aggCall translates an aggregate call into an Agg (name left empty) and
// the anchors of its argument.
func (f *sqlFile) aggCall(x *nodes.FuncCall, t *token) (Agg, []anchor, error) {
	name := funcName(x)
	switch {
	case x.AggFilter != nil:
		return Agg{}, nil, f.errAt(t, "FILTER (WHERE ...) is not supported yet; use SUM(CASE WHEN ... THEN 1 ELSE 0 END)")
	case x.AggOrder != nil:
		return Agg{}, nil, f.errAt(t, "ORDER BY inside an aggregate is not supported")
	case x.AggDistinct && name != "count":
		return Agg{}, nil, f.errAt(t, fmt.Sprintf("%s(DISTINCT ...) is not supported yet; COUNT(DISTINCT x) is", strings.ToUpper(name)))
	}
	args := list(x.Args)
	if x.AggStar {
		if name != "count" {
			return Agg{}, nil, f.errAt(t, fmt.Sprintf("%s(*) is not allowed; only COUNT(*)", strings.ToUpper(name)))
		}
		f.find(func(t token) bool { return t.op("*") })
		return Agg{Func: "count"}, nil, nil
	}
	if len(args) != 1 {
		return Agg{}, nil, f.errAt(t, fmt.Sprintf("%s() takes one argument", strings.ToUpper(name)))
	}
	var b exprBuf
	if err := f.expr(args[0], &b, modeRow); err != nil {
		return Agg{}, nil, err
	}
	a := Agg{Func: name, Arg: Expr{Text: b.String()}}
	if x.AggDistinct {
		a.Func = "count_distinct"
		return a, b.anchors, nil
	}
	if name == "count" {
		// COUNT(x) counts rows where x is not null: the same as COUNT(*)
		// for a column the schema requires, or a constant (COUNT(1)).
		if c := lookupColumn(f.sc.Columns, b.String()); c != nil && !c.Optional {
			return Agg{Func: "count"}, nil, nil
		}
		if c, ok := args[0].(*nodes.A_Const); ok && !c.Isnull {
			return Agg{Func: "count"}, nil, nil
		}
		return Agg{}, nil, f.errAt(t, fmt.Sprintf("COUNT(%s) over a value that may be null is not supported yet; use COUNT(*) with WHERE ... IS NOT NULL", b.String()))
	}
	return a, b.anchors, nil
}
