// Package rules_test runs the inline tests of every shipped rule file, so
// `go test ./rules/` (and make test) fails when a shipped rule breaks.
package rules_test

import (
	"testing"

	"github.com/sluicehq/sluice/processor/rule"
)

func TestShippedRules(t *testing.T) {
	rules, err := rule.LoadDir(".", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) < 5 {
		t.Fatalf("only %d rules loaded", len(rules))
	}
	for _, r := range rules {
		if len(r.Spec.Tests) == 0 {
			t.Errorf("%s: a shipped rule needs inline tests", r.Spec.File)
		}
		for _, res := range r.RunTests() {
			t.Run(r.Name+"/"+res.Name, func(t *testing.T) {
				if !res.Passed() {
					t.Errorf("%s: %s", res.At, res.Fail)
				}
			})
		}
	}
}
