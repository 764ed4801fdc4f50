package jsonstream

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
)

// ObjectReader splits a stream into top-level JSON objects: NDJSON, and
// also objects simply written one after another (Firehose adds no
// delimiter), with any whitespace between them. It only tracks strings and
// brace depth; each object's syntax and content are the schema codec's to
// judge. A line that ends inside a string is cut short: the bytes up to
// the newline are one SyntaxError and reading resumes on the next line.
type ObjectReader struct {
	r        io.Reader
	buf      []byte
	start    int   // first byte of the object being scanned in buf
	pos      int   // next byte to scan in buf
	base     int64 // stream offset of buf[0]
	line     int   // line of buf[pos] (1-based)
	maxBytes int
	err      error // sticky read error (io.EOF at the end)
}

// Object is one top-level object and where it starts.
type Object struct {
	Data   []byte // valid until the next call to Next
	Offset int64  // byte offset of its first byte in the (decompressed) stream
	Line   int    // line of its first byte, 1-based
}

// SyntaxError is a piece of the stream that is not a JSON object. The
// reader has skipped it (to the end of its line, or to the end of the
// stream for a truncated object) and can go on.
type SyntaxError struct {
	Offset int64
	Line   int
	Reason string
	Data   []byte // the skipped bytes, valid until the next call to Next
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("offset %d (line %d): %s", e.Offset, e.Line, e.Reason)
}

// ErrObjectTooLarge stops reading: one object exceeds the size limit.
var ErrObjectTooLarge = errors.New("JSON object larger than the limit")

// NewObjectReader reads objects from r, each at most maxBytes long
// (default 16 MiB).
func NewObjectReader(r io.Reader, maxBytes int) *ObjectReader {
	if maxBytes <= 0 {
		maxBytes = 16 << 20
	}
	return &ObjectReader{r: r, buf: make([]byte, 0, 64<<10), line: 1, maxBytes: maxBytes}
}

// Decompress returns r, gunzipped when it starts with the gzip magic bytes
// (concatenated gzip members are read as one stream), and without a
// leading UTF-8 byte-order mark (some Windows tools write one), which
// would otherwise make the first line, or a whole Firehose file without
// newlines, one bad piece.
func Decompress(r io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, err := br.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("reading input: %w", err)
	}
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("reading gzip header: %w", err)
		}
		br = bufio.NewReaderSize(zr, 64<<10)
	}
	if bom, _ := br.Peek(3); string(bom) == "\xef\xbb\xbf" {
		_, _ = br.Discard(3)
	}
	return br, nil
}

// fill reads more input; false when none is left.
func (o *ObjectReader) fill() bool {
	if o.err != nil {
		return false
	}
	if o.start > 0 && o.start >= len(o.buf)/2 {
		// Slide the unfinished object to the front.
		n := copy(o.buf, o.buf[o.start:])
		o.base += int64(o.start)
		o.pos -= o.start
		o.buf = o.buf[:n]
		o.start = 0
	}
	if cap(o.buf)-len(o.buf) < 16<<10 {
		nb := make([]byte, len(o.buf), 2*cap(o.buf))
		copy(nb, o.buf)
		o.buf = nb
	}
	n, err := o.r.Read(o.buf[len(o.buf):cap(o.buf)])
	o.buf = o.buf[:len(o.buf)+n]
	if err != nil {
		o.err = err
	}
	return n > 0 || err == nil
}

// Next returns the next object. At the end it returns io.EOF; a
// *SyntaxError for bytes that are not an object (reading can go on); any
// other error ends the stream.
func (o *ObjectReader) Next() (Object, error) {
	// Skip whitespace between objects.
	for {
		if o.pos == len(o.buf) {
			o.start = o.pos
			if !o.fill() {
				return Object{}, o.endErr()
			}
			continue
		}
		c := o.buf[o.pos]
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			if c == '\n' {
				o.line++
			}
			o.pos++
			continue
		}
		break
	}
	o.start = o.pos
	off, line := o.base+int64(o.pos), o.line
	if o.buf[o.pos] != '{' {
		return Object{}, o.skipLine(off, line, fmt.Sprintf("expected a JSON object, found %q", o.buf[o.pos]))
	}
	depth, inStr, esc := 0, false, false
	for {
		if o.pos == len(o.buf) {
			if o.pos-o.start > o.maxBytes {
				return Object{}, fmt.Errorf("offset %d (line %d): %w (%d bytes)", off, line, ErrObjectTooLarge, o.maxBytes)
			}
			if !o.fill() {
				if err := o.endErr(); !errors.Is(err, io.EOF) {
					return Object{}, err
				}
				data := o.buf[o.start:o.pos]
				o.start = o.pos
				return Object{}, &SyntaxError{Offset: off, Line: line, Data: data,
					Reason: fmt.Sprintf("truncated JSON object: the input ends after %d bytes of it", len(data))}
			}
			continue
		}
		c := o.buf[o.pos]
		o.pos++
		switch {
		case inStr:
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				inStr = false
			case c == '\n':
				// A raw newline cannot be in a JSON string: the line was
				// cut (a crashed writer). End the piece here, or the
				// flipped string state swallows every line after it.
				o.pos--
				data := o.buf[o.start:o.pos]
				o.start = o.pos
				return Object{}, &SyntaxError{Offset: off, Line: line, Data: data,
					Reason: "the line ends inside a JSON string (a cut line?)"}
			}
		case c == '"':
			inStr = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
			if depth == 0 {
				data := o.buf[o.start:o.pos]
				o.start = o.pos
				return Object{Data: data, Offset: off, Line: line}, nil
			}
		case c == '\n':
			o.line++
		}
	}
}

// skipLine skips to the end of the current line.
func (o *ObjectReader) skipLine(off int64, line int, reason string) error {
	for {
		for o.pos < len(o.buf) {
			if o.buf[o.pos] == '\n' {
				data := o.buf[o.start:o.pos]
				o.start = o.pos
				return &SyntaxError{Offset: off, Line: line, Reason: reason, Data: data}
			}
			o.pos++
			if o.pos-o.start > o.maxBytes {
				return fmt.Errorf("offset %d (line %d): %w (%d bytes)", off, line, ErrObjectTooLarge, o.maxBytes)
			}
		}
		if !o.fill() {
			if err := o.endErr(); !errors.Is(err, io.EOF) {
				return err
			}
			data := o.buf[o.start:o.pos]
			o.start = o.pos
			return &SyntaxError{Offset: off, Line: line, Reason: reason, Data: data}
		}
	}
}

func (o *ObjectReader) endErr() error {
	if o.err == nil || errors.Is(o.err, io.EOF) {
		return io.EOF
	}
	return fmt.Errorf("reading input at offset %d: %w", o.base+int64(o.pos), o.err)
}
