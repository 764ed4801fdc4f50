package telemetry

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestServerEndpoints(t *testing.T) {
	reg := NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "sluice_test_events_total", Help: "test"})
	reg.MustRegister(c)
	c.Add(3)
	var broken atomic.Bool
	s := &Server{Addr: "127.0.0.1:0", Reg: reg, Ready: func(context.Context) error {
		if broken.Load() {
			return errors.New("broker unreachable")
		}
		return nil
	}}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	base := "http://" + s.BoundAddr()

	if code, _ := get(t, base+"/healthz"); code != 200 {
		t.Fatalf("/healthz: %d", code)
	}
	if code, _ := get(t, base+"/readyz"); code != 200 {
		t.Fatalf("/readyz when ready: %d", code)
	}
	broken.Store(true)
	if code, body := get(t, base+"/readyz"); code != 503 || !strings.Contains(body, "broker unreachable") {
		t.Fatalf("/readyz when not ready: %d %q", code, body)
	}
	if code, body := get(t, base+"/metrics"); code != 200 || !strings.Contains(body, "sluice_test_events_total 3") || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("/metrics: %d\n%s", code, body)
	}
}

func TestLogConfigValidate(t *testing.T) {
	for _, c := range []LogConfig{{Format: "xml"}, {Level: "loud"}} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	if err := (LogConfig{Format: "json", Level: "debug"}).Validate(); err != nil {
		t.Fatal(err)
	}
}
