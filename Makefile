# reverb: a Go drop-in for Laravel Reverb.
GO       ?= go
BIN      := bin/reverb
BENCHBIN := bin/reverb-bench
PKGS     := ./...
export PATH := $(PATH):$(shell $(GO) env GOPATH)/bin

.PHONY: build run test test-all test-quick test-go test-e2e bench lint fuzz clean deps

build:
	$(GO) build -o $(BIN) ./cmd/reverb

# Run the server on the bundled example Laravel project.
run: build
	cd examples/laravel && ../../$(BIN) start

# Install everything the tests need (apt, npm, Go), then run the whole suite.
test-all: deps test

deps:
	./scripts/install-test-deps.sh

test: build test-go test-e2e

test-go:
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

test-e2e: build
	cd tests && REVERB_BIN=$(CURDIR)/$(BIN) node --test --test-concurrency=1 --test-timeout=600000 e2e/

# A lighter local run: nothing installed with apt-get (Go tests that need
# redis-server, memcached, MariaDB, PostgreSQL or PHP skip when they are
# missing), Go tests without -race, and the end-to-end files of the protocol,
# the HTTP API and the command line (needs node and npm).
QUICK_E2E := e2e/protocol.test.mjs e2e/api.test.mjs e2e/cli.test.mjs
test-quick: build
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -timeout 10m $(PKGS)
	cd tests && { [ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error; } && \
	  REVERB_BIN=$(CURDIR)/$(BIN) node --test --test-concurrency=1 --test-timeout=600000 $(QUICK_E2E)

bench: build
	$(GO) build -o $(BENCHBIN) ./cmd/reverb-bench
	$(BENCHBIN) -server $(CURDIR)/$(BIN) -app examples/laravel

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	@if command -v staticcheck >/dev/null 2>&1; then staticcheck $(PKGS); else echo "staticcheck not installed (make deps)"; fi

# Short fuzz runs of every fuzz target (FUZZTIME per target).
FUZZTIME ?= 10s
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf bin tests/.tmp
	$(GO) clean -testcache
