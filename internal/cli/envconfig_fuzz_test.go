package cli

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzReadConfigFile: whatever a --config file holds, reading it returns
// keys or an error; it never panics.
func FuzzReadConfigFile(f *testing.F) {
	for _, s := range []string{
		"brokers: localhost:9092\nprocess:\n  rules: rules\n",
		"select: !x 0\n", "a: &x !x\n", "- !x 0\n", "a: [1, {b: 2}]\n",
	} {
		f.Add([]byte(s))
	}
	path := filepath.Join(f.TempDir(), "sluice.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		_, _, _ = readConfigFile(path, "process")
	})
}
