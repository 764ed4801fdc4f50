package producer

import (
	"testing"
	"time"
)

func TestTimeFormatterMatchesAppendFormat(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	for _, layout := range []string{"2006-01-02 15:04:05.000000", "2006-01-02T15:04:05.000000Z07:00", "2006-01-02T15:04:05.000",
		"Jan _2 15:04:05", "2006-01-02T15:04:05.000000000 MST"} {
		for _, loc := range []*time.Location{time.UTC, ny} {
			f := newTimeFormatter(layout, loc)
			// Across a DST change, with sub-second steps and jumps back.
			base := time.Date(2024, 3, 10, 6, 59, 58, 0, time.UTC)
			for i := range 5000 {
				tm := base.Add(time.Duration(i)*777_777*time.Microsecond - time.Duration(i%7)*time.Second)
				got := string(f.append(nil, tm))
				if want := tm.In(loc).Format(layout); got != want {
					t.Fatalf("%s in %s: got %s, want %s", layout, loc, got, want)
				}
			}
		}
	}
}
