package rule

import (
	"fmt"
	"strings"

	"github.com/pgplex/pgparser/nodes"
)

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
	return f.callArgs(x.Args, e, mode)
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

// callArgs writes a call's argument list, "(a, b)", as expr text.
func (f *sqlFile) callArgs(args *nodes.List, e *exprBuf, mode exprMode) error {
	e.WriteString("(")
	for i, a := range list(args) {
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
