package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A rules directory that sluice process runs with --schemas (a schema of
// the user's own) must also work with catalog ddl --rules and sink
// --rules: the rule's output table, and any other rule's, is described
// from the same schemas.
func TestRulesWithOwnSchemaInCatalogAndSink(t *testing.T) {
	dir := t.TempDir()
	orders := filepath.Join(dir, "orders.yaml")
	os.WriteFile(orders, []byte("name: orders\ntopic: orders\nevent_time: ts\ncolumns:\n  - {name: ts, type: timestamp}\n  - {name: amount, type: float}\n"), 0o644)
	rules := filepath.Join(dir, "rules")
	os.Mkdir(rules, 0o755)
	os.WriteFile(filepath.Join(rules, "big.yaml"), []byte("name: big_orders\ndescription: d\nsource: orders\nwhere: amount > 100\noutput: orders.big\n"), 0o644)
	data, _ := os.ReadFile("../../rules/events_per_minute.yaml")
	os.WriteFile(filepath.Join(rules, "epm.yaml"), data, 0o644)

	if code, _, errs := run("process", "--rules", rules, "--schemas", "clickstream,"+orders, "--brokers", "bad"); !strings.Contains(errs, "--brokers") {
		t.Fatalf("process does not get as far as the brokers with these schemas: exit %d, %s", code, errs)
	}
	for _, name := range []string{"big_orders", "events_per_minute"} {
		code, out, errs := run("catalog", "ddl", "--rules", rules, "--rule", name, "--schemas", "clickstream,"+orders, "--location", "s3://lake/p")
		if code != 0 || !strings.Contains(out, "CREATE EXTERNAL TABLE") {
			t.Errorf("--rule %s: exit %d, stderr %q", name, code, errs)
		}
	}
	tables, err := sinkTables([]string{"orders.big", "clickstream.events_per_minute"}, nil, rules, []string{"clickstream", orders})
	if err != nil || len(tables) != 2 || tables[0].Schema.Column("amount") == nil || tables[1].Schema.Column("window_start") == nil {
		t.Fatalf("sink --rules: %v, %+v", err, tables)
	}
}
