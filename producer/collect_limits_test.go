package producer

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Slow and endless bodies cannot make the collector hold more than its
// budget: slow clients are cut off by the read timeout, endless ones by
// --max-body, and the rest are turned away with 503 while the budget is
// spent. The heap is sampled all along.
func TestCollectSlowAndEndlessClients(t *testing.T) {
	_, k := startBroker(t, "", "clickstream")
	c := startCollector(t, k, func(cfg *CollectConfig) {
		cfg.MaxBody = 1 << 20
		cfg.MaxInFlightBytes = 4 << 20
		cfg.ReadTimeout = time.Second
	})
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	done := make(chan struct{})
	go func() {
		var ms runtime.MemStats
		for {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
		}
	}()

	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		codes = map[string]int{}
	)
	note := func(s string) { mu.Lock(); codes[s]++; mu.Unlock() }
	// status reads the answer, if any, to a raw request.
	status := func(conn net.Conn) string {
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := bufio.NewReader(conn).ReadString('\n')
		if err != nil {
			return "closed"
		}
		return strings.Fields(line)[1]
	}
	start := time.Now()
	for i := range 63 {
		if i == 3 {
			// The first three (endless, 3 MiB of a 4 MiB budget) are
			// answered 413 before the crowd arrives.
			wg.Wait()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", c.Addr())
			if err != nil {
				note("dial error")
				return
			}
			defer conn.Close()
			fmt.Fprint(conn, "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
			if i%3 == 0 || i < 3 {
				// Endless and fast: 64 KiB chunks until the server stops reading.
				chunk := fmt.Sprintf("%x\r\n%s\r\n", 64<<10, strings.Repeat(" ", 64<<10))
				go func() {
					for {
						_ = conn.SetWriteDeadline(time.Now().Add(3 * time.Second))
						if _, err := fmt.Fprint(conn, chunk); err != nil {
							return
						}
					}
				}()
			} else {
				// Slow: one byte every 100ms, forever.
				go func() {
					for {
						if _, err := fmt.Fprint(conn, "1\r\n \r\n"); err != nil {
							return
						}
						time.Sleep(100 * time.Millisecond)
					}
				}()
			}
			note(status(conn))
		}()
	}
	wg.Wait()
	close(done)
	el := time.Since(start)
	t.Logf("answers: %v in %s; heap in use %d MB at start, peak %d MB", codes, el, base>>20, peak.Load()>>20)
	if codes["503"] == 0 || codes["413"] < 3 {
		t.Fatalf("want some 503 (budget spent) and 413 (endless bodies): %v", codes)
	}
	for code := range codes {
		if code != "503" && code != "413" && code != "408" && code != "400" && code != "closed" {
			t.Fatalf("unexpected answer %s: %v", code, codes)
		}
	}
	if el > 5*time.Second {
		t.Fatalf("slow clients were not cut off by the 1s read timeout: %s", el)
	}
	if peak.Load() > base+48<<20 {
		t.Fatalf("heap grew from %d MB to %d MB with a 4 MiB in-flight budget", base>>20, peak.Load()>>20)
	}
	// And the collector still serves.
	if a := post(t, "http://"+c.Addr(), "application/json", []byte(clickJSON("after")), nil); a.code != http.StatusAccepted {
		t.Fatalf("after the attack: %d %+v", a.code, a.body)
	}
}
