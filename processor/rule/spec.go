// Package rule is the rule language of the processor: the front-end-neutral
// rule model (Spec), the YAML rule files, compilation against a schema with
// expr, the per-partition evaluation engine (filters and event-time windows),
// the inline tests runner and the linter.
//
// Every front end (the YAML files today, streaming SQL later) produces a Spec;
// Compile turns a Spec into a Rule that the engine runs. So a YAML rule and
// its SQL twin share one engine and one set of error messages.
package rule

import (
	"time"
)

// Spec is a rule as a front end states it: names, expression texts and where
// each came from, before any type checking.
type Spec struct {
	Name        string
	Description string
	Source      string // schema name of the input stream
	Where       Expr   // optional predicate (bool)
	Select      []Named
	Key         Expr   // optional output record key; default: the input key (filters) or the group values (windows)
	Output      string // output topic
	Window      *WindowSpec
	GroupBy     []Named
	Aggregates  []Agg
	Having      Expr // optional predicate over group columns and aggregates
	Tests       []Test

	// File is the file the rule came from; Loc positions errors in it.
	File string
	Loc  Locator
}

// Locator positions errors inside a rule file.
type Locator interface {
	// Errorf is an error at the value at path ("$.window.size").
	Errorf(path, format string, args ...any) error
	// ErrorAt is an error at line (1-based) and col (0-based) inside the
	// expression text stored at path, shifted by offset bytes on its first
	// line (an expression inside a larger value, such as sum(x)).
	ErrorAt(path string, offset, line, col int, msg string) error
}

// Expr is an expression text and where it stands.
type Expr struct {
	Text   string
	Path   string // position of the value in the file, e.g. "$.where"
	Offset int    // where Text starts inside that value (single-line values)
}

// Named is an output column computed by an expression.
type Named struct {
	Name string
	Expr Expr
}

// Agg is one aggregate: Func over Arg (empty for count()).
type Agg struct {
	Name string
	Func string // count, sum, min, max, avg, count_distinct
	Arg  Expr
	Path string
}

// Window kinds.
const (
	Tumbling = "tumbling"
	Hopping  = "hopping"
	Session  = "session"
)

// WindowSpec is an event-time window over the source's event-time column.
type WindowSpec struct {
	Type            string        // tumbling, hopping or session
	Size            time.Duration // tumbling, hopping
	Every           time.Duration // hopping: the advance (slide)
	Gap             time.Duration // session: inactivity that ends a session
	AllowedLateness time.Duration // watermark = max event time seen - this
	EmitEvery       time.Duration // 0: emit only when the window closes; else also early, every this much processing time
	DistinctExact   int           // count_distinct is exact up to this many values per group, then HyperLogLog
	// Repartition sends a tumbling or hopping rule's matched events to the
	// worker that owns their group (as sessions always are) instead of
	// merging per-partition partials: cheaper when most groups see few
	// events per partition and window (products, pages), dearer when few
	// groups see many (event types).
	Repartition bool
}

// Test is one inline test. A filter test has Event and Expect (match or
// no_match) and optionally the projected Output; a window test has Events and
// the expected Rows, emitted once the input ends.
type Test struct {
	Name   string
	Event  map[string]any
	Expect string
	Output map[string]any
	Events []map[string]any
	Rows   []map[string]any
	Path   string
}
