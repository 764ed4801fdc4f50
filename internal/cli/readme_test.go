package cli

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// The README's catalog ddl command must describe the table where the
// README's sink command writes it: --location is the sink's --to, and the
// table folder is appended once. Pasting the command as written must give
// Athena a LOCATION that holds the files.
func TestReadmeCatalogDDLMatchesSink(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var prefixes, ddls []string
	for _, l := range strings.Split(string(data), "\n") {
		l, _, _ = strings.Cut(l, " #")
		args := strings.Fields(strings.ReplaceAll(l, "'", ""))
		switch {
		case len(args) > 2 && args[0] == "sluice" && args[1] == "sink":
			for i, a := range args[:len(args)-1] {
				if a == "--to" && strings.HasPrefix(args[i+1], "s3://") {
					to, _, _ := strings.Cut(args[i+1], "?")
					prefixes = append(prefixes, strings.TrimSuffix(to, "/")+"/")
				}
			}
		case len(args) > 3 && args[0] == "sluice" && args[1] == "catalog" && args[2] == "ddl":
			ddls = append(ddls, strings.Join(args[1:], " "))
		}
	}
	if len(prefixes) == 0 || len(ddls) == 0 {
		t.Fatalf("README: %d sink commands writing to S3, %d catalog ddl commands", len(prefixes), len(ddls))
	}
	locRe := regexp.MustCompile(`(?m)^LOCATION '([^']*)'`)
	for _, ddl := range ddls {
		code, out, errs := run(strings.Fields(ddl)...)
		m := locRe.FindStringSubmatch(out)
		if code != 0 || m == nil {
			t.Fatalf("sluice %s: exit %d, no LOCATION: %s%s", ddl, code, out, errs)
		}
		ok := false
		for _, p := range prefixes {
			rest, found := strings.CutPrefix(m[1], p)
			ok = ok || (found && strings.Count(rest, "/") == 1 && strings.HasSuffix(rest, "/"))
		}
		if !ok {
			t.Errorf("sluice %s: LOCATION %s is not one table folder under a README sink's --to %v", ddl, m[1], prefixes)
		}
	}
}
