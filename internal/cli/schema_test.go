package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A bad --name or --zone is the user's mistake, reported as such (exit 2,
// naming the flag) before any inference: not blamed on a bug at a position
// in a file that does not exist, and never written out as a schema file
// that fails to load later.
func TestSchemaInferRejectsBadFlags(t *testing.T) {
	dir := t.TempDir()
	withTime := filepath.Join(dir, "with_time.json")
	noTime := filepath.Join(dir, "no_time.json")
	os.WriteFile(withTime, []byte(`{"ts": "2024-01-01T00:00:00Z", "a": 1}`+"\n"), 0o644)
	os.WriteFile(noTime, []byte(`{"a": 1}`+"\n"), 0o644)
	for _, in := range []string{withTime, noTime} {
		for _, tc := range []struct{ flag, value, want string }{
			{"--name", "bad name", `--name "bad name": must be an identifier`},
			{"--zone", "Mars/Olympus", `--zone "Mars/Olympus": unknown time zone`},
		} {
			code, out, stderr := run("schema", "infer", in, tc.flag, tc.value)
			if code != 2 || !strings.Contains(stderr, tc.want) || out != "" {
				t.Errorf("%s %s %q: exit %d, stdout %q, stderr %q", filepath.Base(in), tc.flag, tc.value, code, out, stderr)
			}
		}
	}
}
