package producer

import (
	"bytes"
	"time"

	json "github.com/goccy/go-json"

	"github.com/sluicehq/sluice/schema"
)

// serverFields are the columns the collector fills itself: the insertion
// time (columns with gen kind insertion_time) and the client address
// (gen kind user_ip). They overwrite what the client sent.
type serverFields struct {
	insertion []*schema.Column
	clientIP  []string
}

func findServerFields(s *schema.Schema) serverFields {
	var f serverFields
	for i := range s.Columns {
		col := &s.Columns[i]
		if col.Gen == nil {
			continue
		}
		switch {
		case col.Gen.Kind == KindInsertionTime && col.Type == schema.Timestamp:
			f.insertion = append(f.insertion, col)
		case col.Gen.Kind == KindUserIP && col.Type == schema.String:
			f.clientIP = append(f.clientIP, col.Name)
		}
	}
	return f
}

// suffix is the JSON members appended to each event ("...,"k":"v"}"); JSON
// decoders keep the last of duplicate names, and the record is re-encoded
// before it is produced, so the value has each name once.
func (f serverFields) suffix(now time.Time, ip string) []byte {
	if len(f.insertion) == 0 && len(f.clientIP) == 0 {
		return nil
	}
	var b []byte
	for _, col := range f.insertion {
		b = append(b, ',')
		b, _ = appendJSONString(b, col.Name)
		b = append(b, ':')
		b, _ = appendJSONString(b, col.FormatTime(now))
	}
	for _, name := range f.clientIP {
		b = append(b, ',')
		b, _ = appendJSONString(b, name)
		b = append(b, ':')
		b, _ = appendJSONString(b, ip)
	}
	return b
}

func appendJSONString(dst []byte, s string) ([]byte, error) {
	q, err := json.Marshal(s)
	return append(dst, q...), err
}

// withSuffix appends ev to dst with suffix's members added before its
// closing brace.
func withSuffix(dst, ev, suffix []byte) []byte {
	if len(suffix) == 0 || len(ev) < 2 || ev[len(ev)-1] != '}' {
		return append(dst, ev...)
	}
	body := ev[:len(ev)-1]
	dst = append(dst, body...)
	if len(bytes.TrimSpace(body[1:])) == 0 {
		suffix = suffix[1:] // empty object: no leading comma
	}
	dst = append(dst, suffix...)
	return append(dst, '}')
}
