package connector

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"
)

// errorLine is one line of the error output (like Firehose's error output
// prefix): where the record came from, why it was rejected, and the record
// itself. Key and value are text when they are UTF-8 and base64 otherwise:
// JSON encoding would replace invalid bytes with U+FFFD and lose them.
type errorLine struct {
	Topic       string `json:"topic"`
	Partition   int32  `json:"partition"`
	Offset      int64  `json:"offset"`
	Timestamp   string `json:"timestamp"`
	Reason      string `json:"reason"`
	Key         string `json:"key,omitempty"`
	KeyBase64   string `json:"key_base64,omitempty"`
	Value       string `json:"value,omitempty"`
	ValueBase64 string `json:"value_base64,omitempty"`
}

func errorRecord(r *kgo.Record, reason string) []byte {
	l := errorLine{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset,
		Timestamp: r.Timestamp.UTC().Format(time.RFC3339Nano), Reason: reason}
	l.Key, l.KeyBase64 = textOrBase64(r.Key)
	l.Value, l.ValueBase64 = textOrBase64(r.Value)
	b, _ := json.Marshal(l)
	return b
}

// textOrBase64 returns b as text when it is valid UTF-8, else as base64, so
// that the bytes survive JSON encoding exactly.
func textOrBase64(b []byte) (text, b64 string) {
	if utf8.Valid(b) {
		return string(b), ""
	}
	return "", base64.StdEncoding.EncodeToString(b)
}

// rawLine is a source record for the raw backup: the value as is, one per
// line. A value spread over several lines is compacted when it is JSON and
// quoted as a JSON string otherwise, so that every line is one record.
func rawLine(v []byte) []byte {
	if bytes.IndexAny(v, "\r\n") < 0 {
		return v
	}
	var b bytes.Buffer
	if json.Compact(&b, v) == nil {
		return b.Bytes()
	}
	q, _ := json.Marshal(string(v))
	return q
}
