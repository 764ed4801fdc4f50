package rule

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/pgplex/pgparser/nodes"
)

// like turns LIKE into the cheapest expr operator that means the same:
// ==, startsWith, endsWith, contains, or else a regular expression.
func (f *sqlFile) like(x *nodes.A_Expr, name string, e *exprBuf, mode exprMode) error {
	kw := f.find(func(t token) bool { return t.is("like", "ilike") })
	c, ok := x.Rexpr.(*nodes.A_Const)
	var pat string
	if ok {
		s, isStr := c.Val.(*nodes.String)
		ok = isStr
		if s != nil {
			pat = s.Str
		}
	}
	if !ok {
		return f.errAt(kw, "LIKE needs a constant pattern such as 'abc%' (LIKE ... ESCAPE is not supported yet)")
	}
	neg := strings.HasPrefix(name, "!")
	insensitive := x.Kind == nodes.AEXPR_ILIKE
	var lx exprBuf
	if err := f.expr(x.Lexpr, &lx, mode); err != nil {
		return err
	}
	pt := f.find(func(t token) bool { return t.kind == tString })
	if neg {
		e.leaf("!", kw)
	}
	e.WriteString("(")
	e.appendBuf(&lx)
	lit, kind := likeKind(pat)
	if insensitive && kind != "matches" {
		kind, lit = "matches", ""
	}
	switch kind {
	case "==":
		e.leaf(" == ", kw)
		e.leaf(strconv.Quote(lit), pt)
	case "startsWith", "endsWith", "contains":
		e.leaf(" "+kind+" ", kw)
		e.leaf(strconv.Quote(lit), pt)
	default:
		re := likeRegexp(pat)
		if insensitive {
			re = "(?i)" + re
		}
		if _, err := regexp.Compile(re); err != nil {
			return f.errAt(pt, fmt.Sprintf("LIKE pattern %q: %v", pat, err))
		}
		e.leaf(" matches ", kw)
		e.leaf(strconv.Quote(re), pt)
	}
	e.WriteString(")")
	return nil
}

// likeKind classifies a LIKE pattern: a literal (==), literal% (startsWith),
// %literal (endsWith), %literal% (contains), or anything else (matches).
func likeKind(p string) (string, string) {
	special := func(s string) bool { return strings.ContainsAny(s, `%_\`) }
	switch {
	case !special(p):
		return p, "=="
	case len(p) >= 2 && strings.HasPrefix(p, "%") && strings.HasSuffix(p, "%") && !special(p[1:len(p)-1]):
		return p[1 : len(p)-1], "contains"
	case strings.HasSuffix(p, "%") && !special(p[:len(p)-1]):
		return p[:len(p)-1], "startsWith"
	case strings.HasPrefix(p, "%") && !special(p[1:]):
		return p[1:], "endsWith"
	}
	return "", "matches"
}

// likeRegexp translates a LIKE pattern (% any run, _ one character,
// backslash escapes the next character) into an anchored regexp.
func likeRegexp(p string) string {
	var b strings.Builder
	b.WriteString("^(?s)")
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '%':
			b.WriteString(".*")
		case c == '_':
			b.WriteString(".")
		case c == '\\' && i+1 < len(p):
			i++
			b.WriteString(regexp.QuoteMeta(p[i : i+1]))
		default:
			b.WriteString(regexp.QuoteMeta(p[i : i+1]))
		}
	}
	b.WriteString("$")
	return b.String()
}
