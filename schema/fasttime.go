package schema

import "time"

// fastLayouts are the layouts parseFast handles, with their date/time
// separator. With a .999 fraction (or none) Go accepts any fraction of 0 to 9
// digits when parsing, and so does parseFast.
var fastLayouts = map[string]byte{
	"2006-01-02 15:04:05":           ' ',
	"2006-01-02 15:04:05.999":       ' ',
	"2006-01-02 15:04:05.999999":    ' ',
	"2006-01-02 15:04:05.999999999": ' ',
	"2006-01-02T15:04:05":           'T',
	"2006-01-02T15:04:05.999":       'T',
	"2006-01-02T15:04:05.999999":    'T',
	"2006-01-02T15:04:05.999999999": 'T',
}

// parseFast parses "YYYY-MM-DD<sep>hh:mm:ss[.f{1,9}]" in UTC, the shape of
// most clickstream timestamps, several times faster than time.Parse. It
// reports false for anything else (the caller then uses time.Parse, which
// gives the error message), so it never accepts what time.Parse rejects.
func parseFast(v string, sep byte) (time.Time, bool) {
	if len(v) < 19 || v[4] != '-' || v[7] != '-' || v[10] != sep || v[13] != ':' || v[16] != ':' {
		return time.Time{}, false
	}
	num := func(s string) (int, bool) {
		n := 0
		for i := 0; i < len(s); i++ {
			c := s[i] - '0'
			if c > 9 {
				return 0, false
			}
			n = n*10 + int(c)
		}
		return n, true
	}
	y, ok1 := num(v[0:4])
	mo, ok2 := num(v[5:7])
	d, ok3 := num(v[8:10])
	h, ok4 := num(v[11:13])
	mi, ok5 := num(v[14:16])
	s, ok6 := num(v[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || s > 59 {
		return time.Time{}, false
	}
	if d > daysIn(time.Month(mo), y) {
		return time.Time{}, false
	}
	ns := 0
	if len(v) > 19 {
		frac := v[20:]
		if v[19] != '.' || len(frac) < 1 || len(frac) > 9 {
			return time.Time{}, false
		}
		f, ok := num(frac)
		if !ok {
			return time.Time{}, false
		}
		for i := len(frac); i < 9; i++ {
			f *= 10
		}
		ns = f
	}
	return time.Date(y, time.Month(mo), d, h, mi, s, ns, time.UTC), true
}

func daysIn(m time.Month, y int) int {
	switch m {
	case time.February:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}
