package rule

import (
	"strings"
	"testing"
)

// A bucket shares no memory with what it was made from: not its group
// values, nor its group key, held in the bucket when short.
func TestNewBucketCopiesItsGroup(t *testing.T) {
	for _, key := range []string{"", "k", strings.Repeat("u", smallKey), strings.Repeat("u", smallKey+1)} {
		for _, n := range []int{0, 1, 2} {
			for naggs := range 4 {
				group := make([]value, n)
				for i := range group {
					group[i] = value{kind: kInt, i: int64(i + 1)}
				}
				kb := []byte(key)
				b := newBucket(1, 2, kb, group, naggs)
				if len(b.group) != n || len(b.aggs) != naggs || b.start != 1 || b.end != 2 || b.gkey != key {
					t.Fatalf("key %q, %d groups, %d aggregates: got key %q, %d groups, %d aggregates", key, n, naggs, b.gkey, len(b.group), len(b.aggs))
				}
				for i := range kb {
					kb[i] = 'x'
				}
				if b.gkey != key {
					t.Fatalf("key %q: the bucket's key changed with its source to %q", key, b.gkey)
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
}
