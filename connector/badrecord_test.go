package connector

import (
	"context"
	"encoding/base64"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// A bad record's key is kept byte for byte in its error line: as text when
// it is UTF-8, as key_base64 otherwise (JSON encoding would replace the
// invalid bytes with U+FFFD and lose the key).
func TestErrorLineKeepsKeyBytes(t *testing.T) {
	b := startBroker(t, 1, "clickstream")
	keys := map[string][]byte{"utf8": []byte("user-35 ü"), "binary": {0xff, 0xfe, 'k', 0x80}}
	cl := newProducer(t, b.Addrs())
	defer cl.Close()
	for name, k := range keys {
		r := &kgo.Record{Key: k, Value: []byte(`not json ` + name)}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	dir := t.TempDir()
	stats := &Stats{}
	stop := runSink(t, Config{Kafka: kafkaCfg(b), Group: "g", To: "file://" + dir, Tables: clickTable(t), Stats: stats})
	waitFor(t, "both records consumed", 30*time.Second, func() bool { return stats.Consumed("clickstream") == 2 })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	errs := readNDJSON(t, dir, "errors/clickstream")
	if len(errs) != 2 {
		t.Fatalf("%d error lines, want 2: %v", len(errs), errs)
	}
	for _, e := range errs {
		name := e["value"].(string)[len("not json "):]
		want := keys[name]
		got, text := e["key"].(string)
		if b64, ok := e["key_base64"].(string); ok {
			if text {
				t.Errorf("%s: both key and key_base64: %v", name, e)
			}
			dec, err := base64.StdEncoding.DecodeString(b64)
			if err != nil {
				t.Fatalf("%s: key_base64: %v", name, err)
			}
			got = string(dec)
		}
		if got != string(want) {
			t.Errorf("%s: key %q, want %q (line %v)", name, got, want, e)
		}
	}
}
