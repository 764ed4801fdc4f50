package rule

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/internal/yamlfile"
)

// FuzzSQLRule feeds arbitrary rule files to the SQL front end: it must never
// panic, and every rejection must be positioned inside the file
// (file:line:col).
func FuzzSQLRule(f *testing.F) {
	files, _ := filepath.Glob("../../rules/sql/*.sql")
	more, _ := filepath.Glob("../../rules/*.sql")
	for _, p := range append(files, more...) {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(string(data))
		}
	}
	for _, s := range []string{
		"-- output: o\nSELECT * FROM clickstream WHERE event_name LIKE 'a%b_c\\\\%' AND user_id NOT IN ('1', '2')",
		"-- output: o\nSELECT * FROM clickstream c JOIN x ON c.a = x.b",
		"-- output: o\nSELECT user_id, COUNT(*) AS n FROM clickstream GROUP BY SESSION(ROWTIME, INTERVAL '5' MINUTE), user_id HAVING n > 1",
		"INSERT INTO o SELECT CASE event_name WHEN 'a' THEN 1 END AS x FROM clickstream",
		"-- output: o\nSELECT * FROM clickstream WHERE (",
		"/* tests:\n - x */ SELECT",
		"-- map: a = b\n-- source: beer_clicks\nINSERT INTO \"t\" SELECT STREAM a FROM s WHERE FLOOR(ROWTIME TO MINUTE) IS NULL",
		"CREATE OR REPLACE PUMP p AS INSERT INTO o SELECT STREAM STEP(ROWTIME BY INTERVAL '1' SECOND), COUNT(*) AS n FROM clickstream GROUP BY STEP(ROWTIME BY INTERVAL '1' SECOND)",
		"-- output: o\nSELECT \"a\"\"b\" FROM clickstream /* /* nested */ */ WHERE 'it''s' = event_name",
		"CREATE TABLE t (ts TIMESTAMP(3), WATERMARK FOR `ts` AS `ts` - INTERVAL '5' SECONDS) WITH ('a' = 'b');\nINSERT INTO o SELECT COUNT(1) AS n FROM clickstream GROUP BY TUMBLE(`timestamp`, INTERVAL '1' MINUTES)",
	} {
		f.Add(s)
	}
	schemas := builtins(f)
	f.Fuzz(func(t *testing.T, src string) {
		r, err := Load("f.sql", []byte(src), schemas)
		if err != nil {
			var ye *yamlfile.Error
			if !errors.As(err, &ye) || ye.File != "f.sql" || ye.Line < 1 || ye.Col < 1 {
				t.Fatalf("error without a position: %#v (%v)", err, err)
			}
			if n := strings.Count(src, "\n") + 1; ye.Line > n {
				t.Fatalf("error at line %d of a %d-line file: %v", ye.Line, n, err)
			}
			return
		}
		r.RunTests()
	})
}
