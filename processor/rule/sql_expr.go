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
		return f.callArgs(x.Args, e, mode)
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
