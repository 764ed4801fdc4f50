package yamlfile

import (
	"strings"
	"testing"
)

// TestParsePanicIsAnError: goccy/go-yaml v1.19.2 panics on a tag over a
// scalar where a list belongs (goccy/go-yaml#735; FuzzLoad found it in a
// rule file). Parse must return an error that names the file instead.
func TestParsePanicIsAnError(t *testing.T) {
	var v struct {
		Select []string `yaml:"select"`
	}
	for _, src := range []string{
		"select: !x 0\n",
		"select:\n  ! 0000000000000\n00008:0000000: 0\n",
	} {
		doc, err := Parse("r.yaml", []byte(src), &v)
		if err == nil || doc != nil {
			t.Fatalf("%q: doc %v, err %v; want an error", src, doc, err)
		}
		if !strings.HasPrefix(err.Error(), "r.yaml: ") {
			t.Errorf("%q: %v; want it to name the file", src, err)
		}
	}
}
