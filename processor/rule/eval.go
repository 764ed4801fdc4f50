package rule

import (
	"fmt"
	"reflect"
	"unsafe"

	"github.com/expr-lang/expr/vm"
	json "github.com/goccy/go-json"
)

// Eval is the scratch space of one goroutine evaluating rules: an expr VM
// and buffers reused across events so the hot path does not allocate.
// It is not safe for concurrent use.
type Eval struct {
	vm   vm.VM
	key  []byte
	out  []byte
	vals []value
	args []value
}

// Match evaluates the rule's where against rec (a record pointer from the
// rule's codec). A rule without where matches everything.
func (r *Rule) Match(ev *Eval, rec any) (bool, error) {
	if r.where == nil {
		return true, nil
	}
	if r.fast != nil {
		return r.fast(recPtr(rec)), nil
	}
	out, err := ev.vm.Run(r.where, rec)
	if err != nil {
		return false, fmt.Errorf("rule %s: where: %w", r.Name, err)
	}
	b, _ := out.(bool)
	return b, nil
}

// eval computes one column's value for rec.
func (col *column) eval(ev *Eval, rec any) (value, error) {
	if col.acc != nil {
		return col.acc.read(rec), nil
	}
	out, err := ev.vm.Run(col.prog, rec)
	if err != nil {
		return value{}, fmt.Errorf("%s: %w", col.name, err)
	}
	return fromAny(kindOf(col.typ), out), nil
}

// Project returns the output value of a filter match: raw itself when the
// rule has no select (no re-encoding), else the projected JSON object. The
// returned slice is valid until the next call with ev.
func (r *Rule) Project(ev *Eval, rec any, raw []byte) ([]byte, error) {
	if len(r.sel) == 0 {
		return raw, nil
	}
	b := append(ev.out[:0], '{')
	for i := range r.sel {
		col := &r.sel[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, col.name)
		b = append(b, ':')
		switch {
		case col.raw != nil:
			b = appendJSONString(b, col.raw.read(rec).s)
		case col.whole != nil:
			p := unsafe.Add(reflect.ValueOf(rec).UnsafePointer(), col.wholeOff)
			js, err := json.Marshal(reflect.NewAt(col.whole, p).Interface())
			if err != nil {
				return nil, fmt.Errorf("rule %s: encoding %s: %w", r.Name, col.name, err)
			}
			b = append(b, js...)
		default:
			v, err := col.eval(ev, rec)
			if err != nil {
				return nil, fmt.Errorf("rule %s: select %w", r.Name, err)
			}
			b = v.appendJSON(b)
		}
	}
	b = append(b, '}')
	ev.out = b
	return b, nil
}

// Key returns the output key of a filter match: the key expression's text,
// or the input key when the rule has none.
func (r *Rule) Key(ev *Eval, rec any, inKey []byte) ([]byte, error) {
	if r.key == nil {
		return inKey, nil
	}
	v, err := r.key.eval(ev, rec)
	if err != nil {
		return nil, fmt.Errorf("rule %s: key: %w", r.Name, err)
	}
	return v.appendText(nil), nil
}
