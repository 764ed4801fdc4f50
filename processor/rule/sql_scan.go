package rule

import (
	"strings"
)

// The SQL front end keeps its own small scanner next to the parser: it finds
// the header directives and the tests comment, rewrites the KDA-only syntax
// into PostgreSQL syntax without moving a byte (so every position the parser
// or the compiler reports stays exact), and positions AST nodes, which the
// parser does not do.

type tokKind int

const (
	tIdent   tokKind = iota // unquoted identifier or keyword; text lower-cased
	tQIdent                 // "quoted identifier"; text unquoted, case kept
	tString                 // 'string'; text unquoted
	tNumber                 // 123, 1.5, 1e3
	tOp                     // punctuation and operators: ( ) , ; . = <> != <= >= || + - * / % < >
	tComment                // -- line or /* block */; text is the whole comment
)

type token struct {
	kind       tokKind
	text       string
	start, end int // byte offsets in the file
}

// scanSQL splits src into tokens. It never fails: a byte it does not know
// becomes a one-byte operator token, and an unterminated string or comment
// runs to the end, so that the parser reports the error at its position.
func scanSQL(src string) []token {
	var out []token
	i := 0
	for i < len(src) {
		c := src[i]
		start := i
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
			continue
		case c == '-' && i+1 < len(src) && src[i+1] == '-':
			for i < len(src) && src[i] != '\n' {
				i++
			}
			out = append(out, token{tComment, src[start:i], start, i})
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			// PostgreSQL block comments nest.
			depth := 0
			for i < len(src) {
				if strings.HasPrefix(src[i:], "/*") {
					depth++
					i += 2
				} else if strings.HasPrefix(src[i:], "*/") {
					depth--
					i += 2
					if depth == 0 {
						break
					}
				} else {
					i++
				}
			}
			out = append(out, token{tComment, src[start:i], start, i})
		case c == '\'' || c == '"':
			q := c
			var b strings.Builder
			i++
			for i < len(src) {
				if src[i] == q {
					if i+1 < len(src) && src[i+1] == q {
						b.WriteByte(q)
						i += 2
						continue
					}
					i++
					break
				}
				b.WriteByte(src[i])
				i++
			}
			k := tString
			if q == '"' {
				k = tQIdent
			}
			out = append(out, token{k, b.String(), start, i})
		case isIdentStart(c):
			for i < len(src) && isIdentPart(src[i]) {
				i++
			}
			out = append(out, token{tIdent, strings.ToLower(src[start:i]), start, i})
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(src) && src[i+1] >= '0' && src[i+1] <= '9':
			for i < len(src) && (src[i] >= '0' && src[i] <= '9' || src[i] == '.') {
				i++
			}
			if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
				j := i + 1
				if j < len(src) && (src[j] == '+' || src[j] == '-') {
					j++
				}
				if j < len(src) && src[j] >= '0' && src[j] <= '9' {
					i = j
					for i < len(src) && src[i] >= '0' && src[i] <= '9' {
						i++
					}
				}
			}
			out = append(out, token{tNumber, src[start:i], start, i})
		default:
			n := 1
			if i+1 < len(src) {
				switch src[i : i+2] {
				case "<>", "!=", "<=", ">=", "||", "::":
					n = 2
				}
			}
			i += n
			out = append(out, token{tOp, src[start:i], start, i})
		}
	}
	return out
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

func isIdentPart(c byte) bool {
	return isIdentStart(c) || c >= '0' && c <= '9' || c == '$'
}

// code drops comments.
func code(toks []token) []token {
	out := make([]token, 0, len(toks))
	for _, t := range toks {
		if t.kind != tComment {
			out = append(out, t)
		}
	}
	return out
}

func (t token) is(words ...string) bool {
	if t.kind != tIdent {
		return false
	}
	for _, w := range words {
		if t.text == w {
			return true
		}
	}
	return false
}

func (t token) op(s string) bool { return t.kind == tOp && t.text == s }

// blank overwrites src[from:to] with spaces, keeping line breaks.
func blank(b []byte, from, to int) {
	for i := from; i < to && i < len(b); i++ {
		if b[i] != '\n' && b[i] != '\r' {
			b[i] = ' '
		}
	}
}

// normalize rewrites the streaming dialects into PostgreSQL syntax in place,
// byte for byte:
//   - SELECT STREAM                      -> SELECT
//   - CREATE [OR REPLACE] PUMP p AS INSERT -> INSERT
//   - CREATE [OR REPLACE] STREAM|TABLE ... ; (declarations; the schema file
//     declares the stream) -> blank
//   - STEP(x BY i), FLOOR(x TO unit)      -> STEP(x , i), FLOOR(x , unit)
//   - Flink: `name` -> "name", INTERVAL '5' MINUTES -> INTERVAL '5' MINUTE
func normalize(b []byte, toks []token) {
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t.is("select") && i+2 < len(toks) && toks[i+1].is("stream") && !toks[i+2].op(",") && !toks[i+2].is("from", "as"):
			// (SELECT stream FROM ... reads a column named stream.)
			blank(b, toks[i+1].start, toks[i+1].end)
		case t.is("create"):
			j := i + 1
			if j+1 < len(toks) && toks[j].is("or") && toks[j+1].is("replace") {
				j += 2
			}
			if j < len(toks) && toks[j].is("temporary", "temp") {
				j++
			}
			if j >= len(toks) {
				continue
			}
			switch {
			case toks[j].is("pump"):
				// Blank through the AS before INSERT.
				for k := j + 1; k < len(toks); k++ {
					if toks[k].is("as") && k+1 < len(toks) && toks[k+1].is("insert") {
						blank(b, t.start, toks[k].end)
						i = k
						break
					}
				}
			case toks[j].is("stream", "table"):
				end := len(toks) - 1
				for k := j + 1; k < len(toks); k++ {
					if toks[k].op(";") {
						end = k
						break
					}
				}
				blank(b, t.start, toks[end].end)
				i = end
			}
		case t.op("`"):
			// Flink quotes identifiers with backticks.
			b[t.start] = '"'
		case t.is("seconds", "minutes", "hours", "days") && i >= 2 && toks[i-1].kind == tString && toks[i-2].is("interval"):
			// Flink's INTERVAL '5' MINUTES: drop the plural s.
			b[t.end-1] = ' '
		case t.is("step", "floor") && i+1 < len(toks) && toks[i+1].op("("):
			depth := 0
			for k := i + 1; k < len(toks); k++ {
				switch {
				case toks[k].op("("):
					depth++
				case toks[k].op(")"):
					depth--
				case depth == 1 && (t.is("step") && toks[k].is("by") || t.is("floor") && toks[k].is("to")):
					b[toks[k].start], b[toks[k].start+1] = ',', ' '
				}
				if depth == 0 {
					break
				}
			}
		}
	}
}

// lines converts byte offsets to 1-based line and column.
type lines []int // start offset of each line

func newLines(src string) lines {
	l := lines{0}
	for i := 0; i < len(src); i++ {
		if src[i] == '\n' {
			l = append(l, i+1)
		}
	}
	return l
}

func (l lines) pos(off int) (line, col int) {
	lo, hi := 0, len(l)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if l[mid] <= off {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo + 1, off - l[lo] + 1
}
