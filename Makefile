# Sluice: two commands matter on a fresh machine with Go installed:
#   make run    the whole pipeline on an embedded broker, lake in ./lake
#   make test   unit tests, shipped rule tests, in-process end-to-end tests
GO       ?= go
BIN      ?= bin/sluice
PKGS     ?= ./...
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

# Benchmarks report events per CPU-second, CPU-seconds per million events and
# peak RSS (DESIGN.md: compare within one run, quote medians). Each package's
# benchmarks take their event counts from -benchtime as below.
# SLUICE_BENCH_LARGE=1 adds the 10M-event memory benchmark of the processor.
bench:
	$(GO) test -run '^$$' -bench 'EventSource|Generate|Replay' -benchtime 300000x -count $(BENCHCOUNT) ./producer/
	$(GO) test -run '^$$' -bench 'Collect' -benchtime 3000x -count $(BENCHCOUNT) ./producer/
	$(GO) test -run '^$$' -bench 'Engine|TopicToTopic' -benchtime 300000x -count $(BENCHCOUNT) ./processor/
	$(GO) test -run '^$$' -bench 'Memory10M' -benchtime 1x ./processor/
	$(GO) test -run '^$$' -bench 'SteadyRate' -benchtime 20000x -count $(BENCHCOUNT) ./processor/
	$(GO) test -run '^$$' -bench 'Twins' -benchtime 3x -count $(BENCHCOUNT) ./rules/
	$(GO) test -run '^$$' -bench 'Sink' -benchtime 1x -count $(BENCHCOUNT) ./connector/

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf bin lake
