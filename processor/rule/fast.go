package rule

import (
	"reflect"
	"unsafe"

	"github.com/expr-lang/expr/ast"

	"github.com/sluicehq/sluice/schema"
)

// pred is a where clause compiled to Go: the common shapes (a field
// compared with a literal, field in [...], joined by &&, || and !) run
// without the expr VM and without allocating. expr still type-checks every
// expression; anything else runs on the VM.
type pred func(p unsafe.Pointer) bool

// fastPred compiles n, or returns nil when it has another shape.
func (c *compiler) fastPred(n ast.Node) pred {
	switch x := n.(type) {
	case *ast.BoolNode:
		v := x.Value
		return func(unsafe.Pointer) bool { return v }
	case *ast.UnaryNode:
		if x.Operator != "!" && x.Operator != "not" {
			return nil
		}
		f := c.fastPred(x.Node)
		if f == nil {
			return nil
		}
		return func(p unsafe.Pointer) bool { return !f(p) }
	case *ast.IdentifierNode, *ast.MemberNode:
		a := c.fastField(n)
		if a == nil || a.kind != kBool {
			return nil
		}
		off := a.off
		return func(p unsafe.Pointer) bool { return *(*bool)(unsafe.Add(p, off)) }
	case *ast.BinaryNode:
		switch x.Operator {
		case "&&", "and":
			l, r := c.fastPred(x.Left), c.fastPred(x.Right)
			if l == nil || r == nil {
				return nil
			}
			return func(p unsafe.Pointer) bool { return l(p) && r(p) }
		case "||", "or":
			l, r := c.fastPred(x.Left), c.fastPred(x.Right)
			if l == nil || r == nil {
				return nil
			}
			return func(p unsafe.Pointer) bool { return l(p) || r(p) }
		case "in":
			return c.fastIn(x)
		case "==", "!=", "<", "<=", ">", ">=":
			return c.fastCmp(x)
		}
	}
	return nil
}

// fastField resolves a field path node to a non-optional field accessor.
func (c *compiler) fastField(n ast.Node) *accessor {
	path := nodePath(n)
	if path == "" || c.codec == nil {
		return nil
	}
	sc := lookupColumn(c.sc.Columns, path)
	if sc == nil || sc.Optional || sc.Type == schema.Struct || sc.Type == schema.Timestamp {
		return nil
	}
	a := c.accessor(path, sc)
	if a == nil || a.ptr {
		return nil
	}
	return a
}

func nodePath(n ast.Node) string {
	switch x := n.(type) {
	case *ast.IdentifierNode:
		return x.Value
	case *ast.MemberNode:
		return memberPath(x)
	}
	return ""
}

func (c *compiler) fastIn(x *ast.BinaryNode) pred {
	a := c.fastField(x.Left)
	if a == nil {
		return nil
	}
	off := a.off
	switch set := constValue(x.Right).(type) {
	case map[string]struct{}:
		if a.kind != kString {
			return nil
		}
		if len(set) <= 4 { // a short list beats a map lookup
			list := make([]string, 0, len(set))
			for s := range set {
				list = append(list, s)
			}
			return func(p unsafe.Pointer) bool {
				v := *(*string)(unsafe.Add(p, off))
				for _, s := range list {
					if v == s {
						return true
					}
				}
				return false
			}
		}
		return func(p unsafe.Pointer) bool { _, ok := set[*(*string)(unsafe.Add(p, off))]; return ok }
	case map[int]struct{}:
		if a.kind != kInt {
			return nil
		}
		return func(p unsafe.Pointer) bool { _, ok := set[int(*(*int64)(unsafe.Add(p, off)))]; return ok }
	}
	return nil
}

// constValue returns the set an in's right side names: the optimizer's
// constant map, or a literal array of strings or integers.
func constValue(n ast.Node) any {
	switch x := n.(type) {
	case *ast.ConstantNode:
		list, ok := x.Value.([]any)
		if !ok {
			return x.Value
		}
		ints, strs := map[int]struct{}{}, map[string]struct{}{}
		for _, e := range list {
			switch v := e.(type) {
			case int:
				ints[v] = struct{}{}
			case string:
				strs[v] = struct{}{}
			default:
				return nil
			}
		}
		switch {
		case len(strs) == 0:
			return ints
		case len(ints) == 0:
			return strs
		}
	case *ast.ArrayNode:
		ints, strs := map[int]struct{}{}, map[string]struct{}{}
		for _, e := range x.Nodes {
			switch v := e.(type) {
			case *ast.IntegerNode:
				ints[v.Value] = struct{}{}
			case *ast.StringNode:
				strs[v.Value] = struct{}{}
			default:
				return nil
			}
		}
		switch {
		case len(strs) == 0:
			return ints
		case len(ints) == 0:
			return strs
		}
	}
	return nil
}

type lit struct {
	kind vkind
	s    string
	i    int64
	f    float64
	b    bool
}

func literal(n ast.Node) (lit, bool) {
	switch x := n.(type) {
	case *ast.StringNode:
		return lit{kind: kString, s: x.Value}, true
	case *ast.IntegerNode:
		return lit{kind: kInt, i: int64(x.Value), f: float64(x.Value)}, true
	case *ast.FloatNode:
		return lit{kind: kFloat, f: x.Value}, true
	case *ast.BoolNode:
		return lit{kind: kBool, b: x.Value}, true
	}
	return lit{}, false
}

// flip mirrors an operator for literal-on-the-left comparisons (3 < x).
var flip = map[string]string{"==": "==", "!=": "!=", "<": ">", ">": "<", "<=": ">=", ">=": "<="}

func (c *compiler) fastCmp(x *ast.BinaryNode) pred {
	op := x.Operator
	field, other := x.Left, x.Right
	if _, isLit := literal(field); isLit {
		field, other, op = other, field, flip[op]
	}
	a := c.fastField(field)
	l, ok := literal(other)
	if a == nil || !ok {
		return nil
	}
	off := a.off
	switch {
	case a.kind == kString && l.kind == kString:
		return cmpPred(op, l.s, func(p unsafe.Pointer) string { return *(*string)(unsafe.Add(p, off)) })
	case a.kind == kInt && l.kind == kInt:
		return cmpPred(op, l.i, func(p unsafe.Pointer) int64 { return *(*int64)(unsafe.Add(p, off)) })
	case a.kind == kInt && l.kind == kFloat:
		return cmpPred(op, l.f, func(p unsafe.Pointer) float64 { return float64(*(*int64)(unsafe.Add(p, off))) })
	case a.kind == kFloat && (l.kind == kFloat || l.kind == kInt):
		return cmpPred(op, l.f, func(p unsafe.Pointer) float64 { return *(*float64)(unsafe.Add(p, off)) })
	case a.kind == kBool && l.kind == kBool && (op == "==" || op == "!="):
		want := l.b == (op == "==")
		return func(p unsafe.Pointer) bool { return *(*bool)(unsafe.Add(p, off)) == want }
	}
	return nil
}

func cmpPred[T int64 | float64 | string](op string, lit T, get func(unsafe.Pointer) T) pred {
	switch op {
	case "==":
		return func(p unsafe.Pointer) bool { return get(p) == lit }
	case "!=":
		return func(p unsafe.Pointer) bool { return get(p) != lit }
	case "<":
		return func(p unsafe.Pointer) bool { return get(p) < lit }
	case "<=":
		return func(p unsafe.Pointer) bool { return get(p) <= lit }
	case ">":
		return func(p unsafe.Pointer) bool { return get(p) > lit }
	case ">=":
		return func(p unsafe.Pointer) bool { return get(p) >= lit }
	}
	return nil
}

// recPtr is the address of a record (a pointer from a codec).
func recPtr(rec any) unsafe.Pointer { return reflect.ValueOf(rec).UnsafePointer() }
