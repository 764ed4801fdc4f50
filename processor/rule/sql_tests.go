package rule

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/sluicehq/sluice/internal/yamlfile"
)

// sqlTestsFile is the YAML inside the /* tests: ... */ comment.
type sqlTestsFile struct {
	Tests []testFile `yaml:"tests"`
}

var testsCommentRe = regexp.MustCompile(`^/\*\s*tests:`)

// testsBlock finds the /* tests: ... */ comment and reads it as YAML. The
// YAML is parsed from a copy of the file where everything but the comment's
// inside is blank, so its line:col positions are the file's.
func (f *sqlFile) testsBlock(all []token) ([]Test, error) {
	for _, t := range all {
		if t.kind != tComment || !testsCommentRe.MatchString(t.text) {
			continue
		}
		b := []byte(f.src)
		blank(b, 0, t.start+2)
		end := t.end
		if strings.HasSuffix(t.text, "*/") {
			end -= 2
		}
		blank(b, end, len(b))
		var tf sqlTestsFile
		doc, err := yamlfile.Parse(f.name, b, &tf)
		if err != nil {
			var ye *yamlfile.Error
			if errors.As(err, &ye) && ye.Line == 0 {
				ye.Line, ye.Col = f.lines.pos(t.start)
			}
			return nil, err
		}
		f.loc.tests = doc
		return convertTests(f.loc, tf.Tests)
	}
	return nil, nil
}

// convertTests turns the YAML test items of a rule file (or of a SQL rule's
// tests comment) into Tests.
func convertTests(loc Locator, in []testFile) ([]Test, error) {
	var out []Test
	for i, t := range in {
		path := fmt.Sprintf("$.tests[%d]", i)
		tc := Test{Name: t.Name, Event: t.Event, Output: t.Output, Events: t.Events, Path: path}
		if tc.Name == "" {
			tc.Name = fmt.Sprintf("test %d", i+1)
		}
		switch e := t.Expect.(type) {
		case nil:
		case string:
			tc.Expect = e
		case []any:
			for j, r := range e {
				m, ok := r.(map[string]any)
				if !ok {
					return nil, loc.Errorf(fmt.Sprintf("%s.expect[%d]", path, j), "an expected row is a map of column: value")
				}
				tc.Rows = append(tc.Rows, m)
			}
			if tc.Rows == nil {
				tc.Rows = []map[string]any{}
			}
		default:
			return nil, loc.Errorf(path+".expect", "expect is match, no_match or a list of expected rows")
		}
		out = append(out, tc)
	}
	return out, nil
}
