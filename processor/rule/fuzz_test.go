package rule

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad feeds arbitrary rule files to the loader: it must never panic,
// and every error must name the file.
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "rules", "*.yaml"))
	for _, p := range files {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"", "name: x", "name: r\nsource: clickstream\nwhere: |\n  a &&\n", "name: r\nsource: clickstream\noutput: o\nwindow: {type: session}\n",
		"name: r\nsource: clickstream\noutput: o\nwindow: {type: hopping, size: 1h, every: 1ms}\naggregate: {n: count()}\n",
		"name: r\nsource: clickstream\noutput: o\nselect: [{a: 1 +}]\n", "name: r\nsource: clickstream\noutput: o\ngroup_by: [\"x y\"]\n",
		"name: r\nsource: clickstream\noutput: o\nwindow: {type: tumbling, size: 1m}\naggregate: {n: 'sum('}\n",
		"name: r\nsource: clickstream\noutput: o\nwhere: '\"\\u00e9\" == event_name'\ntests: [{event: {event_name: 3}, expect: match}]\n",
	} {
		f.Add([]byte(s))
	}
	sc := builtins(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Load("f.yaml", data, sc)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		_ = r.RunTests()
		_ = r.OutputSchema()
	})
}
