// Package yamlfile decodes user-edited YAML files strictly (unknown keys are
// errors) and reports every problem as file:line:col, so a typo in a rule or
// schema file points at the exact spot.
package yamlfile

import (
	"errors"
	"fmt"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Error is a problem at a position in a file. Line and Col are 1-based; 0
// means unknown.
type Error struct {
	File      string
	Line, Col int
	Msg       string
}

func (e *Error) Error() string {
	switch {
	case e.Line > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Msg)
	case e.File != "":
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	default:
		return e.Msg
	}
}

// Doc is a parsed YAML document that remembers where each value stands.
type Doc struct {
	Name string
	file *ast.File
	data []byte
}

// Parse parses data (named name in errors) and decodes it into v strictly.
// A panic of the YAML library is an error too: a rule file saved in the
// middle of an edit must not take down a running processor on reload.
// (goccy/go-yaml v1.19.2 still panics on a tag over a scalar where a
// list belongs, e.g. "select: !x 0": goccy/go-yaml#735, fixed upstream
// after that release.)
func Parse(name string, data []byte, v any) (doc *Doc, err error) {
	defer func() {
		if p := recover(); p != nil {
			doc, err = nil, &Error{File: name, Msg: fmt.Sprintf("the YAML parser failed on this file (%v); look for a tag such as !x where a list or a map belongs", p)}
		}
	}()
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, wrap(name, err)
	}
	if err := yaml.UnmarshalWithOptions(data, v, yaml.Strict()); err != nil {
		return nil, wrap(name, err)
	}
	return &Doc{Name: name, file: f, data: data}, nil
}

func wrap(name string, err error) error {
	var ye yaml.Error
	if errors.As(err, &ye) && ye.GetToken() != nil {
		p := ye.GetToken().Position
		return &Error{File: name, Line: p.Line, Col: p.Column, Msg: ye.GetMessage()}
	}
	return &Error{File: name, Msg: err.Error()}
}

// Pos returns the line and column of the value at path (a YAML path such as
// "$.where" or "$.tests[2].event"), or 0, 0 when the path is not in the file.
func (d *Doc) Pos(path string) (line, col int) {
	if d == nil || d.file == nil {
		return 0, 0
	}
	defer func() {
		if recover() != nil { // a library panic costs the position, not the error
			line, col = 0, 0
		}
	}()
	p, err := yaml.PathString(path)
	if err != nil {
		return 0, 0
	}
	n, err := p.FilterFile(d.file)
	if err != nil || n == nil || n.GetToken() == nil {
		return 0, 0
	}
	t := n.GetToken()
	return t.Position.Line, t.Position.Column
}

// Errorf returns an Error positioned at path.
func (d *Doc) Errorf(path, format string, args ...any) *Error {
	line, col := d.Pos(path)
	return &Error{File: d.Name, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)}
}

// ErrorAt returns an Error positioned at path, shifted by an offset within
// the value (for errors inside an expression): dline lines down and, on the
// first line, dcol columns right. Block scalars (| and >) start on the next
// line, which the caller accounts for in dline.
func (d *Doc) ErrorAt(path string, dline, dcol int, msg string) *Error {
	line, col := d.Pos(path)
	if line > 0 {
		if dline == 0 {
			col += dcol
		} else {
			line += dline
			col = dcol + 1
		}
	}
	return &Error{File: d.Name, Line: line, Col: col, Msg: msg}
}
