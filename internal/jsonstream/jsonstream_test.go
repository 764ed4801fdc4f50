package jsonstream

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"strings"
	"testing"

	json "github.com/goccy/go-json"
)

type piece struct {
	data   string
	offset int64
	line   int
	bad    string // SyntaxError reason substring
}

func readPieces(t testing.TB, r io.Reader, max int) ([]piece, error) {
	rd := NewObjectReader(r, max)
	var out []piece
	for {
		obj, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		var se *SyntaxError
		if errors.As(err, &se) {
			out = append(out, piece{data: string(se.Data), offset: se.Offset, line: se.Line, bad: se.Reason})
			continue
		}
		if err != nil {
			return out, err
		}
		out = append(out, piece{data: string(obj.Data), offset: obj.Offset, line: obj.Line})
	}
}

func TestObjectReaderEdges(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want []piece
	}{
		{"ndjson", "{\"a\":1}\n{\"b\":2}\n", []piece{{`{"a":1}`, 0, 1, ""}, {`{"b":2}`, 8, 2, ""}}},
		{"no trailing newline", "{\"a\":1}\n{\"b\":2}", []piece{{`{"a":1}`, 0, 1, ""}, {`{"b":2}`, 8, 2, ""}}},
		{"concatenated", `{"a":1}{"b":2}{"c":{"d":[1,{"e":3}]}}`, []piece{{`{"a":1}`, 0, 1, ""}, {`{"b":2}`, 7, 1, ""}, {`{"c":{"d":[1,{"e":3}]}}`, 14, 1, ""}}},
		{"whitespace between", " \t{\"a\":1}\r\n\n  {\"b\":2} ", []piece{{`{"a":1}`, 2, 1, ""}, {`{"b":2}`, 14, 3, ""}}},
		{"braces in strings", `{"a":"}{\"}"}{"b":"\\"}`, []piece{{`{"a":"}{\"}"}`, 0, 1, ""}, {`{"b":"\\"}`, 13, 1, ""}}},
		{"pretty printed", "{\n  \"a\": 1\n}\n{\"b\":2}", []piece{{"{\n  \"a\": 1\n}", 0, 1, ""}, {`{"b":2}`, 13, 4, ""}}},
		{"truncated last", "{\"a\":1}\n{\"b\":", []piece{{`{"a":1}`, 0, 1, ""}, {`{"b":`, 8, 2, "truncated"}}},
		{"garbage line", "{\"a\":1}\nnot json\n{\"b\":2}\n", []piece{{`{"a":1}`, 0, 1, ""}, {"not json", 8, 2, "expected a JSON object"}, {`{"b":2}`, 17, 3, ""}}},
		{"empty", " \n ", nil},
		{"line cut inside a string", "{\"a\":1}\n{\"b\":\"x\n{\"c\":\"}\"}\n", []piece{{`{"a":1}`, 0, 1, ""}, {`{"b":"x`, 8, 2, "inside a JSON string"}, {`{"c":"}"}`, 16, 3, ""}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// One byte at a time too, so buffer refills land everywhere.
			for _, r := range []io.Reader{strings.NewReader(tc.in), &oneByte{strings.NewReader(tc.in)}} {
				got, err := readPieces(t, r, 0)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(tc.want) {
					t.Fatalf("got %+v, want %+v", got, tc.want)
				}
				for i := range got {
					w := tc.want[i]
					if got[i].data != w.data || got[i].offset != w.offset || got[i].line != w.line ||
						(w.bad == "") != (got[i].bad == "") || !strings.Contains(got[i].bad, w.bad) {
						t.Fatalf("piece %d: got %+v, want %+v", i, got[i], w)
					}
				}
			}
		})
	}
}

type oneByte struct{ r io.Reader }

func (o *oneByte) Read(p []byte) (int, error) { return o.r.Read(p[:min(1, len(p))]) }

func TestObjectReaderTooLarge(t *testing.T) {
	in := `{"a":"` + strings.Repeat("x", 200<<10) + `"}`
	_, err := readPieces(t, strings.NewReader(in), 64<<10)
	if !errors.Is(err, ErrObjectTooLarge) {
		t.Fatalf("err = %v, want ErrObjectTooLarge", err)
	}
}

func TestDecompress(t *testing.T) {
	var gz bytes.Buffer
	for _, part := range []string{"{\"a\":1}\n", "{\"b\":2}"} { // two gzip members, as appended files are
		w := gzip.NewWriter(&gz)
		_, _ = w.Write([]byte(part))
		_ = w.Close()
	}
	var gzBOM bytes.Buffer
	w := gzip.NewWriter(&gzBOM)
	_, _ = w.Write([]byte("\xef\xbb\xbf{\"a\":1}{\"b\":2}"))
	_ = w.Close()
	for _, in := range [][]byte{gz.Bytes(), []byte("{\"a\":1}\n{\"b\":2}"), []byte("\xef\xbb\xbf{\"a\":1}\n{\"b\":2}"), gzBOM.Bytes()} {
		r, err := Decompress(bytes.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		got, err := readPieces(t, r, 0)
		if err != nil || len(got) != 2 || got[0].data != `{"a":1}` || got[1].data != `{"b":2}` {
			t.Fatalf("got %+v, %v", got, err)
		}
	}
}

// FuzzObjectReader: whatever the input, the reader terminates, pieces are
// in order and never overlap, and each piece is the input's bytes at its
// offset. For a stream of valid objects it returns exactly those objects.
func FuzzObjectReader(f *testing.F) {
	for _, s := range []string{
		"{\"a\":1}\n{\"b\":2}", `{"a":"}{\"}"}{"b":"\\"}`, "{\"b\":", "x\n{}", "{{{{", "}}}}", `{"a":"\`,
		"  {\"user_id\": 54, \"device_id\": \"mobile\"}\n", "\x1f\x8b", "[1,2]{}", "{\"s\":\"\n\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		got, err := readPieces(t, &oneByte{bytes.NewReader(in)}, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		end := int64(0)
		for _, p := range got {
			if p.offset < end || p.offset+int64(len(p.data)) > int64(len(in)) {
				t.Fatalf("piece %+v out of order or out of range", p)
			}
			if string(in[p.offset:p.offset+int64(len(p.data))]) != p.data {
				t.Fatalf("piece %+v is not the input at its offset", p)
			}
			if wantLine := 1 + bytes.Count(in[:p.offset], []byte("\n")); p.line != wantLine {
				t.Fatalf("piece at %d: line %d, want %d", p.offset, p.line, wantLine)
			}
			end = p.offset + int64(len(p.data))
		}
		// Valid objects concatenated must come back one for one.
		var objs []json.RawMessage
		dec := json.NewDecoder(bytes.NewReader(in))
		for {
			var m map[string]any
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				break
			}
			if json.Unmarshal(raw, &m) != nil {
				objs = nil
				break
			}
			objs = append(objs, raw)
		}
		if len(objs) > 0 && dec.InputOffset() == int64(len(bytes.TrimRight(in, " \t\r\n"))) {
			if len(got) != len(objs) {
				t.Fatalf("%d valid objects, reader found %d pieces: %+v", len(objs), len(got), got)
			}
			for _, p := range got {
				if p.bad != "" {
					t.Fatalf("valid input, yet %+v", p)
				}
			}
		}
	})
}
