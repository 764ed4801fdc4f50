package kclient

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestConfigNeverPrintsThePassword(t *testing.T) {
	c := Config{Brokers: []string{"b:9096"}, SASLMechanism: "scram-sha-512", SASLUsername: "svc", SASLPassword: "hunter2-" + t.Name()}
	var logs bytes.Buffer
	l := slog.New(slog.NewJSONHandler(&logs, nil))
	l.Info("connecting", "kafka", c)
	l.Info("connecting", "kafka", &c)
	outs := []string{logs.String(), fmt.Sprintf("%v %+v %#v %s", c, c, c, c), fmt.Sprintf("%v %+v", &c, &c)}
	for _, out := range outs {
		if strings.Contains(out, c.SASLPassword) {
			t.Fatalf("password printed: %s", out)
		}
		if !strings.Contains(out, "svc") || !strings.Contains(out, redacted) {
			t.Fatalf("user and redaction marker expected: %s", out)
		}
	}
}
