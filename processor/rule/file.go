package rule

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/sluicehq/sluice/internal/yamlfile"
	"github.com/sluicehq/sluice/schema"
)

// ruleFile is the YAML shape of a rule file. docs/processor.md is its
// reference; keep the two in step.
type ruleFile struct {
	Name        string        `yaml:"name"`
	Description string        `yaml:"description"`
	Source      string        `yaml:"source"`
	Where       string        `yaml:"where"`
	Select      namedList     `yaml:"select"`
	Key         string        `yaml:"key"`
	Output      string        `yaml:"output"`
	Window      *windowFile   `yaml:"window"`
	GroupBy     namedList     `yaml:"group_by"`
	Aggregate   yaml.MapSlice `yaml:"aggregate"`
	Having      string        `yaml:"having"`
	Tests       []testFile    `yaml:"tests"`
}

type windowFile struct {
	Type            string `yaml:"type"`
	Size            string `yaml:"size"`
	Every           string `yaml:"every"`
	Gap             string `yaml:"gap"`
	AllowedLateness string `yaml:"allowed_lateness"`
	EmitEvery       string `yaml:"emit_every"`
	DistinctExact   int    `yaml:"distinct_exact"`
	Repartition     bool   `yaml:"repartition"`
}

type testFile struct {
	Name   string           `yaml:"name"`
	Event  map[string]any   `yaml:"event"`
	Expect any              `yaml:"expect"`
	Output map[string]any   `yaml:"output"`
	Events []map[string]any `yaml:"events"`
}

// namedList is a list whose items are either an expression that is a field
// path (named after its last part) or a one-key map name: expression.
type namedList []namedItem

type namedItem struct {
	name, expr string
	mapped     bool
}

func (l *namedList) UnmarshalYAML(unmarshal func(any) error) error {
	var raw []any
	if err := unmarshal(&raw); err != nil {
		return errors.New("want a list of field paths or name: expression items")
	}
	for _, it := range raw {
		switch v := it.(type) {
		case string:
			*l = append(*l, namedItem{expr: v})
		case map[string]any:
			if len(v) != 1 {
				return errors.New("each item is a field path or one name: expression pair")
			}
			for k, e := range v {
				*l = append(*l, namedItem{name: k, expr: fmt.Sprint(e), mapped: true})
			}
		default:
			return fmt.Errorf("item %v: want a field path or name: expression", it)
		}
	}
	return nil
}

// yamlLoc positions errors in a YAML rule file, including inside quoted and
// block-scalar expressions.
type yamlLoc struct {
	doc   *yamlfile.Doc
	lines []string
}

func (l *yamlLoc) Errorf(path, format string, args ...any) error {
	return l.doc.Errorf(path, format, args...)
}

func (l *yamlLoc) ErrorAt(path string, offset, line, col int, msg string) error {
	pl, pc := l.doc.Pos(path)
	if pl == 0 || pl > len(l.lines) {
		return l.doc.ErrorAt(path, 0, 0, msg)
	}
	src := l.lines[pl-1]
	var c byte
	if pc-1 < len(src) && pc >= 1 {
		c = src[pc-1]
	}
	switch {
	case c == '|' || c == '>':
		// Block scalar: the text starts on the next line, indented.
		return l.doc.ErrorAt(path, line, l.indent(pl+1)+col, msg)
	case line <= 1:
		if c == '"' || c == '\'' {
			offset++
		}
		return l.doc.ErrorAt(path, 0, offset+col, msg)
	default:
		return l.doc.ErrorAt(path, line-1, l.indent(pl+line-1)+col, msg)
	}
}

func (l *yamlLoc) indent(line int) int {
	if line < 1 || line > len(l.lines) {
		return 0
	}
	s := l.lines[line-1]
	return len(s) - len(strings.TrimLeft(s, " \t"))
}

// ParseFile reads a YAML rule file into a Spec (no type checking yet).
func ParseFile(name string, data []byte) (*Spec, error) {
	var f ruleFile
	doc, err := yamlfile.Parse(name, data, &f)
	if err != nil {
		return nil, err
	}
	loc := &yamlLoc{doc: doc, lines: strings.Split(string(data), "\n")}
	s := &Spec{
		Name: f.Name, Description: f.Description, Source: f.Source, Output: f.Output,
		Where:  Expr{Text: f.Where, Path: "$.where"},
		Key:    Expr{Text: f.Key, Path: "$.key"},
		Having: Expr{Text: f.Having, Path: "$.having"},
		File:   name, Loc: loc,
	}
	if s.Select, err = named(loc, "select", f.Select); err != nil {
		return nil, err
	}
	if s.GroupBy, err = named(loc, "group_by", f.GroupBy); err != nil {
		return nil, err
	}
	for _, it := range f.Aggregate {
		k := fmt.Sprint(it.Key)
		path := "$.aggregate." + k
		a, err := parseAgg(loc, k, fmt.Sprint(it.Value), path)
		if err != nil {
			return nil, err
		}
		s.Aggregates = append(s.Aggregates, a)
	}
	if f.Window != nil {
		w := &WindowSpec{Type: f.Window.Type, DistinctExact: f.Window.DistinctExact, Repartition: f.Window.Repartition}
		for _, d := range []struct {
			key string
			src string
			dst *time.Duration
		}{
			{"size", f.Window.Size, &w.Size}, {"every", f.Window.Every, &w.Every}, {"gap", f.Window.Gap, &w.Gap},
			{"allowed_lateness", f.Window.AllowedLateness, &w.AllowedLateness}, {"emit_every", f.Window.EmitEvery, &w.EmitEvery},
		} {
			if d.src == "" {
				continue
			}
			v, err := time.ParseDuration(d.src)
			if err != nil || v < 0 {
				return nil, loc.Errorf("$.window."+d.key, "%s: %q is not a duration such as 30s, 1m or 1h", d.key, d.src)
			}
			*d.dst = v
		}
		s.Window = w
	}
	tests, err := convertTests(loc, f.Tests)
	if err != nil {
		return nil, err
	}
	s.Tests = tests
	return s, nil
}

var pathRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)

func named(loc Locator, key string, items namedList) ([]Named, error) {
	var out []Named
	for i, it := range items {
		path := fmt.Sprintf("$.%s[%d]", key, i)
		n := Named{Name: it.name, Expr: Expr{Text: it.expr, Path: path}}
		if it.mapped {
			n.Expr.Path = path + "." + it.name
		} else {
			e := strings.TrimSpace(it.expr)
			if !pathRe.MatchString(e) {
				return nil, loc.Errorf(path, "%s item %q is not a field path: name it, as in `- my_name: %s`", key, it.expr, it.expr)
			}
			n.Name = e[strings.LastIndexByte(e, '.')+1:]
		}
		out = append(out, n)
	}
	return out, nil
}

var aggRe = regexp.MustCompile(`^\s*([A-Za-z_]+)\s*\((.*)\)\s*$`)

func parseAgg(loc Locator, name, text, path string) (Agg, error) {
	m := aggRe.FindStringSubmatchIndex(text)
	if m == nil {
		return Agg{}, loc.Errorf(path, "aggregate %s: %q is not a call such as count(), sum(additional_data.price)", name, text)
	}
	a := Agg{Name: name, Func: text[m[2]:m[3]], Path: path}
	a.Arg = Expr{Text: text[m[4]:m[5]], Path: path, Offset: m[4]}
	return a, nil
}

// LoadDir loads and compiles every rule file (*.yaml, *.yml, *.sql) in dir against
// schemas (keyed by schema name; nil: the built-in schemas). Every problem in
// every file is reported, each as file:line:col: message.
func LoadDir(dir string, schemas map[string]*schema.Schema) ([]*Rule, error) {
	if schemas == nil {
		var err error
		if schemas, err = schema.ResolveAll(schema.Builtin()); err != nil {
			return nil, err
		}
	}
	files, err := RuleFiles(dir)
	if err != nil {
		return nil, err
	}
	var (
		rules []*Rule
		errs  []error
	)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("reading rule file: %w", err))
			continue
		}
		r, err := Load(f, data, schemas)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		rules = append(rules, r)
	}
	if err := checkUnique(rules); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return rules, nil
}

// RuleFiles lists the rule files of dir in name order.
func RuleFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading rules directory: %w", err)
	}
	var out []string
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || strings.HasPrefix(n, ".") {
			continue
		}
		if ext := filepath.Ext(n); ext == ".yaml" || ext == ".yml" || ext == ".sql" {
			out = append(out, filepath.Join(dir, n))
		}
	}
	sort.Strings(out)
	return out, nil
}

// Load parses and compiles one rule file.
func Load(name string, data []byte, schemas map[string]*schema.Schema) (*Rule, error) {
	parse := ParseFile
	if filepath.Ext(name) == ".sql" {
		parse = func(name string, data []byte) (*Spec, error) { return ParseSQL(name, data, schemas) }
	}
	s, err := parse(name, data)
	if err != nil {
		return nil, err
	}
	return Compile(s, schemas)
}

// checkUnique rejects two rules with the same name or output topic.
func checkUnique(rules []*Rule) error {
	var errs []error
	names, outs := map[string]*Rule{}, map[string]*Rule{}
	for _, r := range rules {
		if o, ok := names[r.Name]; ok {
			errs = append(errs, r.Spec.Loc.Errorf("$.name", "rule name %q is already used by %s", r.Name, o.Spec.File))
		}
		names[r.Name] = r
		if o, ok := outs[r.Output]; ok {
			errs = append(errs, r.Spec.Loc.Errorf("$.output", "output topic %q is already written by rule %s (%s)", r.Output, o.Name, o.Spec.File))
		}
		outs[r.Output] = r
	}
	return errors.Join(errs...)
}
