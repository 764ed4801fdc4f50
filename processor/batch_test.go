package processor

import (
	"encoding/binary"
	"errors"
	"testing"
)

func TestEachEntry(t *testing.T) {
	var body []byte
	for _, e := range []string{"one", "", "three"} {
		body = binary.AppendUvarint(body, uint64(len(e)))
		body = append(body, e...)
	}
	var got []string
	collect := func(e []byte) error { got = append(got, string(e)); return nil }
	if err := eachEntry(body, collect); err != nil || len(got) != 3 || got[0] != "one" || got[1] != "" || got[2] != "three" {
		t.Fatalf("got %q, %v", got, err)
	}
	// An entry's error does not stop the others.
	bad := errors.New("bad entry")
	n := 0
	err := eachEntry(body, func(e []byte) error {
		n++
		if len(e) == 0 {
			return bad
		}
		return nil
	})
	if n != 3 || !errors.Is(err, bad) {
		t.Errorf("%d entries, err %v", n, err)
	}
	// A cut batch, a length past the end, a bad varint: an error, and no
	// entry read past the damage.
	for _, damaged := range [][]byte{body[:len(body)-1], {5, 'a'}, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}} {
		got = nil
		if err := eachEntry(damaged, collect); !errors.Is(err, errBadBatch) {
			t.Errorf("%q: err %v", damaged, err)
		}
		if len(damaged) == len(body)-1 && len(got) != 2 {
			t.Errorf("cut batch: %d entries before the damage, want 2", len(got))
		}
	}
}
