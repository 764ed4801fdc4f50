package rule

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/expr-lang/expr/vm"
	json "github.com/goccy/go-json"
)

func loadSQL(t testing.TB, src string) (*Rule, error) {
	t.Helper()
	return Load("r.sql", []byte(src), builtins(t))
}

// The SQL dialect translates into the expr texts a YAML rule would hold.
func TestSQLTranslatesExpressions(t *testing.T) {
	cases := []struct{ where, want string }{
		{`event_name = 'ViewContent' AND additional_data.percent_viewed > 60`, `((event_name == "ViewContent") && (additional_data.percent_viewed > 60))`},
		{`"event_name" <> 'x' OR NOT (user_id != '1')`, `((event_name != "x") || !((user_id != "1")))`},
		{`event_name IN ('Search', 'Purchase')`, `(event_name in ["Search", "Purchase"])`},
		{`event_name NOT IN ('Search')`, `(!(event_name in ["Search"]))`},
		{`additional_data.price BETWEEN 1 AND 2.5`, `(additional_data.price >= 1 && additional_data.price <= 2.5)`},
		{`additional_data.price NOT BETWEEN 1 AND 2`, `!(additional_data.price >= 1 && additional_data.price <= 2)`},
		{`event_name LIKE 'View%'`, `(event_name startsWith "View")`},
		{`event_name LIKE '%Cart'`, `(event_name endsWith "Cart")`},
		{`event_name LIKE '%To%'`, `(event_name contains "To")`},
		{`event_name LIKE 'Search'`, `(event_name == "Search")`},
		{`event_name NOT LIKE 'A_d%'`, `!(event_name matches "^(?s)A.d.*$")`},
		{`event_name ILIKE 'search'`, `(event_name matches "(?i)^(?s)search$")`},
		{`event_name LIKE '100\%'`, `(event_name matches "^(?s)100%$")`},
		{`user_ip IS NULL OR user_ip IS NOT NULL`, `((user_ip == nil) || (user_ip != nil))`},
		{`CASE WHEN event_name = 'Purchase' THEN 1 ELSE 0 END = 1`, `(((event_name == "Purchase") ? 1 : 0) == 1)`},
		{`CASE event_name WHEN 'Search' THEN 'S' WHEN 'Purchase' THEN 'P' END = 'S'`, `(((event_name == "Search") ? "S" : (event_name == "Purchase") ? "P" : nil) == "S")`},
		{`lower(event_name) = 'search' AND length(user_id) > 0`, `((lower(event_name) == "search") && (len(user_id) > 0))`},
		{`CAST(user_id AS INTEGER) > 3 AND additional_data.product_id::double > 1`, `((int(user_id) > 3) && (float(additional_data.product_id) > 1))`},
		{`COALESCE(user_ip, 'none') = 'none'`, `((user_ip ?? "none") == "none")`},
		{`clickstream.event_name = 'x' AND s.user_id = 'y'`, `((event_name == "x") && (user_id == "y"))`},
		{`ROWTIME IS NOT NULL AND additional_data.price * 2 - 1 >= -5`, `((timestamp != nil) && (((additional_data.price * 2) - 1) >= -5))`},
		{`event_name || '!' = 'Search!' AND TRUE`, `(((event_name + "!") == "Search!") && true)`},
		{`event_name IS DISTINCT FROM 'x'`, `(event_name != "x")`},
		{"`event_name` = 'x' AND additional_data.price > abs(-1)", `((event_name == "x") && (additional_data.price > abs(-1)))`},
		{`ceil(additional_data.price) > round(additional_data.percent_viewed) AND trim(user_id) = 'a'`, `((ceil(additional_data.price) > round(additional_data.percent_viewed)) && (trim(user_id) == "a"))`},
		{`GREATEST(additional_data.price, 1) > LEAST(additional_data.percent_viewed, 2) AND char_length(user_id) > 1`, `((max(additional_data.price, 1) > min(additional_data.percent_viewed, 2)) && (len(user_id) > 1))`},
		{`(additional_data.time_on_data > 5) IS TRUE AND 't'::boolean`, `(((additional_data.time_on_data > 5) == true) && true)`},
		{`CAST(additional_data.price AS DOUBLE PRECISION) > 1 AND CAST(additional_data.product_id AS VARCHAR) = '1'`, `((float(additional_data.price) > 1) && (string(additional_data.product_id) == "1"))`},
	}
	for _, c := range cases {
		r, err := loadSQL(t, "-- output: out\nSELECT * FROM clickstream s WHERE "+c.where)
		if err != nil {
			t.Errorf("%s: %v", c.where, err)
			continue
		}
		if got := r.Spec.Where.Text; got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.where, got, c.want)
		}
	}
}

// The translations mean what the SQL means: evaluated on real events.
func TestSQLPredicatesEvaluate(t *testing.T) {
	ev := map[string]any{"event_name": "AddToCart", "user_id": "42", "additional_data": map[string]any{"percent_viewed": 61.5, "price": 10.0, "product_id": 7}}
	cases := []struct {
		where string
		match bool
	}{
		{`event_name = 'AddToCart'`, true},
		{`event_name LIKE 'Add%Cart'`, true},
		{`event_name LIKE 'add%'`, false},
		{`event_name ILIKE 'add%'`, true},
		{`event_name LIKE '_ddToCart'`, true},
		{`event_name IN ('Search', 'AddToCart')`, true},
		{`event_name NOT IN ('Search', 'AddToCart')`, false},
		{`additional_data.price BETWEEN 10 AND 11`, true},
		{`additional_data.price BETWEEN 10.5 AND 11`, false},
		{`additional_data.percent_viewed > 60 AND additional_data.product_id = 7`, true},
		{`CASE WHEN additional_data.price > 5 THEN 'big' ELSE 'small' END = 'big'`, true},
		{`CAST(user_id AS INTEGER) = 42`, true},
		{`NOT (user_id = '42') OR event_name = 'x'`, false},
	}
	for _, c := range cases {
		r, err := loadSQL(t, "-- output: out\nSELECT * FROM clickstream WHERE "+c.where)
		if err != nil {
			t.Errorf("%s: %v", c.where, err)
			continue
		}
		_, rec, err := r.TestEvent(ev)
		if err != nil {
			t.Fatal(err)
		}
		got, err := r.Match(&Eval{}, rec)
		if err != nil || got != c.match {
			t.Errorf("%s: got %v (%v), want %v", c.where, got, err, c.match)
		}
	}
}

func TestSQLWindowsAndAggregates(t *testing.T) {
	cases := []struct {
		group string
		want  WindowSpec
	}{
		{`TUMBLE(ROWTIME, INTERVAL '1' MINUTE)`, WindowSpec{Type: Tumbling, Size: time.Minute}},
		{`TUMBLE("timestamp", INTERVAL '90 seconds')`, WindowSpec{Type: Tumbling, Size: 90 * time.Second}},
		{`STEP(s.ROWTIME BY INTERVAL '10' SECOND)`, WindowSpec{Type: Tumbling, Size: 10 * time.Second}},
		{`FLOOR(ROWTIME TO HOUR)`, WindowSpec{Type: Tumbling, Size: time.Hour}},
		{`HOP(ROWTIME, INTERVAL '1' MINUTE, INTERVAL '1' HOUR)`, WindowSpec{Type: Hopping, Every: time.Minute, Size: time.Hour}},
		{`SESSION(ROWTIME, INTERVAL '30' MINUTE)`, WindowSpec{Type: Session, Gap: 30 * time.Minute}},
		{`TUMBLE(ROWTIME, INTERVAL '1' DAY)`, WindowSpec{Type: Tumbling, Size: 24 * time.Hour}},
		{"TUMBLE(`timestamp`, INTERVAL '5' MINUTES)", WindowSpec{Type: Tumbling, Size: 5 * time.Minute}},
		{`TUMBLE(ROWTIME, INTERVAL '0.5' SECOND)`, WindowSpec{Type: Tumbling, Size: 500 * time.Millisecond}},
	}
	for _, c := range cases {
		src := "-- output: out\n-- allowed_lateness: 5 seconds\nSELECT event_name AS kind, COUNT(*) AS n FROM clickstream s GROUP BY " + c.group + ", event_name"
		r, err := loadSQL(t, src)
		if err != nil {
			t.Errorf("%s: %v", c.group, err)
			continue
		}
		c.want.AllowedLateness, c.want.DistinctExact = 5*time.Second, DefaultDistinctExact
		if *r.Window != c.want {
			t.Errorf("%s: got %+v, want %+v", c.group, *r.Window, c.want)
		}
		if len(r.Spec.GroupBy) != 1 || r.Spec.GroupBy[0].Name != "kind" || r.Spec.GroupBy[0].Expr.Text != "event_name" {
			t.Errorf("%s: group by %+v", c.group, r.Spec.GroupBy)
		}
	}

	r, err := loadSQL(t, `-- output: out
SELECT TUMBLE_START(ROWTIME, INTERVAL '1' MINUTE), additional_data.product_id AS product,
  COUNT(1) AS n, COUNT(DISTINCT user_id) AS users, SUM(additional_data.price) AS revenue,
  MIN(additional_data.price) AS lo, MAX(additional_data.price) AS hi, AVG(additional_data.percent_viewed) AS viewed,
  TUMBLE_END(ROWTIME, INTERVAL '1' MINUTE) AS window_end
FROM clickstream
WHERE event_name = 'Purchase'
GROUP BY TUMBLE(ROWTIME, INTERVAL '1' MINUTE), product
HAVING COUNT(*) > 1 AND revenue >= 10 AND product <> 3`)
	if err != nil {
		t.Fatal(err)
	}
	var aggs []string
	for _, a := range r.Spec.Aggregates {
		aggs = append(aggs, a.Name+"="+a.Func+"("+a.Arg.Text+")")
	}
	if got := strings.Join(aggs, " "); got != "n=count() users=count_distinct(user_id) revenue=sum(additional_data.price) lo=min(additional_data.price) hi=max(additional_data.price) viewed=avg(additional_data.percent_viewed)" {
		t.Errorf("aggregates: %s", got)
	}
	if g := r.Spec.GroupBy; len(g) != 1 || g[0].Name != "product" || g[0].Expr.Text != "additional_data.product_id" {
		t.Errorf("group by: %+v", g)
	}
	if h := r.Spec.Having.Text; h != "(((n > 1) && (revenue >= 10)) && (product != 3))" {
		t.Errorf("having: %s", h)
	}
}

// Every error names file:line:col and says what to do.
func TestSQLErrorsArePositioned(t *testing.T) {
	cases := []struct{ name, src, want string }{
		{"join", "-- output: o\nSELECT * FROM clickstream c\n  JOIN users u ON c.user_id = u.id", "r.sql:3:3: JOIN is not supported yet"},
		{"two sources", "-- output: o\nSELECT * FROM clickstream, beer_clicks", "r.sql:2:26: reading more than one stream (a join) is not supported yet"},
		{"subquery in from", "-- output: o\nSELECT * FROM (SELECT * FROM clickstream) s", "r.sql:2:10: a subquery in FROM is not supported yet"},
		{"subquery", "-- output: o\nSELECT * FROM clickstream WHERE user_id IN (SELECT u FROM x)", "r.sql:2:45: a subquery is not supported yet"},
		{"union", "-- output: o\nSELECT * FROM clickstream UNION SELECT * FROM clickstream", "r.sql:2:27: UNION, INTERSECT and EXCEPT are not supported yet"},
		{"order by", "-- output: o\nSELECT * FROM clickstream\nORDER BY user_id", "r.sql:3:1: ORDER BY is not supported"},
		{"limit", "-- output: o\nSELECT * FROM clickstream LIMIT 5", "r.sql:2:27: LIMIT and OFFSET are not supported on a stream"},
		{"distinct", "-- output: o\nSELECT DISTINCT user_id FROM clickstream", "r.sql:2:8: SELECT DISTINCT is not supported yet"},
		{"over", "-- output: o\nSELECT user_id, count(*) OVER (PARTITION BY user_id) AS n FROM clickstream", "r.sql:2:17: OVER (...) window functions are not supported yet"},
		{"window clause", "-- output: o\nSELECT user_id FROM clickstream WINDOW w AS (PARTITION BY user_id)", "r.sql:2:33: WINDOW (sliding windows over rows) is not supported yet"},
		{"table function", "-- output: o\nSELECT * FROM TABLE(TUMBLE(TABLE clickstream, DESCRIPTOR(ts), INTERVAL '1' MINUTES))", "r.sql:2:"},
		{"with", "-- output: o\nWITH x AS (SELECT 1) SELECT * FROM clickstream", "r.sql:2:1: WITH (common table expressions) is not supported yet"},
		{"syntax", "-- output: o\nSELECT * FROM clickstream WHERE event_name = = 'x'", `r.sql:2:46: syntax error at or near "="`},
		{"unterminated", "-- output: o\nSELECT * FROM clickstream WHERE (event_name = 'x'", "r.sql:2:50: syntax error at end of input"},
		{"unknown nested field", "-- output: o\nSELECT *\nFROM clickstream\nWHERE event_name = 'ViewContent' AND additional_data.percent_viewd > 60",
			"r.sql:4:54: unknown field percent_viewd (fields here: time_on_data, percent_viewed, product_id, price)"},
		{"unknown field", "-- output: o\nSELECT * FROM clickstream WHERE evnt_name = 'x'", "r.sql:2:33: unknown field evnt_name"},
		{"type mismatch", "-- output: o\nSELECT * FROM clickstream WHERE event_name > 60", "r.sql:2:44: invalid operation: > (mismatched types string and int)"},
		{"non-bool where", "-- output: o\nSELECT * FROM clickstream WHERE additional_data.price * 2", "r.sql:2:33: expected bool, but got float64"},
		{"unknown select field", "-- output: o\nSELECT user_id, \"percent_viewed\" FROM clickstream", "r.sql:2:17: unknown field percent_viewed"},
		{"quoted name needs a map", "-- output: o\nSELECT \"COL timestamp\" FROM clickstream", `r.sql:2:8: column "COL timestamp" is not a field of clickstream; map it`},
		{"unnamed expression", "-- output: o\nSELECT user_id, lower(event_name) FROM clickstream", "r.sql:2:17: name this column: ... AS name"},
		{"unknown source", "-- output: o\nSELECT * FROM \"SOURCE_SQL_STREAM_001\"", `r.sql:2:15: stream "SOURCE_SQL_STREAM_001" is not a schema (known: beer_clicks, clickstream); name the schema in a header line: -- source: clickstream`},
		{"unknown source directive", "-- output: o\n-- source: clicks\nSELECT * FROM s", `r.sql:2:12: stream "clicks" is not a schema`},
		{"no output", "SELECT * FROM clickstream", "r.sql:1:1: output topic: write INSERT INTO"},
		{"output loops", "INSERT INTO clickstream SELECT * FROM clickstream", `r.sql:1:13: output topic "clickstream" is the source topic`},
		{"second statement", "-- output: o\nSELECT * FROM clickstream;\nSELECT * FROM beer_clicks;", "r.sql:3:1: one rule per file"},
		{"not a select", "-- output: o\nDELETE FROM clickstream", "r.sql:2:1: a rule is one SELECT"},
		{"bad name", "-- name: my rule\n-- output: o\nSELECT * FROM clickstream", `r.sql:1:10: rule name "my rule" must be an identifier`},
		{"aggregate without group", "-- output: o\nSELECT COUNT(*) AS n FROM clickstream", "r.sql:2:8: an aggregate needs GROUP BY with a window"},
		{"group without window", "-- output: o\nSELECT event_name, COUNT(*) AS n FROM clickstream GROUP BY event_name", "r.sql:2:51: GROUP BY needs a window"},
		{"window on another column", "-- output: o\nSELECT COUNT(*) AS n FROM clickstream GROUP BY TUMBLE(insertion_timestamp, INTERVAL '1' MINUTE)", "r.sql:2:55: windows run on the event time of clickstream (timestamp, or ROWTIME)"},
		{"month interval", "-- output: o\nSELECT COUNT(*) AS n FROM clickstream GROUP BY TUMBLE(ROWTIME, INTERVAL '1' MONTH)", "r.sql:2:64: interval unit: use SECOND, MINUTE, HOUR or DAY"},
		{"bad interval text", "-- output: o\nSELECT COUNT(*) AS n FROM clickstream GROUP BY TUMBLE(ROWTIME, INTERVAL 'soon')", `r.sql:2:64: INTERVAL: "soon" is not a duration`},
		{"hop slide above size", "-- output: o\nSELECT COUNT(*) AS n FROM clickstream GROUP BY HOP(ROWTIME, INTERVAL '10' MINUTE, INTERVAL '5' MINUTE)", "r.sql:2:48: every (10m0s) must not exceed size (5m0s)"},
		{"two windows", "-- output: o\nSELECT COUNT(*) AS n FROM clickstream GROUP BY TUMBLE(ROWTIME, INTERVAL '1' MINUTE), STEP(ROWTIME BY INTERVAL '1' MINUTE)", "r.sql:2:86: one window per query"},
		{"unnamed aggregate", "-- output: o\nSELECT COUNT(*) FROM clickstream GROUP BY TUMBLE(ROWTIME, INTERVAL '1' MINUTE)", "r.sql:2:8: name this aggregate: COUNT(...) AS name"},
		{"ungrouped column", "-- output: o\nSELECT user_id, COUNT(*) AS n FROM clickstream GROUP BY TUMBLE(ROWTIME, INTERVAL '1' MINUTE)", "r.sql:2:8: user_id is neither an aggregate nor in GROUP BY"},
		{"rowtime in aggregate select", "-- output: o\nSELECT ROWTIME, COUNT(*) AS n FROM clickstream GROUP BY STEP(ROWTIME BY INTERVAL '1' MINUTE)", "r.sql:2:8: ROWTIME is neither an aggregate nor in GROUP BY; the window bounds are emitted as window_start and window_end"},
		{"unselected group", "-- output: o\nSELECT COUNT(*) AS n FROM clickstream GROUP BY TUMBLE(ROWTIME, INTERVAL '1' MINUTE), user_id", "r.sql:2:86: GROUP BY user_id: select it too"},
		{"renamed window bound", "-- output: o\nSELECT STEP(ROWTIME BY INTERVAL '1' MINUTE) AS t, COUNT(*) AS n FROM clickstream GROUP BY STEP(ROWTIME BY INTERVAL '1' MINUTE)", "r.sql:2:8: the window bound is emitted as window_start; drop the alias t or name it window_start"},
		{"sum of a string", "-- output: o\nSELECT SUM(event_name) AS s FROM clickstream GROUP BY TUMBLE(ROWTIME, INTERVAL '1' MINUTE)", "r.sql:2:12: sum needs a number, but event_name is string"},
		{"sum distinct", "-- output: o\nSELECT SUM(DISTINCT additional_data.price) AS s FROM clickstream GROUP BY TUMBLE(ROWTIME, INTERVAL '1' MINUTE)", "r.sql:2:8: SUM(DISTINCT ...) is not supported yet"},
		{"filter clause", "-- output: o\nSELECT COUNT(*) FILTER (WHERE event_name = 'x') AS s FROM clickstream GROUP BY TUMBLE(ROWTIME, INTERVAL '1' MINUTE)", "r.sql:2:8: FILTER (WHERE ...) is not supported yet"},
		{"having unknown aggregate", "-- output: o\nSELECT COUNT(*) AS n FROM clickstream GROUP BY TUMBLE(ROWTIME, INTERVAL '1' MINUTE) HAVING AVG(additional_data.price) > 1", "r.sql:2:92: HAVING uses AVG(additional_data.price), which the SELECT list does not compute"},
		{"having raw column", "-- output: o\nSELECT COUNT(*) AS n FROM clickstream GROUP BY TUMBLE(ROWTIME, INTERVAL '1' MINUTE) HAVING user_id = 'x'", `r.sql:2:92: HAVING can use the group columns`},
		{"having without group", "-- output: o\nSELECT * FROM clickstream HAVING user_id = 'x'", "r.sql:2:27: HAVING needs GROUP BY with a window"},
		{"aggregate in where", "-- output: o\nSELECT * FROM clickstream WHERE COUNT(*) > 1", "r.sql:2:33: aggregate COUNT() is only allowed in the SELECT list and HAVING"},
		{"count of optional", "-- output: o\nSELECT COUNT(CASE WHEN event_name = 'x' THEN 1 END) AS n FROM clickstream GROUP BY TUMBLE(ROWTIME, INTERVAL '1' MINUTE)", "r.sql:2:8: COUNT(((event_name == \"x\") ? 1 : nil)) over a value that may be null is not supported yet"},
		{"unknown function", "-- output: o\nSELECT * FROM clickstream WHERE md5(user_id) = 'x'", "r.sql:2:33: function md5() is not supported yet"},
		{"now", "-- output: o\nSELECT * FROM clickstream WHERE timestamp > CURRENT_TIMESTAMP", "r.sql:2:"},
		{"interval in where", "-- output: o\nSELECT * FROM clickstream WHERE INTERVAL '1' MINUTE IS NULL", "r.sql:2:33: an INTERVAL is only allowed as a window size"},
		{"like a column", "-- output: o\nSELECT * FROM clickstream WHERE event_name LIKE user_id", "r.sql:2:44: LIKE needs a constant pattern"},
		{"select star mixed", "-- output: o\nSELECT user_id, * FROM clickstream", "r.sql:2:17: SELECT * cannot be mixed with other columns"},
		{"insert columns", "INSERT INTO o (a) SELECT user_id FROM clickstream", "r.sql:1:8: INSERT INTO takes a stream name and a SELECT only"},
		{"bad map", "-- output: o\n-- map: a = b c\nSELECT * FROM clickstream", `r.sql:2:9: map item "a = b c": want sql_name = field.path`},
		{"bad lateness", "-- output: o\n-- allowed_lateness: soon\nSELECT COUNT(*) AS n FROM clickstream GROUP BY TUMBLE(ROWTIME, INTERVAL '1' MINUTE)", `r.sql:2:22: allowed_lateness: "soon" is not a duration`},
		{"bad repartition", "-- output: o\n-- repartition: yes please\nSELECT COUNT(*) AS n FROM clickstream GROUP BY TUMBLE(ROWTIME, INTERVAL '1' MINUTE)", `r.sql:2:17: repartition: want true or false`},
		{"window header on a filter", "-- output: o\n-- repartition: true\nSELECT * FROM clickstream", `r.sql:2:17: repartition: only a query with GROUP BY and a window has windows`},
		{"lateness on a filter", "-- output: o\n-- allowed_lateness: 1m\nSELECT user_id FROM clickstream WHERE event_name = 'Purchase'", `r.sql:2:22: allowed_lateness: only a query with GROUP BY and a window has windows`},
		{"duplicate directive", "-- output: o\n-- output: p\nSELECT * FROM clickstream", "r.sql:2:1: -- output: is given twice"},
		{"empty", "-- output: o\n", "r.sql:1:1: no SQL statement"},
		{"tests yaml", "-- output: o\nSELECT * FROM clickstream\n/*\ntests:\n  - event: {a: 1}\n    expct: match\n*/", "r.sql:6:5:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := loadSQL(t, c.src)
			if err == nil {
				t.Fatalf("loaded; want error %q", c.want)
			}
			if !strings.HasPrefix(err.Error(), c.want) {
				t.Errorf("got  %v\nwant %s...", err, c.want)
			}
		})
	}
}

// The KDA query of the retired service runs with only a column mapping.
func TestSQLKDAQueryWithMapping(t *testing.T) {
	src := `-- source: clickstream
-- output: kda_out
-- map: COL_timestamp = timestamp, percent_viewed = additional_data.percent_viewed, product_id = additional_data.product_id, price = additional_data.price
CREATE OR REPLACE STREAM "DESTINATION_SQL_STREAM" ("COL_timestamp" TIMESTAMP, "event_name" VARCHAR(16), "percent_viewed" DOUBLE, "product_id" INTEGER, "price" DOUBLE);
CREATE OR REPLACE PUMP "STREAM_PUMP" AS INSERT INTO "DESTINATION_SQL_STREAM"
SELECT STREAM "COL_timestamp", "event_name", "percent_viewed", "product_id", "price" FROM "SOURCE_SQL_STREAM_001" WHERE "event_name" = 'ViewContent' AND "percent_viewed" > 60;`
	r, err := loadSQL(t, src)
	if err != nil {
		t.Fatal(err)
	}
	if r.Output != "kda_out" || r.Source != "clickstream" {
		t.Errorf("output %s source %s", r.Output, r.Source)
	}
	raw := []byte(`{"timestamp": "2021-07-12 12:01:58.732726", "user_id": "35", "pixel_id": "p", "click_id": "c", "insertion_timestamp": "2021-07-12 12:01:58.732754", "event_name": "ViewContent", "user_ip": "203.0.113.7", "additional_data": {"time_on_data": 79, "percent_viewed": 69.7, "product_id": 557246, "price": 417.97}}`)
	rec, err := r.Codec.Decode(raw)
	if err != nil {
		t.Fatal(err)
	}
	ok, err := r.Match(&Eval{}, rec)
	if err != nil || !ok {
		t.Fatalf("match %v %v", ok, err)
	}
	out, err := r.Project(&Eval{}, rec, raw)
	if err != nil {
		t.Fatal(err)
	}
	var row map[string]any
	if err := json.Unmarshal(out, &row); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"COL_timestamp": "2021-07-12 12:01:58.732726", "event_name": "ViewContent", "percent_viewed": 69.7, "product_id": float64(557246), "price": 417.97}
	if d := rowDiff(want, row); d != "" || len(row) != len(want) {
		t.Errorf("row %s\n%s", out, d)
	}
	if r.OutputSchema().EventTime != "COL_timestamp" {
		t.Errorf("output event time %q", r.OutputSchema().EventTime)
	}
	// Without the pump's target or a header there is no output topic; the
	// pump's INSERT INTO target is used when no header names one.
	r, err = loadSQL(t, strings.Replace(src, "-- output: kda_out\n", "", 1))
	if err != nil {
		t.Fatal(err)
	}
	if r.Output != "DESTINATION_SQL_STREAM" {
		t.Errorf("output %q", r.Output)
	}
}

// Inline tests in the /* tests: */ comment run, and a failing one is
// reported at its line in the .sql file.
func TestSQLInlineTests(t *testing.T) {
	src := `-- output: out
SELECT * FROM clickstream WHERE event_name = 'Purchase'

/*
tests:
  - name: purchases pass
    event: {event_name: Purchase}
    expect: match
  - name: wrong on purpose
    event: {event_name: Search}
    expect: match
*/
`
	r, err := loadSQL(t, src)
	if err != nil {
		t.Fatal(err)
	}
	res := r.RunTests()
	if len(res) != 2 || !res[0].Passed() || res[1].Passed() {
		t.Fatalf("results %+v", res)
	}
	if !strings.HasPrefix(res[1].At, "r.sql:9:") {
		t.Errorf("failing test at %s, want r.sql:9:", res[1].At)
	}
}

// LoadDir, lint and the worker's reload pick up .sql files next to YAML.
func TestSQLFilesInRuleDirectory(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.yaml", "name: a\nsource: clickstream\nwhere: event_name == \"Search\"\noutput: out.a\ntests:\n  - event: {event_name: Search}\n    expect: match\n")
	write(t, dir, "b.sql", "-- description: b\nINSERT INTO \"out.b\" SELECT * FROM clickstream WHERE event_name = 'Purchase'\n/*\ntests:\n  - event: {event_name: Purchase}\n    expect: match\n*/\n")
	rules, err := LoadDir(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 2 || rules[1].Name != "b" || rules[1].Output != "out.b" {
		t.Fatalf("rules %v", rules)
	}
	write(t, dir, "c.sql", "INSERT INTO \"out.b\" SELECT * FROM clickstream")
	_, err = LoadDir(dir, nil)
	if err == nil || !strings.Contains(err.Error(), `c.sql:1:13: output topic "out.b" is already written by rule b`) {
		t.Errorf("duplicate output: %v", err)
	}
	findings, err := Lint(dir, builtins(t))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range findings {
		got = append(got, f.String())
	}
	if s := strings.Join(got, "\n"); !strings.Contains(s, "c.sql:1:13: error: output topic") || !strings.Contains(s, "c.sql:1:1: warning: rule has no tests") {
		t.Errorf("lint:\n%s", s)
	}
}

// The shipped SQL rules and twins load; their source parses in well under
// a millisecond each, so SQL adds nothing noticeable to a reload.
func TestSQLShippedFilesLoad(t *testing.T) {
	files, _ := filepath.Glob("../../rules/sql/*.sql")
	more, _ := filepath.Glob("../../rules/*.sql")
	files = append(files, more...)
	if len(files) < 7 {
		t.Fatalf("only %d shipped SQL files", len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Load(f, data, builtins(t)); err != nil {
			t.Error(err)
		}
	}
}

// Each shipped YAML rule and its SQL twin compile to the same expr
// programs, instruction for instruction: the reason a SQL rule runs at the
// speed of its YAML twin (BenchmarkTwins in rules/ measures both).
func TestSQLTwinsCompileToSamePrograms(t *testing.T) {
	yamlRules, err := LoadDir("../../rules", nil)
	if err != nil {
		t.Fatal(err)
	}
	sqlRules, err := LoadDir("../../rules/sql", nil)
	if err != nil {
		t.Fatal(err)
	}
	twins := map[string]*Rule{}
	for _, r := range sqlRules {
		twins[r.Name] = r
	}
	n := 0
	for _, y := range yamlRules {
		s := twins[y.Name]
		if filepath.Ext(y.Spec.File) != ".yaml" || s == nil {
			continue
		}
		n++
		if a, b := programs(y), programs(s); a != b {
			t.Errorf("%s: programs differ\nyaml:\n%s\nsql:\n%s", y.Name, a, b)
		}
	}
	if n < 6 {
		t.Errorf("only %d twins compared", n)
	}
}

func programs(r *Rule) string {
	var b strings.Builder
	dis := func(what string, p *vm.Program) {
		if p != nil {
			b.WriteString(what + ":\n" + p.Disassemble())
		}
	}
	dis("where", r.where)
	dis("having", r.having)
	for _, c := range r.sel {
		dis("select "+c.name, c.prog)
	}
	for _, c := range r.groups {
		dis("group "+c.name, c.prog)
	}
	for _, a := range r.aggs {
		b.WriteString("agg " + a.name + " " + a.fn + "\n")
		if a.arg != nil {
			dis("arg", a.arg.prog)
		}
	}
	return b.String()
}

// BenchmarkSQLLoad measures loading (parse, translate, compile) one SQL rule.
func BenchmarkSQLLoad(b *testing.B) {
	data, err := os.ReadFile("../../rules/sql/abandoned_carts.sql")
	if err != nil {
		b.Fatal(err)
	}
	schemas := builtins(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Load("abandoned_carts.sql", data, schemas); err != nil {
			b.Fatal(err)
		}
	}
}

func TestSQLOutputAndDirectives(t *testing.T) {
	for src, want := range map[string]string{
		"INSERT INTO clickstream.views SELECT * FROM clickstream":                  "clickstream.views",
		`INSERT INTO "a.b" SELECT * FROM clickstream`:                              "a.b",
		"-- output: x\nINSERT INTO y SELECT * FROM clickstream":                    "x",
		"-- output: x.y\n-- name: n\n-- description: d\nSELECT * FROM clickstream": "x.y",
	} {
		r, err := loadSQL(t, src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if r.Output != want {
			t.Errorf("%s: output %q, want %q", src, r.Output, want)
		}
	}
	r, err := loadSQL(t, `-- output: o
-- emit_every: 10 seconds
-- distinct_exact: 50
-- allowed_lateness: 1m
-- repartition: true
SELECT COUNT(DISTINCT user_id) AS users FROM clickstream GROUP BY TUMBLE(ROWTIME, INTERVAL '1' HOUR) HAVING final OR users > 10`)
	if err != nil {
		t.Fatal(err)
	}
	w := r.Window
	if w.EmitEvery != 10*time.Second || w.DistinctExact != 50 || w.AllowedLateness != time.Minute || !w.Repartition {
		t.Errorf("window %+v", *w)
	}
	if r.Spec.Having.Text != "(final || (users > 10))" {
		t.Errorf("having %s", r.Spec.Having.Text)
	}
}

// A Flink source table's WATERMARK declares the allowed lateness; the DDL
// itself is ignored (the schema file declares the stream).
func TestSQLFlinkWatermark(t *testing.T) {
	src := `CREATE TABLE clickstream (
  event_name STRING,
  ` + "`timestamp`" + ` TIMESTAMP(3),
  WATERMARK FOR ` + "`timestamp`" + ` AS ` + "`timestamp`" + ` - INTERVAL '5' SECOND
) WITH ('connector' = 'kafka', 'topic' = 'clickstream', 'format' = 'json');

INSERT INTO events_per_minute
SELECT event_name, COUNT(*) AS events
FROM clickstream
GROUP BY TUMBLE(` + "`timestamp`" + `, INTERVAL '1' MINUTE), event_name;`
	r, err := loadSQL(t, src)
	if err != nil {
		t.Fatal(err)
	}
	if r.Window.AllowedLateness != 5*time.Second || r.Output != "events_per_minute" {
		t.Errorf("lateness %s output %s", r.Window.AllowedLateness, r.Output)
	}
	r, err = loadSQL(t, "-- allowed_lateness: 1m\n"+src)
	if err != nil {
		t.Fatal(err)
	}
	if r.Window.AllowedLateness != time.Minute {
		t.Errorf("the header should win: lateness %s", r.Window.AllowedLateness)
	}
}
