package rule

import (
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/internal/yamlfile"
)

// sqlLoc positions errors in a SQL rule file: every Spec path the front end
// hands out is recorded with its byte offset and, for expressions, the
// anchors that map expr columns back to SQL tokens.
type sqlLoc struct {
	file    string
	lines   lines
	pos     map[string]int
	anchors map[string][]anchor
	tests   *yamlfile.Doc
}

func (l *sqlLoc) at(off int, msg string) *yamlfile.Error {
	line, col := l.lines.pos(off)
	return &yamlfile.Error{File: l.file, Line: line, Col: col, Msg: msg}
}

func (l *sqlLoc) offset(path string) int {
	for p := path; p != ""; {
		if off, ok := l.pos[p]; ok {
			return off
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			break
		}
		p = p[:i]
	}
	return l.pos["$"]
}

func (l *sqlLoc) Errorf(path, format string, args ...any) error {
	if strings.HasPrefix(path, "$.tests") && l.tests != nil {
		return l.tests.Errorf(path, format, args...)
	}
	return l.at(l.offset(path), fmt.Sprintf(format, args...))
}

func (l *sqlLoc) ErrorAt(path string, offset, line, col int, msg string) error {
	if strings.HasPrefix(path, "$.tests") && l.tests != nil {
		return l.tests.ErrorAt(path, line-1, offset+col, msg)
	}
	at := offset + col
	off := l.offset(path)
	best := -1
	for i, a := range l.anchors[path] {
		if a.at <= at {
			best = i
		}
	}
	if best >= 0 {
		a := l.anchors[path][best]
		off = a.src
		if d := at - a.at; d < a.n && a.n == a.srcN {
			off += d
		}
	}
	return l.at(off, msg)
}
