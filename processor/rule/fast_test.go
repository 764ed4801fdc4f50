package rule

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/expr-lang/expr/vm"
)

// TestFastPredicatesAgreeWithExpr checks the Go-compiled where clauses
// against the expr VM on random events.
func TestFastPredicatesAgreeWithExpr(t *testing.T) {
	exprs := []string{
		`event_name == "ViewContent" && additional_data.percent_viewed > 60`,
		`event_name in ["Search", "Purchase"]`,
		`event_name not in ["Search", "Purchase", "AddToCart", "X", "Y"]`,
		`!(event_name != "AddToCart") || not (additional_data.price <= 500.5)`,
		`60 < additional_data.percent_viewed and additional_data.time_on_data >= 300`,
		`additional_data.product_id == 100003 or additional_data.product_id in [100001, 100002]`,
		`additional_data.time_on_data < 10.5 || user_id == "7"`,
		`true && event_name != "Search"`,
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for _, src := range exprs {
		r := mustRule(t, fmt.Sprintf("where: '%s'\n", src))
		if r.fast == nil {
			t.Errorf("%s: not compiled to Go", src)
			continue
		}
		var m vm.VM
		for i := 0; i < 500; i++ {
			ev := map[string]any{"user_id": fmt.Sprint(rng.IntN(10)), "event_name": eventNamesForTest[rng.IntN(4)],
				"additional_data": map[string]any{"percent_viewed": float64(rng.IntN(1000)) / 10, "price": float64(rng.IntN(100000)) / 100,
					"time_on_data": rng.IntN(600), "product_id": 100000 + rng.IntN(5)}}
			_, rec, err := r.TestEvent(ev)
			if err != nil {
				t.Fatal(err)
			}
			want, err := m.Run(r.where, rec)
			if err != nil {
				t.Fatal(err)
			}
			if got := r.fast(recPtr(rec)); got != want {
				t.Fatalf("%s on %v: fast %v, expr %v", src, ev, got, want)
			}
		}
	}
	// Shapes beyond the fast path still run on the VM.
	if r := mustRule(t, "where: 'len(user_id) > 1'\n"); r.fast != nil {
		t.Error("len() compiled to Go")
	}
}

var eventNamesForTest = []string{"Search", "ViewContent", "AddToCart", "Purchase"}
