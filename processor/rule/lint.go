package rule

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"

	"github.com/sluicehq/sluice/internal/yamlfile"
	"github.com/sluicehq/sluice/schema"
)

// Finding is one lint result.
type Finding struct {
	At       string // file:line:col, or file
	Severity string // error, warning or info
	Msg      string
}

func (f Finding) String() string { return fmt.Sprintf("%s: %s: %s", f.At, f.Severity, f.Msg) }

// Lint checks every rule file in dir: load errors (schema, fields, types),
// duplicate names and output topics, rules without tests or description,
// an output topic that another rule reads, and the schema fields no rule
// reads.
func Lint(dir string, schemas map[string]*schema.Schema) ([]Finding, error) {
	files, err := RuleFiles(dir)
	if err != nil {
		return nil, err
	}
	var (
		out   []Finding
		rules []*Rule
	)
	addErr := func(err error) {
		for _, e := range splitJoined(err) {
			var ye *yamlfile.Error
			if errors.As(e, &ye) {
				out = append(out, Finding{At: strings.TrimSuffix((&yamlfile.Error{File: ye.File, Line: ye.Line, Col: ye.Col}).Error(), ": "), Severity: "error", Msg: ye.Msg})
			} else {
				out = append(out, Finding{At: dir, Severity: "error", Msg: e.Error()})
			}
		}
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			addErr(err)
			continue
		}
		r, err := Load(f, data, schemas)
		if err != nil {
			addErr(err)
			continue
		}
		rules = append(rules, r)
	}
	if err := checkUnique(rules); err != nil {
		addErr(err)
	}
	sources := map[string]bool{}
	for _, s := range schemas {
		sources[s.Topic] = true
	}
	for _, r := range rules {
		at := func(path string) string {
			return strings.TrimSuffix(r.Spec.Loc.Errorf(path, "").Error(), ": ")
		}
		if len(r.Spec.Tests) == 0 {
			out = append(out, Finding{At: at("$.name"), Severity: "warning", Msg: "rule has no tests"})
		}
		if r.Description == "" {
			out = append(out, Finding{At: at("$.name"), Severity: "warning", Msg: "rule has no description"})
		}
		if w := r.Window; w != nil && w.Repartition {
			switch {
			case r.groupedByKey():
				out = append(out, Finding{At: at("$.window"), Severity: "warning", Msg: fmt.Sprintf("repartition has no effect: the rule groups by the record key (%s), so each group lives in one partition", r.Schema.Key)})
			case w.Type == Session || w.EmitEvery > 0:
				out = append(out, Finding{At: at("$.window"), Severity: "warning", Msg: "repartition has no effect: session rules and rules with emit_every always repartition unless they group by the record key"})
			}
		}
		if sources[r.Output] {
			out = append(out, Finding{At: at("$.output"), Severity: "warning", Msg: fmt.Sprintf("output topic %s is a source topic of another schema", r.Output)})
		}
	}
	// Fields no rule reads, per source (a filter without select passes
	// whole records on, so it reads everything).
	used := map[string]map[string]bool{}
	whole := map[string]bool{}
	for _, r := range rules {
		if used[r.Source] == nil {
			used[r.Source] = map[string]bool{}
		}
		for _, f := range r.Fields() {
			used[r.Source][f] = true
		}
		if r.IsFilter() && len(r.sel) == 0 {
			whole[r.Source] = true
		}
	}
	var srcs []string
	for s := range used {
		srcs = append(srcs, s)
	}
	sort.Strings(srcs)
	for _, s := range srcs {
		if whole[s] {
			continue
		}
		var unused []string
		for _, p := range leafPaths(schemas[s].Columns, "") {
			if !used[s][p] && !usedPrefix(used[s], p) {
				unused = append(unused, p)
			}
		}
		if len(unused) > 0 {
			out = append(out, Finding{At: schemas[s].Source, Severity: "info", Msg: fmt.Sprintf("fields of %s no rule reads: %s", s, strings.Join(unused, ", "))})
		}
	}
	return out, nil
}

func splitJoined(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, splitJoined(e)...)
		}
		return out
	}
	return []error{err}
}

func leafPaths(cols []schema.Column, prefix string) []string {
	var out []string
	for _, c := range cols {
		if c.Type == schema.Struct {
			out = append(out, leafPaths(c.Fields, prefix+c.Name+".")...)
			continue
		}
		out = append(out, prefix+c.Name)
	}
	return out
}

// usedPrefix says whether a whole parent object of path is read.
func usedPrefix(used map[string]bool, path string) bool {
	for i := strings.LastIndexByte(path, '.'); i > 0; i = strings.LastIndexByte(path[:i], '.') {
		if used[path[:i]] {
			return true
		}
	}
	return false
}

// Fields lists the field paths the rule's expressions read.
func (r *Rule) Fields() []string {
	v := &fieldVisitor{paths: map[string]bool{}}
	var progs []*vm.Program
	add := func(p *vm.Program) {
		if p != nil {
			progs = append(progs, p)
		}
	}
	add(r.where)
	if r.key != nil {
		add(r.key.prog)
	}
	for i := range r.sel {
		add(r.sel[i].prog)
	}
	for i := range r.groups {
		add(r.groups[i].prog)
	}
	for i := range r.aggs {
		if r.aggs[i].arg != nil {
			add(r.aggs[i].arg.prog)
		}
	}
	if !r.IsFilter() {
		v.paths[r.Schema.EventTime] = true
	}
	for _, p := range progs {
		n := p.Node()
		ast.Walk(&n, v)
	}
	out := make([]string, 0, len(v.paths))
	for p := range v.paths {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

type fieldVisitor struct{ paths map[string]bool }

func (v *fieldVisitor) Visit(n *ast.Node) {
	switch x := (*n).(type) {
	case *ast.IdentifierNode:
		v.paths[x.Value] = true
	case *ast.MemberNode:
		if p := memberPath(x); p != "" {
			v.paths[p] = true
		}
	}
}

func memberPath(m *ast.MemberNode) string {
	prop, ok := m.Property.(*ast.StringNode)
	if !ok {
		return ""
	}
	switch x := m.Node.(type) {
	case *ast.IdentifierNode:
		return x.Value + "." + prop.Value
	case *ast.MemberNode:
		if p := memberPath(x); p != "" {
			return p + "." + prop.Value
		}
	}
	return ""
}
