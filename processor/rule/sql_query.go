package rule

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pgplex/pgparser/nodes"

	"github.com/sluicehq/sluice/schema"
)

// query compiles the SELECT into the Spec: source, filter or window.
func (f *sqlFile) query(sel *nodes.SelectStmt, dirs map[string]directive, schemas map[string]*schema.Schema) error {
	spec := f.spec
	selAt := f.clause(0, "select")
	if selAt < 0 {
		selAt = 0
	}
	if err := f.unsupported(sel, selAt); err != nil {
		return err
	}
	fromAt := f.clause(selAt, "from")
	whereAt := f.clause(selAt, "where")
	groupAt := f.clause(selAt, "group")
	havingAt := f.clause(selAt, "having")
	f.loc.pos["$.select"] = f.toks[selAt].start

	// FROM: the source stream.
	from := list(sel.FromClause)
	fromTok := f.tokAt(fromAt)
	if len(from) == 0 {
		return f.errAt(f.tokAt(selAt), "FROM is required: the stream the rule reads, e.g. FROM clickstream")
	}
	if len(from) > 1 {
		f.seek(fromAt)
		return f.errAt(f.find(func(t token) bool { return t.op(",") }), "reading more than one stream (a join) is not supported yet")
	}
	var rv *nodes.RangeVar
	switch x := from[0].(type) {
	case *nodes.RangeVar:
		rv = x
	case *nodes.JoinExpr:
		f.seek(fromAt)
		return f.errAt(f.find(func(t token) bool { return t.is("join") }), "JOIN is not supported yet")
	case *nodes.RangeSubselect:
		return f.errAt(fromTok, "a subquery in FROM is not supported yet")
	case *nodes.RangeFunction:
		return f.errAt(fromTok, "window table functions (FROM TABLE(TUMBLE(...))) are not supported yet; use GROUP BY TUMBLE(ROWTIME, INTERVAL '1' MINUTE)")
	default:
		return f.errAt(fromTok, fmt.Sprintf("FROM %s is not supported; name one stream", nodeName(x)))
	}
	f.streams = []string{rv.Relname}
	if rv.Alias != nil {
		f.streams = append(f.streams, rv.Alias.Aliasname)
	}
	f.seek(fromAt + 1)
	if t := f.find(func(t token) bool { return t.kind == tIdent || t.kind == tQIdent }); t != nil {
		f.loc.pos["$.source"] = t.start
	}
	spec.Source = rv.Relname
	if rv.Schemaname != "" {
		spec.Source = rv.Schemaname + "." + rv.Relname
	}
	if d, ok := dirs["source"]; ok {
		spec.Source, f.loc.pos["$.source"] = d.value, d.off
	}
	sc, ok := schemas[spec.Source]
	if !ok {
		return f.loc.Errorf("$.source", "stream %q is not a schema (known: %s); name the schema in a header line: -- source: %s",
			spec.Source, knownSchemas(schemas), firstSchema(schemas))
	}
	f.sc = sc
	if spec.Output == "" {
		return f.loc.at(f.toks[0].start, "output topic: write INSERT INTO \"topic\" SELECT ..., a KDA pump, or a header line -- output: topic")
	}

	// WHERE.
	if sel.WhereClause != nil {
		f.seek(whereAt + 1)
		f.loc.pos["$.where"] = f.cur().start
		var b exprBuf
		if err := f.expr(sel.WhereClause, &b, modeRow); err != nil {
			return err
		}
		spec.Where = Expr{Text: b.String(), Path: "$.where"}
		f.loc.anchors["$.where"] = b.anchors
	}

	targets := list(sel.TargetList)
	var selEnd int
	if fromAt >= 0 {
		selEnd = fromAt
	} else {
		selEnd = len(f.toks)
	}
	starts := f.items(selAt+1, selEnd)
	windowed := len(list(sel.GroupClause)) > 0
	for _, t := range targets {
		if rt, ok := t.(*nodes.ResTarget); ok && isAgg(rt.Val) {
			windowed = true
		}
	}
	if !windowed {
		if sel.HavingClause != nil {
			return f.errAt(f.tokAt(havingAt), "HAVING needs GROUP BY with a window")
		}
		// A window's header on a filter would be ignored: say so, as YAML
		// does of a window key on a rule without aggregates.
		for _, key := range windowDirectives {
			if dv, ok := dirs[key]; ok {
				return f.loc.at(dv.off, key+": only a query with GROUP BY and a window has windows")
			}
		}
		return f.filter(targets, starts)
	}
	if err := f.windowQuery(sel, targets, starts, groupAt, havingAt, dirs); err != nil {
		return err
	}
	return nil
}

func firstSchema(m map[string]*schema.Schema) string {
	if _, ok := m["clickstream"]; ok {
		return "clickstream"
	}
	for n := range m {
		return n
	}
	return "name"
}

func isAgg(n nodes.Node) bool {
	fc, ok := n.(*nodes.FuncCall)
	return ok && sqlAggs[funcName(fc)] && fc.Over == nil
}

// unsupported names the parts of a SELECT that the engine does not run,
// at their keyword.
func (f *sqlFile) unsupported(sel *nodes.SelectStmt, selAt int) error {
	at := func(kw ...string) *token {
		if i := f.clause(0, kw...); i >= 0 {
			return &f.toks[i]
		}
		return f.tokAt(selAt)
	}
	switch {
	case sel.Op != nodes.SETOP_NONE:
		return f.errAt(at("union", "intersect", "except"), "UNION, INTERSECT and EXCEPT are not supported yet: write one rule per query")
	case sel.WithClause != nil:
		return f.errAt(at("with"), "WITH (common table expressions) is not supported yet")
	case sel.ValuesLists != nil:
		return f.errAt(at("values"), "VALUES is not supported: a rule reads a stream")
	case sel.DistinctClause != nil:
		return f.errAt(at("distinct"), "SELECT DISTINCT is not supported yet (COUNT(DISTINCT x) is)")
	case sel.IntoClause != nil:
		return f.errAt(at("into"), "SELECT INTO is not supported: use INSERT INTO \"topic\" SELECT ...")
	case sel.SortClause != nil:
		return f.errAt(at("order"), "ORDER BY is not supported: a stream has no end to sort at")
	case sel.LimitCount != nil || sel.LimitOffset != nil:
		return f.errAt(at("limit", "offset", "fetch"), "LIMIT and OFFSET are not supported on a stream")
	case sel.WindowClause != nil:
		return f.errAt(at("window"), "WINDOW (sliding windows over rows) is not supported yet; use GROUP BY HOP(ROWTIME, INTERVAL '1' MINUTE, INTERVAL '5' MINUTE)")
	case sel.LockingClause != nil:
		return f.errAt(at("for"), "FOR UPDATE/SHARE does not apply to a stream")
	case sel.GroupDistinct:
		return f.errAt(at("group"), "GROUP BY DISTINCT is not supported")
	}
	return nil
}

// filter fills a filter's projection from the SELECT list.
func (f *sqlFile) filter(targets []nodes.Node, starts []int) error {
	if len(targets) == 1 {
		if rt, ok := targets[0].(*nodes.ResTarget); ok {
			if cr, ok := rt.Val.(*nodes.ColumnRef); ok {
				if _, ok := f.refNames(cr); !ok {
					return nil // SELECT *: whole records
				}
			}
		}
	}
	for i, t := range targets {
		rt := t.(*nodes.ResTarget)
		if i < len(starts) {
			f.seek(starts[i])
		}
		first := f.cur()
		path := fmt.Sprintf("$.select[%d]", i)
		f.loc.pos[path] = first.start
		name, err := f.columnName(rt, first)
		if err != nil {
			return err
		}
		var b exprBuf
		if err := f.expr(rt.Val, &b, modeRow); err != nil {
			return err
		}
		f.loc.anchors[path] = b.anchors
		f.spec.Select = append(f.spec.Select, Named{Name: name, Expr: Expr{Text: b.String(), Path: path}})
	}
	return nil
}

// columnName is a SELECT item's output name: its alias, or the name of the
// column it reads as written in the query (so a mapped KDA column keeps its
// KDA name in the output).
func (f *sqlFile) columnName(rt *nodes.ResTarget, first *token) (string, error) {
	if rt.Name != "" {
		return rt.Name, nil
	}
	if cr, ok := rt.Val.(*nodes.ColumnRef); ok {
		parts, ok := f.refNames(cr)
		if !ok {
			return "", f.errAt(first, "SELECT * cannot be mixed with other columns")
		}
		if len(parts) > 0 {
			return parts[len(parts)-1], nil
		}
	}
	return "", f.errAt(first, "name this column: ... AS name")
}

// windowQuery compiles GROUP BY window, groups, aggregates and HAVING.
func (f *sqlFile) windowQuery(sel *nodes.SelectStmt, targets []nodes.Node, starts []int, groupAt, havingAt int, dirs map[string]directive) error {
	spec := f.spec
	groups := list(sel.GroupClause)
	if len(groups) == 0 {
		return f.errAt(f.tokAt(starts[0]), "an aggregate needs GROUP BY with a window, e.g. GROUP BY TUMBLE(ROWTIME, INTERVAL '1' MINUTE)")
	}
	end := len(f.toks)
	if havingAt > groupAt {
		end = havingAt
	}
	gstarts := f.items(groupAt+2, end)
	var winKind string
	type group struct {
		text string
		path string
		cr   *nodes.ColumnRef
		tok  *token
	}
	var gs []group
	for i, g := range groups {
		if i < len(gstarts) {
			f.seek(gstarts[i])
		}
		first := f.cur()
		if _, ok := g.(*nodes.GroupingSet); ok {
			return f.errAt(first, "GROUPING SETS, CUBE and ROLLUP are not supported")
		}
		if fc, ok := g.(*nodes.FuncCall); ok {
			if _, isWin := sqlWindows[funcName(fc)]; isWin {
				if spec.Window != nil {
					return f.errAt(first, "one window per query: GROUP BY has a second window function")
				}
				w, err := f.window(fc, first)
				if err != nil {
					return err
				}
				spec.Window, winKind = w, funcName(fc)
				f.loc.pos["$.window"] = first.start
				continue
			}
		}
		path := fmt.Sprintf("$.group_by[%d]", len(gs))
		f.loc.pos[path] = first.start
		var b exprBuf
		if err := f.expr(g, &b, modeRow); err != nil {
			return err
		}
		f.loc.anchors[path] = b.anchors
		text := b.String()
		cr, _ := g.(*nodes.ColumnRef)
		if cr != nil && lookupColumn(f.sc.Columns, text) == nil {
			// GROUP BY an output alias (PostgreSQL style): product_id for
			// additional_data.product_id AS product_id.
			if p, _ := f.refNames(cr); len(p) == 1 {
				if _, at := f.aliasOf(targets, starts, p[0]); at != "" {
					text = at
				}
			}
		}
		gs = append(gs, group{text: text, path: path, cr: cr, tok: first})
	}
	if spec.Window == nil {
		return f.errAt(f.tokAt(groupAt), "GROUP BY needs a window: TUMBLE(ROWTIME, INTERVAL '1' MINUTE), HOP(ROWTIME, slide, size), SESSION(ROWTIME, gap) or STEP(ROWTIME BY INTERVAL '1' MINUTE)")
	}
	w := spec.Window
	if f.watermark >= 0 {
		w.AllowedLateness = f.watermark // a header line below still wins
	}
	for _, d := range []struct {
		key string
		dst *time.Duration
	}{{"allowed_lateness", &w.AllowedLateness}, {"emit_every", &w.EmitEvery}} {
		if dv, ok := dirs[d.key]; ok {
			v, err := parseDuration(dv.value)
			if err != nil {
				return f.loc.at(dv.off, d.key+": "+err.Error())
			}
			*d.dst = v
		}
	}
	if dv, ok := dirs["distinct_exact"]; ok {
		n, err := strconv.Atoi(dv.value)
		if err != nil || n <= 0 {
			return f.loc.at(dv.off, "distinct_exact: want a positive number")
		}
		w.DistinctExact = n
	}
	if dv, ok := dirs["repartition"]; ok {
		v, err := strconv.ParseBool(dv.value)
		if err != nil {
			return f.loc.at(dv.off, "repartition: want true or false")
		}
		w.Repartition = v
	}

	// SELECT: group columns (named here), aggregates, window bounds.
	names := make([]string, len(gs))
	for i, t := range targets {
		rt := t.(*nodes.ResTarget)
		if i < len(starts) {
			f.seek(starts[i])
		}
		first := f.cur()
		if fc, ok := rt.Val.(*nodes.FuncCall); ok {
			fn := funcName(fc)
			if bound, isWin := sqlWindows[fn]; isWin {
				if bound == "" && fn == winKind {
					bound = "window_start"
				}
				if bound == "" {
					return f.errAt(first, fmt.Sprintf("%s() in SELECT: use %s_START or %s_END; the bounds are emitted as window_start and window_end", strings.ToUpper(fn), strings.ToUpper(winKind), strings.ToUpper(winKind)))
				}
				if rt.Name != "" && !strings.EqualFold(rt.Name, bound) {
					return f.errAt(first, fmt.Sprintf("the window bound is emitted as %s; drop the alias %s or name it %s", bound, rt.Name, bound))
				}
				continue
			}
			if isAgg(fc) {
				if rt.Name == "" {
					return f.errAt(first, fmt.Sprintf("name this aggregate: %s(...) AS name", strings.ToUpper(fn)))
				}
				t := f.findFunc(fn)
				a, anchors, err := f.aggCall(fc, t)
				if err != nil {
					return err
				}
				a.Name = rt.Name
				a.Path = "$.aggregate." + rt.Name
				a.Arg.Path = a.Path
				f.loc.pos[a.Path] = first.start
				f.loc.anchors[a.Path] = anchors
				spec.Aggregates = append(spec.Aggregates, a)
				continue
			}
		}
		var b exprBuf
		if err := f.expr(rt.Val, &b, modeRow); err != nil {
			return err
		}
		found := false
		for gi, g := range gs {
			if g.text == b.String() {
				name, err := f.columnName(rt, first)
				if err != nil {
					return err
				}
				if names[gi] == "" {
					names[gi] = name
				}
				found = true
				break
			}
		}
		if !found {
			hint := ""
			if cr, ok := rt.Val.(*nodes.ColumnRef); ok {
				if p, _ := f.refNames(cr); len(p) == 1 && strings.EqualFold(p[0], "rowtime") {
					hint = "; the window bounds are emitted as window_start and window_end"
				}
			}
			return f.errAt(first, fmt.Sprintf("%s is neither an aggregate nor in GROUP BY%s", f.src[first.start:first.end], hint))
		}
	}
	for gi, g := range gs {
		if names[gi] == "" {
			return f.errAt(g.tok, fmt.Sprintf("GROUP BY %s: select it too (window results carry every group column)", g.text))
		}
	}
	for gi, g := range gs {
		spec.GroupBy = append(spec.GroupBy, Named{Name: names[gi], Expr: Expr{Text: g.text, Path: g.path}})
		f.outNames[names[gi]] = true
	}
	for _, a := range spec.Aggregates {
		f.outNames[a.Name] = true
	}
	f.outNames["window_start"], f.outNames["window_end"] = true, true
	if w.EmitEvery > 0 {
		f.outNames["final"] = true
	}

	if sel.HavingClause != nil {
		f.seek(havingAt + 1)
		f.loc.pos["$.having"] = f.cur().start
		var b exprBuf
		if err := f.expr(sel.HavingClause, &b, modeHaving); err != nil {
			return err
		}
		spec.Having = Expr{Text: b.String(), Path: "$.having"}
		f.loc.anchors["$.having"] = b.anchors
	}
	return nil
}

// aliasOf finds the SELECT item named alias and returns its translated
// expression; "" when there is none or it is an aggregate.
func (f *sqlFile) aliasOf(targets []nodes.Node, starts []int, alias string) (string, string) {
	for i, t := range targets {
		rt := t.(*nodes.ResTarget)
		if rt.Name == "" || !strings.EqualFold(rt.Name, alias) || isAgg(rt.Val) {
			continue
		}
		if fc, ok := rt.Val.(*nodes.FuncCall); ok {
			if _, isWin := sqlWindows[funcName(fc)]; isWin {
				continue
			}
		}
		f.seek(starts[i])
		var b exprBuf
		if err := f.expr(rt.Val, &b, modeRow); err != nil {
			return "", ""
		}
		return rt.Name, b.String()
	}
	return "", ""
}
