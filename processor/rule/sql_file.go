package rule

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pgplex/pgparser/nodes"
	"github.com/pgplex/pgparser/parser"

	"github.com/sluicehq/sluice/schema"
)

// A SQL rule file (*.sql) holds one SELECT (optionally inside a KDA pump or
// an INSERT INTO), header directives in leading "-- key: value" comments,
// and its tests in a /* tests: ... */ comment. docs/sql.md is its
// reference; keep the two in step.
//
// The statement is parsed by github.com/pgplex/pgparser (the PostgreSQL 17
// grammar in pure Go) and compiled into the same Spec a YAML file gives.

// sqlFile is one SQL rule file being translated.
type sqlFile struct {
	name    string
	src     string
	lines   lines
	toks    []token // code tokens of the normalised text (same offsets as src)
	pos     int     // search cursor into toks
	sc      *schema.Schema
	mapping map[string]string
	streams []string // names that qualify a column: the FROM stream and its alias
	spec    *Spec
	loc     *sqlLoc
	// outNames are the names HAVING may use.
	outNames map[string]bool
	// watermark is the lateness a Flink CREATE TABLE declared with
	// WATERMARK FOR ts AS ts - INTERVAL ...; -1 when none.
	watermark time.Duration
}

// sqlDirectives are the keys of the header comments.
var sqlDirectives = map[string]bool{"name": true, "description": true, "source": true, "output": true, "map": true,
	"allowed_lateness": true, "emit_every": true, "distinct_exact": true, "repartition": true}

// windowDirectives are the header keys that set window options.
var windowDirectives = []string{"allowed_lateness", "emit_every", "distinct_exact", "repartition"}

var directiveRe = regexp.MustCompile(`^--\s*([a-z_]+)\s*:\s*(.*?)\s*$`)

type directive struct {
	value string
	off   int
}

// ParseSQL reads a SQL rule file into a Spec. It needs the schemas to
// resolve the source stream, ROWTIME and the column mapping.
func ParseSQL(name string, data []byte, schemas map[string]*schema.Schema) (*Spec, error) {
	src := string(data)
	f := &sqlFile{name: name, src: src, lines: newLines(src), mapping: map[string]string{}, outNames: map[string]bool{}}
	f.loc = &sqlLoc{file: name, lines: f.lines, pos: map[string]int{"$": 0}, anchors: map[string][]anchor{}}
	all := scanSQL(src)

	dirs, err := f.directives(all)
	if err != nil {
		return nil, err
	}
	tests, err := f.testsBlock(all)
	if err != nil {
		return nil, err
	}

	f.watermark = flinkWatermark(code(all))
	norm := []byte(src)
	for _, t := range all {
		if t.kind == tComment {
			blank(norm, t.start, t.end)
		}
	}
	normalize(norm, code(all))
	f.toks = code(scanSQL(string(norm)))
	if len(f.toks) == 0 {
		return nil, f.loc.at(0, "no SQL statement: write SELECT ... FROM source WHERE ...")
	}
	f.loc.pos["$"] = f.toks[0].start

	stmts, err := parser.Parse(string(norm))
	if err != nil {
		return nil, f.syntaxError(err, string(norm))
	}
	items := list(stmts)
	if len(items) == 0 {
		return nil, f.loc.at(0, "no SQL statement: write SELECT ... FROM source WHERE ...")
	}
	if len(items) > 1 {
		off := f.toks[len(f.toks)-1].start
		for i, t := range f.toks {
			if t.op(";") && i+1 < len(f.toks) {
				off = f.toks[i+1].start
				break
			}
		}
		return nil, f.loc.at(off, "one rule per file: this is a second statement (CREATE STREAM declarations are ignored; the schema file declares the stream)")
	}
	stmt := items[0]
	if raw, ok := stmt.(*nodes.RawStmt); ok {
		stmt = raw.Stmt
	}
	spec := &Spec{File: name, Loc: f.loc, Tests: tests}
	f.spec = spec
	var sel *nodes.SelectStmt
	switch x := stmt.(type) {
	case *nodes.SelectStmt:
		sel = x
	case *nodes.InsertStmt:
		it := f.find(func(t token) bool { return t.is("into") })
		s, ok := x.SelectStmt.(*nodes.SelectStmt)
		if !ok || x.Relation == nil {
			return nil, f.errAt(it, "INSERT INTO needs a SELECT: INSERT INTO \"topic\" SELECT ...")
		}
		if x.Cols != nil || x.OnConflictClause != nil || x.ReturningList != nil || x.WithClause != nil {
			return nil, f.errAt(it, "INSERT INTO takes a stream name and a SELECT only; name the output columns with AS")
		}
		sel = s
		spec.Output = x.Relation.Relname
		if x.Relation.Schemaname != "" {
			spec.Output = x.Relation.Schemaname + "." + spec.Output
		}
		if rt := f.find(func(t token) bool { return t.kind == tIdent || t.kind == tQIdent }); rt != nil {
			f.loc.pos["$.output"] = rt.start
		}
	default:
		return nil, f.loc.at(f.toks[0].start, fmt.Sprintf("a rule is one SELECT (or INSERT INTO ... SELECT, or a KDA pump); %s is not supported", strings.TrimSuffix(nodeName(stmt), "Stmt")))
	}

	spec.Name = strings.TrimSuffix(filepath.Base(name), filepath.Ext(name))
	f.loc.pos["$.name"] = f.toks[0].start
	if d, ok := dirs["name"]; ok {
		spec.Name, f.loc.pos["$.name"] = d.value, d.off
	}
	if d, ok := dirs["description"]; ok {
		spec.Description = d.value
	}
	if d, ok := dirs["output"]; ok {
		spec.Output, f.loc.pos["$.output"] = d.value, d.off
	}
	if err := f.query(sel, dirs, schemas); err != nil {
		return nil, err
	}
	return spec, nil
}

// directives reads the "-- key: value" lines before the statement.
func (f *sqlFile) directives(all []token) (map[string]directive, error) {
	out := map[string]directive{}
	for _, t := range all {
		if t.kind != tComment {
			break
		}
		m := directiveRe.FindStringSubmatchIndex(t.text)
		if m == nil || !sqlDirectives[t.text[m[2]:m[3]]] {
			continue
		}
		key, val, off := t.text[m[2]:m[3]], t.text[m[4]:m[5]], t.start+m[4]
		if key == "map" {
			if err := f.parseMap(val, off); err != nil {
				return nil, err
			}
			continue
		}
		if _, dup := out[key]; dup {
			return nil, f.loc.at(t.start, fmt.Sprintf("-- %s: is given twice", key))
		}
		out[key] = directive{value: val, off: off}
	}
	return out, nil
}

// parseMap reads "sql_name = field.path, ..." into the column mapping.
func (f *sqlFile) parseMap(val string, off int) error {
	pos := 0
	for _, item := range strings.Split(val, ",") {
		at := off + pos
		pos += len(item) + 1
		if strings.TrimSpace(item) == "" {
			continue
		}
		k, v, ok := strings.Cut(item, "=")
		k, v = strings.Trim(strings.TrimSpace(k), `"`), strings.TrimSpace(v)
		if !ok || k == "" || !pathRe.MatchString(v) {
			return f.loc.at(at+len(item)-len(strings.TrimLeft(item, " ")), fmt.Sprintf("map item %q: want sql_name = field.path, e.g. -- map: percent_viewed = additional_data.percent_viewed", strings.TrimSpace(item)))
		}
		if _, dup := f.mapping[k]; dup {
			return f.loc.at(at, fmt.Sprintf("map: %s is mapped twice", k))
		}
		f.mapping[k] = v
	}
	return nil
}

// syntaxError positions a parser error on the token where it stopped. The
// parser reports the offset after the token it failed on; at the end of the
// input that is also the end of the last token, so a second parse with a
// token appended tells "the statement is incomplete" from "the last token
// is wrong".
func (f *sqlFile) syntaxError(err error, norm string) error {
	var pe *parser.ParseError
	if !errors.As(err, &pe) {
		return f.loc.at(f.loc.pos["$"], "SQL: "+err.Error())
	}
	msg := pe.Message
	if msg == "" || strings.HasPrefix(msg, "parse error") {
		msg = "syntax error"
	}
	last := f.toks[len(f.toks)-1]
	if pe.Position >= last.end {
		_, err2 := parser.Parse(norm + " SELECT SELECT")
		var pe2 *parser.ParseError
		if !errors.As(err2, &pe2) || pe2.Position > last.end {
			return f.loc.at(last.end, msg+" at end of input (is the statement complete?)")
		}
	}
	for _, t := range f.toks {
		if t.end >= pe.Position && t.start < pe.Position || t.start >= pe.Position {
			return f.loc.at(t.start, fmt.Sprintf("%s at or near %q", msg, f.src[t.start:t.end]))
		}
	}
	return f.loc.at(last.end, msg+" at end of input (is the statement complete?)")
}

// find moves the cursor to the next token that satisfies ok and returns it;
// nil (cursor kept) when there is none.
func (f *sqlFile) find(ok func(token) bool) *token {
	for i := f.pos; i < len(f.toks); i++ {
		if ok(f.toks[i]) {
			f.pos = i + 1
			return &f.toks[i]
		}
	}
	return nil
}

// cur is the token at the cursor.
func (f *sqlFile) cur() *token {
	switch {
	case f.pos < len(f.toks):
		return &f.toks[f.pos]
	case len(f.toks) > 0:
		return &f.toks[len(f.toks)-1]
	}
	return nil
}

func (f *sqlFile) errAt(t *token, msg string) error {
	if t == nil {
		t = f.cur()
	}
	off := 0
	if t != nil {
		off = t.start
	}
	return f.loc.at(off, msg)
}

// clause finds the top-level keyword kw of the statement (token index, or
// -1), after token index from.
func (f *sqlFile) clause(from int, kw ...string) int {
	depth := 0
	for i := from; i < len(f.toks); i++ {
		t := f.toks[i]
		switch {
		case t.op("("):
			depth++
		case t.op(")"):
			depth--
		case depth == 0 && t.is(kw...):
			return i
		}
	}
	return -1
}

// items splits the tokens [from, to) at top-level commas and returns the
// index of each item's first token.
func (f *sqlFile) items(from, to int) []int {
	out := []int{from}
	depth := 0
	for i := from; i < to && i < len(f.toks); i++ {
		t := f.toks[i]
		switch {
		case t.op("("):
			depth++
		case t.op(")"):
			depth--
		case depth == 0 && t.op(","):
			out = append(out, i+1)
		}
	}
	return out
}

// seek puts the cursor on token index i.
func (f *sqlFile) seek(i int) {
	if i >= 0 {
		f.pos = i
	}
}

func (f *sqlFile) tokAt(i int) *token {
	if i >= 0 && i < len(f.toks) {
		return &f.toks[i]
	}
	return nil
}

// parseDuration reads a directive's duration: Go syntax (90s, 1m) or SQL
// words (1 minute, 30 seconds).
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return d, nil
	}
	fields := strings.Fields(strings.ToLower(s))
	if len(fields) == 0 || len(fields)%2 != 0 {
		return 0, fmt.Errorf("%q is not a duration such as 30s, 1m or '1 minute'", s)
	}
	var total time.Duration
	for i := 0; i < len(fields); i += 2 {
		n, err := strconv.ParseFloat(fields[i], 64)
		u, ok := unitDur[strings.TrimSuffix(fields[i+1], "s")]
		if err != nil || !ok || n < 0 {
			return 0, fmt.Errorf("%q is not a duration such as 30s, 1m or '1 minute'", s)
		}
		total += time.Duration(n * float64(u))
	}
	return total, nil
}

var unitDur = map[string]time.Duration{
	"millisecond": time.Millisecond, "ms": time.Millisecond, "msec": time.Millisecond,
	"second": time.Second, "sec": time.Second, "minute": time.Minute, "min": time.Minute,
	"hour": time.Hour, "h": time.Hour, "day": 24 * time.Hour, "d": 24 * time.Hour,
}

// flinkWatermark finds WATERMARK FOR ts AS ts - INTERVAL 'n' UNIT in a Flink
// CREATE TABLE: the lateness the source table declared (-1: none). The
// column names may be quoted either way, so they are skipped, not matched.
func flinkWatermark(toks []token) time.Duration {
	for i := range toks {
		if !toks[i].is("watermark") || i+1 >= len(toks) || !toks[i+1].is("for") {
			continue
		}
		for j := i + 2; j+3 < len(toks) && j < i+16; j++ {
			if toks[j].op("-") && toks[j+1].is("interval") && toks[j+2].kind == tString {
				n, err := strconv.ParseFloat(strings.TrimSpace(toks[j+2].text), 64)
				u, ok := unitDur[strings.TrimSuffix(toks[j+3].text, "s")]
				if err == nil && ok && n >= 0 {
					return time.Duration(n * float64(u))
				}
				break
			}
		}
	}
	return -1
}
