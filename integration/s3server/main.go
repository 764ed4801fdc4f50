// Command s3server is the S3-compatible server of the integration tests:
// gofakes3 over real HTTP, objects in memory, packaged FROM scratch so the
// suite pulls nothing. Test-only: no authentication is checked.
package main

import (
	"flag"
	"log"
	"net/http"
	"strings"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

func main() {
	listen := flag.String("listen", ":9000", "address to serve S3 on")
	buckets := flag.String("buckets", "lake", "buckets to create at start, comma separated")
	flag.Parse()
	backend := s3mem.New()
	for _, b := range strings.Split(*buckets, ",") {
		if b = strings.TrimSpace(b); b != "" {
			if err := backend.CreateBucket(b); err != nil {
				log.Fatalf("creating bucket %s: %v", b, err)
			}
		}
	}
	// Time skew is not what these tests are about; a paused container
	// must not make the clients' signatures stale.
	faker := gofakes3.New(backend, gofakes3.WithAutoBucket(true), gofakes3.WithTimeSkewLimit(0))
	srv := &http.Server{Addr: *listen, Handler: faker.Server(), ReadHeaderTimeout: 10 * time.Second}
	log.Printf("s3server listening on %s, buckets %s", *listen, *buckets)
	log.Fatal(srv.ListenAndServe())
}
