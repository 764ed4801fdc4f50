package producer

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	json "github.com/goccy/go-json"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice/internal/kclient"
)

func startCollector(t testing.TB, k kclient.Config, mod func(*CollectConfig)) *Collector {
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg := CollectConfig{Kafka: k, Schema: mustSchema(t, "clickstream"), Listen: "127.0.0.1:0", Reg: reg,
		AckTimeout: 3 * time.Second, ReadTimeout: 2 * time.Second, DrainTimeout: 5 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	c, err := NewCollector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Shutdown() })
	return c
}

func clickJSON(id string) string {
	return fmt.Sprintf(`{"timestamp":"2024-04-23 10:00:00.123456","user_id":"7","pixel_id":"abc","click_id":%q,`+
		`"event_name":"Search","user_ip":"1.2.3.4","additional_data":{"time_on_data":5,"percent_viewed":10.5,"product_id":123456,"price":9.99}}`, id)
}

type answer struct {
	code int
	hdr  http.Header
	body Response
}

func post(t testing.TB, url, ctype string, body []byte, hdr map[string]string) answer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/events", bytes.NewReader(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r Response
	raw, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(raw, &r)
	return answer{resp.StatusCode, resp.Header, r}
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, _ = w.Write(b)
	_ = w.Close()
	return buf.Bytes()
}

func TestCollectStatusCodes(t *testing.T) {
	_, k := startBroker(t, "", "clickstream")
	c := startCollector(t, k, func(cfg *CollectConfig) {
		cfg.MaxBody = 64 << 10
		cfg.MaxEventBytes = 4 << 10
		cfg.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	url := "http://" + c.Addr()
	ndjson := []byte(clickJSON("n1") + "\n\n" + clickJSON("n2") + "\n")
	bomb := gz(bytes.Repeat([]byte(" "), 1<<20)) // 1 MiB of spaces, ~1 KiB gzipped
	bad := strings.Replace(clickJSON("b1"), "Search", "Browse", 1)
	for _, tc := range []struct {
		name     string
		ctype    string
		body     []byte
		hdr      map[string]string
		code     int
		accepted int
		rejected []int
	}{
		{"object", "application/json", []byte(clickJSON("o1")), nil, 202, 1, nil},
		{"array", "application/json", []byte("[" + clickJSON("a1") + "," + clickJSON("a2") + "]"), nil, 202, 2, nil},
		{"ndjson", "application/x-ndjson", ndjson, nil, 202, 2, nil},
		{"gzip ndjson", "application/x-ndjson", gz(ndjson), map[string]string{"Content-Encoding": "gzip"}, 202, 2, nil},
		{"missing fields filled by the server", "application/json", []byte(`{"timestamp":"2024-04-23 10:00:00.1","user_id":"1","pixel_id":"p","click_id":"srv","event_name":"Purchase","additional_data":{}}`), nil, 202, 1, nil},
		{"partial", "application/json", []byte("[" + clickJSON("p1") + "," + bad + "," + clickJSON("p2") + `,{"nope":1}]`), nil, 207, 2, []int{1, 3}},
		{"all invalid", "application/x-ndjson", []byte(bad + "\nnot json\n"), nil, 400, 0, []int{0, 1}},
		{"malformed array", "application/json", []byte("[" + clickJSON("m1") + ","), nil, 400, 0, nil},
		{"empty", "application/json", []byte("  "), nil, 400, 0, nil},
		{"too large", "application/json", bytes.Repeat([]byte("x"), 65<<10), nil, 413, 0, nil},
		{"gzip bomb", "application/json", bomb, map[string]string{"Content-Encoding": "gzip"}, 413, 0, nil},
		{"event too large", "application/x-ndjson", []byte(clickJSON("ok") + "\n" + strings.Replace(clickJSON("big"), "abc", strings.Repeat("a", 5000), 1)), nil, 413, 0, nil},
		{"media type", "text/csv", []byte("a,b"), nil, 415, 0, nil},
		{"encoding", "application/json", []byte("{}"), map[string]string{"Content-Encoding": "br"}, 415, 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := post(t, url, tc.ctype, tc.body, tc.hdr)
			if a.code != tc.code || a.body.Accepted != tc.accepted || len(a.body.Rejected) != len(tc.rejected) {
				t.Fatalf("got %d %+v, want %d accepted %d rejected %v", a.code, a.body, tc.code, tc.accepted, tc.rejected)
			}
			for i, r := range a.body.Rejected {
				if r.Index != tc.rejected[i] || r.Reason == "" {
					t.Fatalf("rejected %+v, want indexes %v", a.body.Rejected, tc.rejected)
				}
			}
		})
	}
	resp, err := http.Get(url + "/v1/events")
	if err != nil || resp.StatusCode != 405 {
		t.Fatalf("GET: %v %v", resp.StatusCode, err)
	}
	// Server-side fields: the insertion time is the server's, and the client
	// address comes from X-Forwarded-For since 127.0.0.1 is a trusted proxy.
	a := post(t, url, "application/json", []byte(clickJSON("xff")), map[string]string{"X-Forwarded-For": "198.51.100.9, 203.0.113.5"})
	if a.code != 202 {
		t.Fatalf("xff: %d", a.code)
	}
	recs := readAll(t, k, "clickstream", 11, 10*time.Second)
	var seen []string
	for _, r := range recs {
		var e clickEvent
		if err := json.Unmarshal(r.Value, &e); err != nil {
			t.Fatal(err)
		}
		if string(r.Key) != e.UserID || bytes.Count(r.Value, []byte(`"user_ip"`)) != 1 {
			t.Fatalf("record %s key %q", r.Value, r.Key)
		}
		ins, err := time.Parse("2006-01-02 15:04:05.999999", e.Insertion)
		if err != nil || time.Since(ins) > time.Minute || time.Since(ins) < 0 {
			t.Fatalf("insertion_timestamp %q is not the server's time", e.Insertion)
		}
		wantIP := "127.0.0.1"
		if e.ClickID == "xff" {
			wantIP = "203.0.113.5"
		}
		if e.UserIP != wantIP {
			t.Fatalf("click %s: user_ip %s, want %s", e.ClickID, e.UserIP, wantIP)
		}
		seen = append(seen, e.ClickID)
	}
	if len(seen) != 11 {
		t.Fatalf("topic holds %v, want the 11 accepted events", seen)
	}
	dead := readAll(t, k, "clickstream.deadletter", 4, 10*time.Second)
	if len(dead) != 4 {
		t.Fatalf("dead-letter topic holds %d records, want 4", len(dead))
	}
}

func TestCollectWriteKeys(t *testing.T) {
	_, k := startBroker(t, "", "clickstream")
	c := startCollector(t, k, func(cfg *CollectConfig) { cfg.WriteKeys = []string{"k-one", "k-two"} })
	url := "http://" + c.Addr()
	body := []byte(clickJSON("w"))
	for _, tc := range []struct {
		hdr  map[string]string
		code int
	}{
		{nil, 401},
		{map[string]string{"Authorization": "Bearer nope"}, 401},
		{map[string]string{"X-Write-Key": "k-one-and-more"}, 401},
		{map[string]string{"Authorization": "Bearer k-two"}, 202},
		{map[string]string{"X-Write-Key": "k-one"}, 202},
	} {
		if a := post(t, url, "application/json", body, tc.hdr); a.code != tc.code {
			t.Fatalf("%v: %d, want %d", tc.hdr, a.code, tc.code)
		}
	}
}

func TestCollectUnavailable(t *testing.T) {
	b, k := startBroker(t, "", "clickstream")
	c := startCollector(t, k, func(cfg *CollectConfig) {
		cfg.MaxBody = 1 << 20
		cfg.MaxInFlightBytes = 1 << 20
		cfg.AckTimeout = time.Second
		cfg.DrainTimeout = time.Second
	})
	url := "http://" + c.Addr()
	if resp, err := http.Get(url + "/readyz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz: %v %v", resp.StatusCode, err)
	}
	// A slow client holds the whole in-flight budget: the next request gets 503.
	conn, err := net.Dial("tcp", c.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{", 1<<20)
	time.Sleep(200 * time.Millisecond)
	a := post(t, url, "application/json", []byte(clickJSON("busy")), nil)
	if a.code != 503 || a.hdr.Get("Retry-After") == "" {
		t.Fatalf("budget spent: %d %v", a.code, a.hdr)
	}
	conn.Close()
	time.Sleep(100 * time.Millisecond)
	if a := post(t, url, "application/json", []byte(clickJSON("ok")), nil); a.code != 202 {
		t.Fatalf("after the slow client left: %d %+v", a.code, a.body)
	}
	// Broker gone: 503 with Retry-After, and /readyz says so.
	b.Close()
	a = post(t, url, "application/json", []byte(clickJSON("down")), nil)
	if a.code != 503 || a.hdr.Get("Retry-After") == "" {
		t.Fatalf("broker down: %d %+v", a.code, a.body)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get(url + "/readyz")
		if err == nil && resp.StatusCode == 503 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("readyz still ok with the broker down")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if resp, err := http.Get(url + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatal("healthz must stay ok")
	}
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	if !bytes.Contains(m, []byte(`sluice_collect_requests_total{code="503"}`)) {
		t.Fatalf("metrics lack the 503 count:\n%s", m)
	}
}

// Content codings are case-insensitive (RFC 9110 8.4.1) and x-gzip is gzip
// (8.4.1.3).
func TestCollectContentEncodingNames(t *testing.T) {
	_, k := startBroker(t, "", "clickstream")
	c := startCollector(t, k, nil)
	url := "http://" + c.Addr()
	plain := []byte(clickJSON("enc"))
	for _, tc := range []struct {
		enc  string
		body []byte
		code int
	}{
		{"gzip", gz(plain), 202},
		{"GZIP", gz(plain), 202},
		{"x-gzip", gz(plain), 202},
		{"X-Gzip", gz(plain), 202},
		{"Identity", plain, 202},
		{"deflate", plain, 415},
	} {
		t.Run(tc.enc, func(t *testing.T) {
			a := post(t, url, "application/json", tc.body, map[string]string{"Content-Encoding": tc.enc})
			if a.code != tc.code {
				t.Fatalf("Content-Encoding %s: got %d %+v, want %d", tc.enc, a.code, a.body, tc.code)
			}
		})
	}
}
