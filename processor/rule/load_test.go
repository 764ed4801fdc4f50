package rule

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/schema"
)

func builtins(t testing.TB) map[string]*schema.Schema {
	t.Helper()
	m, err := schema.ResolveAll(schema.Builtin())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestLoadErrorsArePositioned(t *testing.T) {
	cases := []struct {
		name, file, want string
	}{
		{"unknown nested field", `name: r
source: clickstream
where: event_name == "ViewContent" && additional_data.percent_viewd > 60
output: out
`, "r.yaml:3:55: unknown field percent_viewd (fields here: time_on_data, percent_viewed, product_id, price)"},
		{"unknown top-level field", `name: r
source: clickstream
where: evnt_name == "x"
output: out
`, "r.yaml:3:8: unknown field evnt_name"},
		{"type mismatch", `name: r
source: clickstream
where: event_name > 60
output: out
`, "r.yaml:3:19: invalid operation: > (mismatched types string and int)"},
		{"non-bool where", `name: r
source: clickstream
where: additional_data.price * 2
output: out
`, "r.yaml:3:8: expected bool, but got float64"},
		{"quoted expression", `name: r
source: clickstream
where: "event_name == 1"
output: out
`, "r.yaml:3:20: invalid operation: == (mismatched types string and int)"},
		{"block scalar", `name: r
source: clickstream
where: |
  event_name == "Search" &&
    user_idd == "1"
output: out
`, "r.yaml:5:5: unknown field user_idd"},
		{"aggregate argument", `name: r
source: clickstream
window: {type: tumbling, size: 1m}
aggregate:
  revenue: sum(additional_data.prise)
output: out
`, "r.yaml:5:32: unknown field prise"},
		{"sum of a string", `name: r
source: clickstream
window: {type: tumbling, size: 1m}
aggregate:
  n: sum(event_name)
output: out
`, "r.yaml:5:10: sum needs a number, but event_name is string"},
		{"bad duration", `name: r
source: clickstream
window: {type: tumbling, size: 1 minute}
aggregate: {n: count()}
output: out
`, "r.yaml:3:32: size: \"1 minute\" is not a duration"},
		{"unknown key", `name: r
source: clickstream
wher: x
output: out
`, "r.yaml:3:1: unknown field \"wher\""},
		{"unknown schema", `name: r
source: nope
output: out
`, "r.yaml:2:9: unknown source schema \"nope\" (known: beer_clicks, clickstream)"},
		{"unknown aggregate", `name: r
source: clickstream
window: {type: session, gap: 30m}
aggregate: {n: median(additional_data.price)}
output: out
`, "r.yaml:4:16: unknown aggregate \"median\""},
		{"having on unknown column", `name: r
source: clickstream
window: {type: tumbling, size: 1m}
aggregate: {n: count()}
having: m > 3
output: out
`, "r.yaml:5:9: unknown field m"},
		{"expression too large", `name: r
source: clickstream
where: ` + strings.Repeat("event_name == \"x\" || ", 1500) + `true
output: out
`, "r.yaml:3:10526: compilation failed: expression exceeds maximum allowed nodes"},
	}
	sc := builtins(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load("r.yaml", []byte(c.file), sc)
			if err == nil || !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("got  %v\nwant %s", err, c.want)
			}
		})
	}
}

func TestLoadDirReportsEveryFileAndDuplicates(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a.yaml", "name: a\nsource: clickstream\noutput: o\n")
	write(t, dir, "b.yaml", "name: a\nsource: clickstream\noutput: o\n")
	write(t, dir, "c.yaml", "name: c\nsource: clickstream\nwhere: nope\noutput: c\n")
	_, err := LoadDir(dir, builtins(t))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"c.yaml:3:8: unknown field nope", "b.yaml:1:7: rule name \"a\" is already used", "b.yaml:3:9: output topic \"o\" is already written by rule a"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
}
