package connector

import (
	"crypto/md5"
	"io"
	"sync"
)

// Objects are built in chunks. Growing one contiguous buffer to a file's
// size copies and clears it over and over; chunks from pools are written
// once and reused across files. Chunks grow from 16 KiB to 1 MiB so that a
// small file (many open partitions) holds little memory.
var chunkSizes = [...]int{16 << 10, 128 << 10, 1 << 20}

var chunkPools [len(chunkSizes)]sync.Pool

func getChunk(i int) *[]byte {
	class := min(i, len(chunkSizes)-1)
	if b, ok := chunkPools[class].Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, chunkSizes[class])
	return &b
}

// chunks is an object being built in memory.
type chunks struct {
	bufs     []*[]byte
	n        int64
	capacity int64 // memory held
}

func (c *chunks) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if len(c.bufs) == 0 || len(*c.bufs[len(c.bufs)-1]) == cap(*c.bufs[len(c.bufs)-1]) {
			b := getChunk(len(c.bufs))
			c.bufs = append(c.bufs, b)
			c.capacity += int64(cap(*b))
		}
		last := c.bufs[len(c.bufs)-1]
		k := copy((*last)[len(*last):cap(*last)], p)
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
		for i, size := range chunkSizes {
			if cap(*b) == size {
				chunkPools[i].Put(b)
			}
		}
	}
	c.bufs, c.n, c.capacity = nil, 0, 0
}
