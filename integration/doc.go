// Package integration holds the testcontainers-go suite (build tag
// integration): the sluice binary and a small S3 server packaged FROM
// scratch, the broker and each worker in its own container on one network.
//
//	make integration   # go test -tags integration ./integration/...
//
// Where no Docker engine answers, the suite skips with one line.
package integration
