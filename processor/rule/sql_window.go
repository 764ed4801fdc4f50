package rule

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pgplex/pgparser/nodes"
)

// window reads a GROUP BY window function into a WindowSpec.
func (f *sqlFile) window(fc *nodes.FuncCall, first *token) (*WindowSpec, error) {
	fn := funcName(fc)
	t := f.findFunc(fn)
	if t == nil {
		t = first
	}
	args := list(fc.Args)
	want := map[string]int{"tumble": 2, "step": 2, "floor": 2, "session": 2, "hop": 3}
	usage := map[string]string{
		"tumble":  "TUMBLE(ROWTIME, INTERVAL '1' MINUTE)",
		"step":    "STEP(ROWTIME BY INTERVAL '1' MINUTE)",
		"floor":   "FLOOR(ROWTIME TO MINUTE)",
		"session": "SESSION(ROWTIME, INTERVAL '30' MINUTE)",
		"hop":     "HOP(ROWTIME, INTERVAL '1' MINUTE, INTERVAL '5' MINUTE) (slide, then size)",
	}
	n, ok := want[fn]
	if !ok {
		return nil, f.errAt(t, fmt.Sprintf("%s() is not a window; GROUP BY takes TUMBLE, HOP, SESSION, STEP or FLOOR(ROWTIME TO unit)", strings.ToUpper(fn)))
	}
	if len(args) != n {
		return nil, f.errAt(t, fmt.Sprintf("%s takes %d arguments: %s", strings.ToUpper(fn), n, usage[fn]))
	}
	// The time argument must be the event time.
	cr, ok := args[0].(*nodes.ColumnRef)
	var parts []string
	if ok {
		parts, ok = f.refNames(cr)
	}
	at := t
	if cr != nil {
		at = f.findRef(cr)
	}
	if !ok || f.fieldPath(parts) != f.sc.EventTime {
		return nil, f.errAt(at, fmt.Sprintf("windows run on the event time of %s (%s, or ROWTIME): %s", f.sc.Name, f.sc.EventTime, usage[fn]))
	}
	w := &WindowSpec{}
	switch fn {
	case "floor":
		unit, _ := args[1].(*nodes.ColumnRef)
		var up []string
		if unit != nil {
			up, _ = f.refNames(unit)
		}
		ut := f.cur()
		var d time.Duration
		if len(up) == 1 {
			d = unitDur[strings.ToLower(up[0])]
		}
		if d == 0 {
			return nil, f.errAt(ut, "FLOOR(ROWTIME TO unit): unit is SECOND, MINUTE, HOUR or DAY")
		}
		w.Type, w.Size = Tumbling, d
		return w, nil
	case "tumble", "step":
		d, err := f.interval(args[1])
		if err != nil {
			return nil, err
		}
		w.Type, w.Size = Tumbling, d
	case "session":
		d, err := f.interval(args[1])
		if err != nil {
			return nil, err
		}
		w.Type, w.Gap = Session, d
	case "hop":
		slide, err := f.interval(args[1])
		if err != nil {
			return nil, err
		}
		size, err := f.interval(args[2])
		if err != nil {
			return nil, err
		}
		w.Type, w.Every, w.Size = Hopping, slide, size
	}
	return w, nil
}

// interval masks of PostgreSQL's INTERVAL 'n' UNIT typmod.
var intervalMasks = map[int64]time.Duration{1 << 3: 24 * time.Hour, 1 << 10: time.Hour, 1 << 11: time.Minute, 1 << 12: time.Second}

// interval reads INTERVAL '1' MINUTE or INTERVAL '90 seconds'.
func (f *sqlFile) interval(n nodes.Node) (time.Duration, error) {
	t := f.find(func(t token) bool { return t.is("interval") })
	if t == nil {
		t = f.cur()
	}
	tc, ok := n.(*nodes.TypeCast)
	if !ok || typeNames(tc.TypeName) != "interval" {
		return 0, f.errAt(t, "want an interval such as INTERVAL '1' MINUTE")
	}
	c, ok := tc.Arg.(*nodes.A_Const)
	var s string
	if ok {
		if v, isStr := c.Val.(*nodes.String); isStr {
			s = v.Str
		} else {
			ok = false
		}
	}
	f.find(func(t token) bool { return t.kind == tString })
	if !ok {
		return 0, f.errAt(t, "the interval's value must be a quoted number: INTERVAL '1' MINUTE")
	}
	var d time.Duration
	if mods := list(tc.TypeName.Typmods); len(mods) > 0 {
		mc, _ := mods[0].(*nodes.A_Const)
		var mask int64 = -1
		if mc != nil {
			if iv, ok := mc.Val.(*nodes.Integer); ok {
				mask = iv.Ival
			}
		}
		unit, ok := intervalMasks[mask]
		if !ok {
			return 0, f.errAt(t, "interval unit: use SECOND, MINUTE, HOUR or DAY (months and years are not fixed lengths; ranges such as HOUR TO MINUTE are not supported)")
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return 0, f.errAt(t, fmt.Sprintf("INTERVAL '%s': the value must be a number when a unit follows", s))
		}
		d = time.Duration(v * float64(unit))
	} else {
		v, err := parseDuration(s)
		if err != nil {
			return 0, f.errAt(t, "INTERVAL: "+err.Error())
		}
		d = v
	}
	if d <= 0 {
		return 0, f.errAt(t, "an interval must be positive")
	}
	return d, nil
}
