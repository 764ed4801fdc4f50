package producer

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Shutdown lets a request that is being read finish (and be acknowledged)
// before the collector stops; it does not take new ones.
func TestCollectGracefulDrain(t *testing.T) {
	_, k := startBroker(t, "", "clickstream")
	c := startCollector(t, k, nil)
	body := clickJSON("drained")
	conn, err := net.Dial("tcp", c.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body[:10])
	time.Sleep(100 * time.Millisecond) // the handler is now reading the body
	stopped := make(chan error, 1)
	go func() { stopped <- c.Shutdown() }()
	time.Sleep(100 * time.Millisecond)
	if resp, err := http.Get("http://" + c.Addr() + "/healthz"); err == nil {
		resp.Body.Close()
		t.Fatal("a new connection was accepted while draining")
	}
	fmt.Fprint(conn, body[10:])
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.Contains(line, " 202 ") {
		t.Fatalf("in-flight request: %q %v", line, err)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	recs := readAll(t, k, "clickstream", 1, 30*time.Second) // returns at the first record; 5 s once ran out under make test's load
	if len(recs) != 1 || !strings.Contains(string(recs[0].Value), `"drained"`) {
		t.Fatalf("topic holds %d records", len(recs))
	}
}
