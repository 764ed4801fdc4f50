package producer

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	json "github.com/goccy/go-json"
)

// bodyKind: NDJSON (true) or a JSON object/array (false).
func bodyKind(contentType string) (bool, error) {
	if contentType == "" {
		return false, nil
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false, fmt.Errorf("Content-Type %q: %w", contentType, err)
	}
	switch mt {
	case "application/json", "text/plain":
		return false, nil
	case "application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines", "application/jsonlines":
		return true, nil
	}
	return false, fmt.Errorf("Content-Type %q: want application/json (an object or an array) or application/x-ndjson", mt)
}

// isGzip says whether a Content-Encoding means gzip. Codings are
// case-insensitive (RFC 9110 8.4.1) and x-gzip is gzip (8.4.1.3).
func isGzip(coding string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(coding)) {
	case "", "identity":
		return false, nil
	case "gzip", "x-gzip":
		return true, nil
	}
	return false, fmt.Errorf("Content-Encoding %q: want gzip or identity", coding)
}

func (c *Collector) readBody(w http.ResponseWriter, r *http.Request, gz bool) ([]byte, int, error) {
	var in io.Reader = http.MaxBytesReader(w, r.Body, c.cfg.MaxBody)
	if gz {
		zr, err := gzip.NewReader(in)
		if err != nil {
			return nil, readErrCode(err), fmt.Errorf("reading gzip body: %w", err)
		}
		in = zr
	}
	// The limit applies after decompression too (a small gzip bomb).
	// Size the buffer once from Content-Length instead of growing it by
	// doubling (that copying was 8% of the collector's CPU).
	size := int64(64 << 10)
	if r.ContentLength > 0 && !gz {
		size = r.ContentLength + 1
	}
	body, err := readInto(make([]byte, 0, min(size, c.cfg.MaxBody+1)), io.LimitReader(in, c.cfg.MaxBody+1))
	if err != nil {
		return nil, readErrCode(err), fmt.Errorf("reading body: %w", err)
	}
	if int64(len(body)) > c.cfg.MaxBody {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("body is over the %d-byte limit after decompression", c.cfg.MaxBody)
	}
	return body, 0, nil
}

func readErrCode(err error) int {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge
	}
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		return http.StatusRequestTimeout
	}
	return http.StatusBadRequest
}

// splitEvents returns the events of a body: NDJSON lines, the elements of
// a JSON array, or one JSON object.
func splitEvents(body []byte, ndjson bool) ([][]byte, error) {
	if ndjson {
		var out [][]byte
		for line := range bytes.SplitSeq(body, []byte("\n")) {
			if line = bytes.TrimSpace(line); len(line) > 0 {
				out = append(out, line)
			}
		}
		return out, nil
	}
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, nil
	}
	switch trimmed[0] {
	case '{':
		return [][]byte{trimmed}, nil
	case '[':
		var raw []json.RawMessage
		if err := json.Unmarshal(trimmed, &raw); err != nil {
			return nil, fmt.Errorf("body is not a valid JSON array: %v", err)
		}
		out := make([][]byte, len(raw))
		for i := range raw {
			out[i] = raw[i]
		}
		return out, nil
	}
	return nil, fmt.Errorf("body is neither a JSON object nor an array (use Content-Type: application/x-ndjson for NDJSON)")
}

// readInto reads r to the end into buf, growing it only when it is full.
func readInto(buf []byte, r io.Reader) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}
