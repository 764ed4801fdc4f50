package connector

import (
	"compress/gzip"
	"fmt"

	"github.com/klauspost/compress/s2"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	pqgzip "github.com/parquet-go/parquet-go/compress/gzip"
	"github.com/parquet-go/parquet-go/compress/snappy"
	"github.com/parquet-go/parquet-go/compress/uncompressed"
	"github.com/parquet-go/parquet-go/compress/zstd"
)

// codecs are the --compression choices with their file-name infix.
var codecs = map[string]struct {
	codec compress.Codec
	ext   string
}{
	"snappy": {&fastSnappy{}, "snappy.parquet"},
	"zstd":   {&zstd.Codec{}, "zstd.parquet"},
	"gzip":   {&pqgzip.Codec{}, "gz.parquet"},
	"none":   {&uncompressed.Codec{}, "parquet"},
}

// openFile is one object being built in memory: a Parquet file or a gzip
// NDJSON file (errors, raw backup). It is written to the store whole.
type openFile struct {
	key   folderKey
	first int64 // offset of its first record: part of its name
	rows  int64
	buf   *chunks
	pq    *parquet.Writer
	gz    *gzip.Writer
	size  int64 // last estimate of the bytes this file holds in memory
	since int   // rows since size was estimated
	cut   int64 // bytes of a row group before it is flushed
	done  bool  // finished: buf holds the whole object
	base  int64 // fixed memory of the writer (counted in size)

	sch     *parquet.Schema
	rb      *rowBuilder
	pending []parquet.Row // deconstructed rows not yet handed to the writer
	npend   int
}

// batchRows is how many rows are handed to the Parquet writer at once:
// per-call overhead dominates when rows go one by one.
const batchRows = 128

func newParquetFile(fk folderKey, first int64, ts *tableState, codec compress.Codec, rowGroup int64, meta map[string]string) *openFile {
	f := &openFile{key: fk, first: first, cut: rowGroup, buf: &chunks{}, sch: ts.pq, rb: ts.rows, pending: make([]parquet.Row, batchRows)}
	opts := []parquet.WriterOption{ts.pq, parquet.Compression(codec), parquet.CreatedBy("sluice", "", ""),
		parquet.PageBufferSize(ts.pageSize)}
	for k, v := range meta {
		opts = append(opts, parquet.KeyValueMetadata(k, v))
	}
	f.pq = parquet.NewWriter(f.buf, opts...)
	return f
}

func newNDJSONFile(fk folderKey, first int64) *openFile {
	f := &openFile{key: fk, first: first, buf: &chunks{}}
	f.gz, _ = gzip.NewWriterLevel(f.buf, gzip.BestSpeed)
	return f
}

// sizeEvery is how many rows pass between size estimates (Writer.Size sums
// every column buffer, too costly per row).
const sizeEvery = 256

// writeRow adds one record to a Parquet file and returns the growth of its
// size estimate.
func (f *openFile) writeRow(rec any, approx int) (int64, error) {
	// The row's values point into rec's strings, which stay valid: each
	// event's strings are fresh (or alias the record's own bytes).
	if f.rb != nil {
		f.pending[f.npend] = f.rb.build(f.pending[f.npend][:0], rec)
	} else {
		f.pending[f.npend] = f.sch.Deconstruct(f.pending[f.npend][:0], rec)
	}
	if f.npend++; f.npend == len(f.pending) {
		if err := f.writePending(); err != nil {
			return 0, err
		}
	}
	f.rows++
	f.since++
	if f.since < sizeEvery && f.rows > 1 {
		// Between estimates, count the JSON size: an upper bound of what a
		// row adds in memory before compression.
		f.size += int64(approx)
		return int64(approx), nil
	}
	f.since = 0
	if err := f.writePending(); err != nil {
		return 0, err
	}
	old := f.size
	pending := f.pq.Size() - int64(f.buf.Len()) // the row group not yet written out
	if pending >= f.cut {
		if err := f.pq.Flush(); err != nil {
			return 0, fmt.Errorf("cutting row group: %w", err)
		}
		pending = f.pq.Size() - int64(f.buf.Len())
	}
	f.size = f.base + f.buf.capacity + pending
	return f.size - old, nil
}

func (f *openFile) writePending() error {
	if f.npend == 0 {
		return nil
	}
	_, err := f.pq.WriteRows(f.pending[:f.npend])
	f.npend = 0
	if err != nil {
		return fmt.Errorf("writing parquet rows: %w", err)
	}
	return nil
}

// Memory an open Parquet writer holds before any row: a page buffer per
// leaf column, and about as much again for the encoded page. The budget
// counts it, so many open files cannot exceed the budget by their fixed
// cost alone.
func parquetOverhead(leaves, pageSize int) int64 { return int64(leaves) * int64(pageSize) * 2 }

// pageSizeFor picks the page buffer size: parquet-go's 256 KiB unless the
// budget spread over the open-file limit calls for less.
func pageSizeFor(budget int64, maxOpen, leaves int) int {
	per := budget / int64(maxOpen) / int64(2*leaves)
	return int(min(max(per, 16<<10), parquet.DefaultPageBufferSize))
}

// gzipOverhead is what a gzip writer holds (window and tables).
const gzipOverhead = 300 << 10

// writeLine adds one NDJSON line to a gzip file.
func (f *openFile) writeLine(line []byte) (int64, error) {
	f.rows++
	if _, err := f.gz.Write(line); err != nil {
		return 0, err
	}
	if _, err := f.gz.Write([]byte{'\n'}); err != nil {
		return 0, err
	}
	old := f.size
	f.size = f.base + f.buf.capacity
	return f.size - old, nil
}

// finish closes the writer; the object is then f.buf.
func (f *openFile) finish() error {
	if f.done { // a flush retried after a failed write
		return nil
	}
	f.done = true
	if f.pq != nil {
		if err := f.writePending(); err != nil {
			return err
		}
		if err := f.pq.Close(); err != nil {
			return fmt.Errorf("closing parquet file: %w", err)
		}
		return nil
	}
	return f.gz.Close()
}

// release returns the file's memory once the object is written.
func (f *openFile) release() { f.buf.release() }

// fastSnappy is Snappy with klauspost's fastest encoder: the output is
// plain Snappy that every reader decodes; parquet-go's codec uses the
// "better" mode, which costs more CPU for a few percent of size.
type fastSnappy struct{ snappy.Codec }

func (*fastSnappy) Encode(dst, src []byte) ([]byte, error) {
	n := s2.MaxEncodedLen(len(src))
	if n < 0 {
		return nil, fmt.Errorf("snappy: page of %d bytes is too large", len(src))
	}
	if cap(dst) < n {
		dst = make([]byte, n)
	}
	return s2.EncodeSnappy(dst[:n], src), nil
}
