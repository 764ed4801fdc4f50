package connector

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// fakeS3 is an in-process S3 server over real HTTP, with failures to inject.
type fakeS3 struct {
	srv      *httptest.Server
	down     atomic.Bool  // answer every request with 503
	failEach atomic.Int64 // fail every Nth PUT with a 500 (0: never)
	hangEach atomic.Int64 // every Nth PUT hangs past the client's timeout
	slow     atomic.Int64 // nanoseconds added to every PUT
	puts     atomic.Int64
	parts    atomic.Int64 // PUTs of multipart upload parts
	failed   atomic.Int64

	mu      sync.Mutex
	headers []http.Header // of successful PUTs
}

func startS3(t testing.TB, bucket string) *fakeS3 {
	t.Helper()
	backend := s3mem.New()
	if err := backend.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	f := &fakeS3{}
	h := gofakes3.New(backend, gofakes3.WithTimeSkewLimit(0)).Server()
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.down.Load() {
			f.failed.Add(1)
			http.Error(w, "<Error><Code>ServiceUnavailable</Code></Error>", http.StatusServiceUnavailable)
			return
		}
		if r.Method == http.MethodPut {
			if r.URL.Query().Has("partNumber") {
				f.parts.Add(1)
			}
			n := f.puts.Add(1)
			if d := f.slow.Load(); d > 0 {
				time.Sleep(time.Duration(d))
			}
			if e := f.failEach.Load(); e > 0 && n%e == 0 {
				f.failed.Add(1)
				_, _ = io.Copy(io.Discard, r.Body)
				http.Error(w, "<Error><Code>InternalError</Code></Error>", http.StatusInternalServerError)
				return
			}
			if e := f.hangEach.Load(); e > 0 && n%e == 0 {
				f.failed.Add(1)
				select { // hold the request until the client gives up
				case <-r.Context().Done():
				case <-time.After(1500 * time.Millisecond):
				}
				return
			}
			f.mu.Lock()
			f.headers = append(f.headers, r.Header.Clone())
			f.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return f
}

func (f *fakeS3) client() *s3.Client {
	return s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(f.srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
}

// readS3 reads every Parquet object under bucket/prefix with the
// independent reader; it returns them keyed like readLake (without prefix).
func (f *fakeS3) read(t *testing.T, bucket, prefix string) []lakeFile {
	t.Helper()
	ctx := context.Background()
	cl := f.client()
	var out []lakeFile
	p := s3.NewListObjectsV2Paginator(cl, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			key := strings.TrimPrefix(aws.ToString(o.Key), prefix)
			if !strings.HasSuffix(key, ".parquet") {
				continue
			}
			obj, err := cl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			if err != nil {
				t.Fatal(err)
			}
			data, err := io.ReadAll(obj.Body)
			obj.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, readParquet(t, key, data))
		}
	}
	return out
}

func exactlyOnce(t *testing.T, files []lakeFile, n int) {
	t.Helper()
	seen := make([]int, n)
	var rows int64
	for _, f := range files {
		rows += f.rows
		for _, v := range f.cols["click_id"] {
			var idx int
			if _, err := fmtSscanHex(v.(string), &idx); err != nil || idx >= n {
				t.Fatalf("%s: click_id %v", f.key, v)
			}
			seen[idx]++
		}
	}
	bad := 0
	for _, c := range seen {
		if c != 1 {
			bad++
		}
	}
	if rows != int64(n) || bad > 0 {
		t.Fatalf("read back %d rows for %d produced; %d clicks not exactly once", rows, n, bad)
	}
}

// Through the aws-sdk-go-v2 path to an S3 server that fails every 3rd PUT
// with a 500, lets every 7th hang past the timeout and answers slowly: the
// sink retries, and the bucket holds every record exactly once, with the
// storage class and encryption asked for.
func TestSinkToS3WithFailures(t *testing.T) {
	f := startS3(t, "lake")
	f.failEach.Store(3)
	f.hangEach.Store(7)
	f.slow.Store(int64(20 * time.Millisecond))
	b := startBroker(t, 3, "clickstream")
	const n = 6000
	produce(t, b, "clickstream", clickEvents(n, 2*time.Second))
	stats := &Stats{}
	stop := runSink(t, Config{Kafka: kafkaCfg(b), Group: "s3", Tables: clickTable(t), Stats: stats,
		To:           "s3://lake/events/v1?endpoint=" + f.srv.URL + "&use_path_style=true&region=us-east-1&sse=AES256&storage_class=STANDARD_IA",
		FlushRecords: 500, StoreTimeout: 500 * time.Millisecond, RetryBackoff: 50 * time.Millisecond})
	waitFor(t, "the group to commit everything", 90*time.Second, func() bool { return committedAll(t, b, "s3", "clickstream") })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if f.failed.Load() == 0 {
		t.Fatal("no failure was injected")
	}
	files := f.read(t, "lake", "events/v1/")
	for _, lf := range files {
		if !strings.HasPrefix(lf.key, "clickstream/year=2021/month=07/day=12/hour=") {
			t.Fatalf("unexpected key %s", lf.key)
		}
	}
	exactlyOnce(t, files, n)
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, h := range f.headers {
		if h.Get("X-Amz-Storage-Class") != "STANDARD_IA" || h.Get("X-Amz-Server-Side-Encryption") != "AES256" {
			t.Fatalf("PUT without the storage class or encryption: %v", h)
		}
	}
	t.Logf("%d PUTs, %d failed or hung, %d files", f.puts.Load(), f.failed.Load(), len(files))
}

// A long outage pauses consumption: the sink stops polling while it cannot
// write, so what it holds stays bounded; when S3 is back, nothing is lost.
func TestS3OutageBackpressure(t *testing.T) {
	f := startS3(t, "lake")
	b := startBroker(t, 2, "clickstream")
	const n = 40000
	events := clickEvents(n, time.Second)
	stats := &Stats{}
	stop := runSink(t, Config{Kafka: kafkaCfg(b), Group: "outage", Tables: clickTable(t), Stats: stats,
		To:           "s3://lake/p?endpoint=" + f.srv.URL + "&use_path_style=true",
		FlushRecords: 1000, StoreTimeout: time.Second, RetryBackoff: 100 * time.Millisecond})
	produce(t, b, "clickstream", events[:2000])
	waitFor(t, "first files", 20*time.Second, func() bool { return stats.Rows() == 2000 })
	f.down.Store(true)
	produce(t, b, "clickstream", events[2000:])
	time.Sleep(1500 * time.Millisecond)
	held := stats.Consumed("clickstream")
	time.Sleep(1500 * time.Millisecond)
	if again := stats.Consumed("clickstream"); again != held {
		t.Fatalf("kept consuming during the outage: %d then %d records", held, again)
	}
	if held >= n {
		t.Fatalf("consumed all %d records during the outage", held)
	}
	f.down.Store(false)
	waitFor(t, "the group to commit everything", 60*time.Second, func() bool { return committedAll(t, b, "outage", "clickstream") })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	exactlyOnce(t, f.read(t, "lake", "p/"), n)
	t.Logf("held %d of %d records during the outage", held, n)
}

// An object larger than the part size goes up as a multipart upload and
// reads back whole.
func TestS3Multipart(t *testing.T) {
	f := startS3(t, "lake")
	b := startBroker(t, 1, "clickstream")
	const n = 150000
	produce(t, b, "clickstream", clickEvents(n, 10*time.Millisecond))
	stats := &Stats{}
	stop := runSink(t, Config{Kafka: kafkaCfg(b), Group: "mp", Tables: clickTable(t), Stats: stats,
		To: "s3://lake/mp?endpoint=" + f.srv.URL + "&use_path_style=true", Compression: "none",
		hooks: &testHooks{partSize: 5 << 20}})
	waitFor(t, "consumed", 30*time.Second, func() bool { return stats.Consumed("clickstream") == n })
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if parts := f.parts.Load(); parts < 2 {
		t.Fatalf("%d parts uploaded; want a multipart upload", parts)
	}
	exactlyOnce(t, f.read(t, "lake", "mp/"), n)
}
