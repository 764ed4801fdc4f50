package rule

import "testing"

// A bucket of the small shape shares no memory with what it was made from.
func TestNewBucketCopiesItsGroup(t *testing.T) {
	for _, n := range []int{0, 1, 2} {
		for naggs := range 4 {
			group := make([]value, n)
			for i := range group {
				group[i] = value{kind: kInt, i: int64(i + 1)}
			}
			b := newBucket(1, 2, "k", group, naggs)
			if len(b.group) != n || len(b.aggs) != naggs || b.start != 1 || b.end != 2 || b.gkey != "k" {
				t.Fatalf("%d groups, %d aggregates: got %d groups, %d aggregates", n, naggs, len(b.group), len(b.aggs))
			}
			for i := range group {
				group[i].i = 99
				if b.group[i].i != int64(i+1) {
					t.Fatalf("%d groups, %d aggregates: the bucket's group changed with its source", n, naggs)
				}
			}
		}
	}
}
