package schema

import (
	"testing"
	"time"
)

// parseFast must agree with time.Parse wherever it answers.
func FuzzParseFast(f *testing.F) {
	for _, s := range []string{"2021-07-12 12:01:58.732726", "2021-07-12 12:01:58", "2024-02-29T00:00:00.1",
		"2023-02-29 00:00:00", "2021-13-01 00:00:00", "2021-07-12 24:00:00", "2021-07-12 12:01:58.", "2021-07-12 12:01:58.1234567891",
		"2021-07-12 12:01:58Z", "+021-07-12 12:01:58", "2021-07-12 12:01:58.-1", "0000-01-01 00:00:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		for layout, sep := range fastLayouts {
			got, ok := parseFast(v, sep)
			want, err := time.ParseInLocation(layout, v, time.UTC)
			if ok && (err != nil || !got.Equal(want)) {
				t.Fatalf("%q with %q: fast %v, time.Parse %v %v", v, layout, got, want, err)
			}
		}
	})
}

func BenchmarkParseTime(b *testing.B) {
	c := &Column{Name: "ts", Type: Timestamp, Format: "2006-01-02 15:04:05.999999"}
	for i := 0; i < b.N; i++ {
		if _, err := c.ParseTime("2021-07-12 12:01:58.732726"); err != nil {
			b.Fatal(err)
		}
	}
}
