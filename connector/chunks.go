package connector

import (
	"crypto/md5"
	"io"
	"sync"
)

// chunkSize is the unit objects are built in. Growing one contiguous
// buffer to a file's size copies and clears it over and over; chunks from a
// pool are written once and reused across files.
const chunkSize = 1 << 20

var chunkPool = sync.Pool{New: func() any { b := make([]byte, 0, chunkSize); return &b }}

// chunks is an object being built in memory.
type chunks struct {
	bufs []*[]byte
	n    int64
}

func (c *chunks) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if len(c.bufs) == 0 || len(*c.bufs[len(c.bufs)-1]) == chunkSize {
			c.bufs = append(c.bufs, chunkPool.Get().(*[]byte))
		}
		last := c.bufs[len(c.bufs)-1]
		k := copy((*last)[len(*last):chunkSize], p)
		*last = (*last)[:len(*last)+k]
		p = p[k:]
	}
	c.n += int64(n)
	return n, nil
}

// Len is the bytes written so far.
func (c *chunks) Len() int { return int(c.n) }

// reader reads the object from the start; each call starts again.
func (c *chunks) reader() io.Reader {
	rs := make([]io.Reader, len(c.bufs))
	for i, b := range c.bufs {
		rs[i] = &sliceReader{b: *b}
	}
	return io.MultiReader(rs...)
}

type sliceReader struct{ b []byte }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// md5 is the object's MD5, which S3 checks the upload against.
func (c *chunks) md5() []byte {
	h := md5.New()
	for _, b := range c.bufs {
		h.Write(*b)
	}
	return h.Sum(nil)
}

// release returns the chunks to the pool.
func (c *chunks) release() {
	for _, b := range c.bufs {
		*b = (*b)[:0]
		chunkPool.Put(b)
	}
	c.bufs, c.n = nil, 0
}
