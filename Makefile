# Sluice: two commands matter on a fresh machine with Go installed:
#   make run    the whole pipeline on an embedded broker, lake in ./lake
#   make test   unit tests, shipped rule tests, in-process end-to-end tests
GO       ?= go
BIN      ?= bin/sluice
PKGS     ?= ./...
BENCHTIME ?= 1x
BENCHCOUNT ?= 3

.PHONY: build run test integration bench lint fmt clean

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) ./cmd/sluice

run:
	$(GO) run ./cmd/sluice dev $(ARGS)

test:
	$(GO) test -count=1 -timeout 14m $(PKGS)

# testcontainers-go suite: builds images locally (FROM scratch, nothing pulled)
# and skips with one line when no Docker engine answers.
integration:
	$(GO) test -count=1 -tags integration -timeout 40m -v ./integration/...

# Benchmarks report events per CPU-second and peak RSS; compare within one run.
bench:
	$(GO) test -run '^$$' -bench . -benchtime $(BENCHTIME) -count $(BENCHCOUNT) -timeout 60m $(PKGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin lake
