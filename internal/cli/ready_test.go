package cli

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker"
)

func status(url string) int {
	resp, err := http.Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// A worker's /readyz follows whether its brokers answer: what a Kubernetes
// readiness probe needs.
func TestReadyzFollowsTheBroker(t *testing.T) {
	b, err := broker.Start(broker.Config{Listen: "127.0.0.1:0", Topics: []string{"clickstream", "beer_clicks"}})
	if err != nil {
		t.Fatal(err)
	}
	metrics := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		root := NewRoot(&bytes.Buffer{}, &bytes.Buffer{})
		root.SetArgs([]string{"process", "--brokers", b.Addrs()[0], "--rules", "../../rules", "--metrics-addr", metrics, "--log-level", "error"})
		if err := root.ExecuteContext(ctx); err != nil {
			done <- 1
			return
		}
		done <- 0
	}()
	defer func() { cancel(); <-done }()

	wait := func(want int) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for status("http://"+metrics+"/readyz") != want {
			if time.Now().After(deadline) {
				t.Fatalf("/readyz never answered %d", want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	wait(http.StatusOK)
	if code := status("http://" + metrics + "/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz: %d", code)
	}
	b.Close()
	wait(http.StatusServiceUnavailable)
}
