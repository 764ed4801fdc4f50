package rule

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// The prefix that sortClosed compares first must not change the order:
// keys that share 8 bytes, are shorter than 8, end in zero bytes or differ
// past the prefix come out as a plain comparison of the strings puts them.
func TestSortClosedOrdersGroupsAsStrings(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	alphabet := []byte{0, 1, 'a', 'b', 0xff}
	var out []*bucket
	for range 3000 {
		k := make([]byte, rng.IntN(12))
		for i := range k {
			k[i] = alphabet[rng.IntN(len(alphabet))]
		}
		out = append(out, &bucket{start: int64(rng.IntN(3)), end: int64(3 + rng.IntN(2)), gkey: string(k)})
	}
	want := slices.Clone(out)
	slices.SortStableFunc(want, func(x, y *bucket) int {
		return cmp.Or(cmp.Compare(x.end, y.end), cmp.Compare(x.start, y.start), strings.Compare(x.gkey, y.gkey))
	})
	w := &Windows{}
	w.sortClosed(out, endsFirst)
	for i := range out {
		if out[i].end != want[i].end || out[i].start != want[i].start || out[i].gkey != want[i].gkey {
			t.Fatalf("at %d: got (%d, %d, %q), want (%d, %d, %q)", i, out[i].end, out[i].start, out[i].gkey, want[i].end, want[i].start, want[i].gkey)
		}
	}
}
