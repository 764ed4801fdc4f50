package rule

import (
	"bytes"
	"encoding/binary"
	"errors"

	"github.com/axiomhq/hyperloglog"
)

// Binary form of a bucket in the changelog (hand-rolled: it is written for
// every changed window and group in every transaction, so it must be cheap).
//
//	version 2 | start varint | end varint | group values | per aggregate:
//	n, sumI varint | float sum (fsum.appendState) | flags | [min, max
//	values] | [distinct count, hashes 8 bytes each] | [hll length, hll
//	bytes]
//
// Version 1 held the float sum as one float64. Its entries are not read
// back: the format's version is also part of every window rule's Hash
// (fingerprint in compile.go), which keys its changelog entries and
// partials, so after an upgrade the old entries are ignored and the rule
// starts empty, as after an edit. The version byte here only guards
// against misreading an entry should one get through anyway.

const stateVersion = 2

var errBadState = errors.New("malformed state entry")

func appendVal(b []byte, v value) []byte {
	if v.null {
		return append(b, 0)
	}
	switch v.kind {
	case kString:
		b = append(b, 1)
		b = binary.AppendUvarint(b, uint64(len(v.s)))
		return append(b, v.s...)
	case kFloat:
		return binary.LittleEndian.AppendUint64(append(b, 1), uint64(v.i))
	case kBool:
		if v.b {
			return append(b, 1, 1)
		}
		return append(b, 1, 0)
	default: // int, timestamp (Unix nanoseconds)
		return binary.AppendVarint(append(b, 1), v.i)
	}
}

type stateReader struct {
	b   []byte
	err error
}

func (r *stateReader) byte() byte {
	if r.err != nil || len(r.b) < 1 {
		r.err = errBadState
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *stateReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errBadState
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *stateReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errBadState
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *stateReader) bytes(n uint64) []byte {
	if r.err != nil || uint64(len(r.b)) < n {
		r.err = errBadState
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *stateReader) u64() uint64 {
	b := r.bytes(8)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint64(b)
}

// fsum reads a float sum: nil when empty (the aggregate is not a float sum).
// fsum reads a float sum into s (a new one when s is nil).
func (r *stateReader) fsum(s *fsum) *fsum {
	if r.err != nil {
		return nil
	}
	if len(r.b) > 0 && r.b[0] == 0 {
		r.b = r.b[1:]
		return nil
	}
	if s == nil {
		s = &fsum{}
	} else {
		*s = fsum{}
	}
	r.b, r.err = s.decodeState(r.b)
	return s
}

func (r *stateReader) val(k vkind) value {
	if r.byte() == 0 {
		return value{kind: k, null: true}
	}
	v := value{kind: k}
	switch k {
	case kString:
		v.s = string(r.bytes(r.uvarint()))
	case kFloat:
		v.i = int64(r.u64())
	case kBool:
		v.b = r.byte() == 1
	default: // int, timestamp
		v.i = r.varint()
	}
	return v
}

func (w *Windows) encodeBucket(b *bucket) []byte {
	return w.appendBucket(make([]byte, 0, 32+16*len(b.group)+24*len(b.aggs)), b)
}

func (w *Windows) appendBucket(out []byte, b *bucket) []byte {
	out = append(out, stateVersion)
	out = binary.AppendVarint(out, b.start)
	out = binary.AppendVarint(out, b.end)
	for _, g := range b.group {
		out = appendVal(out, g)
	}
	for i := range b.aggs {
		st := &b.aggs[i]
		out = binary.AppendVarint(out, st.n)
		out = binary.AppendVarint(out, st.sumI)
		out = st.sumF.appendState(out)
		var flags byte
		if st.mm != nil {
			flags |= 1
		}
		if st.exact != nil {
			flags |= 2
		}
		if st.hll != nil {
			flags |= 4
		}
		out = append(out, flags)
		if st.mm != nil {
			out = appendVal(out, st.mm.min)
			out = appendVal(out, st.mm.max)
		}
		if st.exact != nil {
			out = binary.AppendUvarint(out, uint64(st.exact.len()))
			st.exact.each(func(h uint64) { out = binary.LittleEndian.AppendUint64(out, h) })
		}
		if st.hll != nil {
			h, _ := st.hll.MarshalBinary()
			out = binary.AppendUvarint(out, uint64(len(h)))
			out = append(out, h...)
		}
	}
	return out
}

func (w *Windows) decodeBucket(data []byte) (*bucket, error) {
	b := &bucket{}
	gk, err := w.decodeInto(b, data, nil)
	if err != nil {
		return nil, err
	}
	b.gkey = string(gk)
	return b, nil
}

// decodeInto decodes an encoded bucket into b, except its gkey: the group
// key is appended to gk and returned. It reuses what b holds (group values,
// count_distinct sets, sums), so that a combiner can decode every partial
// it merges into one scratch bucket instead of allocating each.
func (w *Windows) decodeInto(b *bucket, data []byte, gk []byte) ([]byte, error) {
	r := &stateReader{b: data}
	if r.byte() != stateVersion {
		return gk, errBadState
	}
	b.start, b.end = r.varint(), r.varint()
	b.group = b.group[:0]
	for i := range w.r.groups {
		v := r.val(kindOf(w.r.groups[i].typ))
		b.group = append(b.group, v)
		gk = v.appendKey(gk)
	}
	if len(b.aggs) != len(w.r.aggs) {
		b.aggs = make([]aggState, len(w.r.aggs))
	}
	for i := range w.r.aggs {
		a := &w.r.aggs[i]
		st := &b.aggs[i]
		sum, mm, exact := st.sumF, st.mm, st.exact
		*st = aggState{n: r.varint(), sumI: r.varint()}
		st.sumF = r.fsum(sum)
		flags := r.byte()
		if flags&1 != 0 {
			k := a.typ
			if a.arg != nil {
				k = a.arg.typ
			}
			if mm == nil {
				mm = &minMax{}
			}
			mm.min, mm.max = r.val(kindOf(k)), r.val(kindOf(k))
			st.mm = mm
		}
		if flags&2 != 0 {
			n := r.uvarint()
			if n > uint64(len(r.b))/8 {
				return gk, errBadState
			}
			if exact == nil {
				exact = newHashSet(int(n))
			} else {
				exact.reset(int(n))
			}
			st.exact = exact
			for j := uint64(0); j < n; j++ {
				st.exact.add(r.u64())
			}
		}
		if flags&4 != 0 {
			st.hll = hyperloglog.New14()
			// A copy: the input may be a pooled buffer reused after the transaction.
			if err := st.hll.UnmarshalBinary(bytes.Clone(r.bytes(r.uvarint()))); r.err == nil && err != nil {
				return gk, err
			}
		}
	}
	if r.err != nil || len(r.b) != 0 {
		return gk, errBadState
	}
	return gk, nil
}
