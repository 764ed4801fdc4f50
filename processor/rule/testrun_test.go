package rule

import (
	"strings"
	"testing"
)

// An inline test's expected output must have the output's types: a string
// "7" is not the number 7, though both print as 7, and a failure shows
// which is which.
func TestInlineTestOutputTypes(t *testing.T) {
	r, err := Load("t.yaml", []byte(`name: t
source: beer_clicks
output: out
where: client_event == "beer_cart"
select: [user_id, client_event]
tests:
  - name: number
    event: {user_id: 7, client_event: beer_cart}
    expect: match
    output: {user_id: 7, client_event: beer_cart}
  - name: string for a number
    event: {user_id: 7, client_event: beer_cart}
    expect: match
    output: {user_id: "7"}
  - name: number for a string
    event: {user_id: 7, client_event: beer_cart}
    expect: match
    output: {client_event: 7}
`), builtins(t))
	if err != nil {
		t.Fatal(err)
	}
	res := r.RunTests()
	if len(res) != 3 || !res[0].Passed() || res[1].Passed() || res[2].Passed() {
		t.Fatalf("results %+v, want the first to pass and the others to fail", res)
	}
	if !strings.Contains(res[1].Fail, `user_id: expected "7", got 7`) {
		t.Errorf("failure does not show the types: %s", res[1].Fail)
	}
	if !strings.Contains(res[2].Fail, `client_event: expected 7, got "beer_cart"`) {
		t.Errorf("failure does not show the types: %s", res[2].Fail)
	}
}
