package connector

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"
)

// Object names are a pure function of what the object holds: table, folder
// (time bucket and optional column value), topic, partition and the offset
// of its first record. A retry or a replay after a crash rewrites the same
// name instead of adding a duplicate (see flush.go for why that converges).

// hourKey identifies one year/month/day/hour folder in the sink's zone.
type hourKey int64

func hourOf(t time.Time, loc *time.Location) hourKey {
	t = t.In(loc)
	y, m, d := t.Date()
	return hourKey(int64(y)*1_000_000 + int64(m)*10_000 + int64(d)*100 + int64(t.Hour()))
}

func (h hourKey) path() string {
	v := int64(h)
	if v < 0 {
		v = 0
	}
	return fmt.Sprintf("year=%04d/month=%02d/day=%02d/hour=%02d",
		v/1_000_000, v/10_000%100, v/100%100, v%100)
}

// maxPartValue bounds one escaped partition value so that no value can make
// an overlong key (S3 keys are limited to 1024 bytes).
const maxPartValue = 100

// nullPartition is Hive's folder value for a NULL or empty partition value.
const nullPartition = "__HIVE_DEFAULT_PARTITION__"

// partValue turns a column value into one safe path segment. Letters,
// digits, '_', '-' and '.' are kept; every other byte (including '/', '\',
// control characters, '%', '=' and non-ASCII) is percent-escaped the way
// Hive escapes partition values; a value made only of dots is escaped as a
// whole, so ".." can never name a parent folder. Overlong values are cut
// and suffixed with a hash of the full value so distinct values stay apart.
func partValue(v string) string {
	if v == "" {
		return nullPartition
	}
	var b strings.Builder
	allDots := strings.Trim(v, ".") == ""
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
			b.WriteByte(c)
		case c == '.' && !allDots:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	s := b.String()
	if len(s) > maxPartValue {
		h := fnv.New64a()
		h.Write([]byte(v))
		s = s[:maxPartValue-17]
		// Do not cut an escape sequence in half.
		if i := strings.LastIndexByte(s, '%'); i >= len(s)-2 {
			s = s[:i]
		}
		s += "~" + strconv.FormatUint(h.Sum64(), 16)
	}
	return s
}

// fileKind is what an open file holds.
type fileKind uint8

const (
	kindParquet fileKind = iota
	kindErrors
	kindRaw
)

func (k fileKind) String() string {
	switch k {
	case kindErrors:
		return "errors"
	case kindRaw:
		return "raw"
	}
	return "parquet"
}

// folderKey identifies one open file of a partition batch.
type folderKey struct {
	kind fileKind
	hour hourKey
	part string // escaped extra partition value, or ""
}

// objectKey is the full key of an object under the store's prefix.
func objectKey(table string, fk folderKey, partCol, topic string, partition int32, first int64, ext string) string {
	var b strings.Builder
	switch fk.kind {
	case kindErrors:
		b.WriteString("errors/")
	case kindRaw:
		b.WriteString("raw/")
	}
	b.WriteString(table)
	b.WriteByte('/')
	b.WriteString(fk.hour.path())
	if partCol != "" && fk.kind == kindParquet {
		b.WriteByte('/')
		b.WriteString(partCol)
		b.WriteByte('=')
		b.WriteString(fk.part)
	}
	fmt.Fprintf(&b, "/%s+%d+%020d.%s", topic, partition, first, ext)
	return b.String()
}
