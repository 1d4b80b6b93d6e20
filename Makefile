# reverb: a Go drop-in for Laravel Reverb.
GO       ?= go
BIN      := bin/reverb
PORTABLE_BIN := bin/reverb-portable
BENCHBIN := bin/reverb-bench
# The release targets: every one builds and vets without cgo (make cross).
CROSS_TARGETS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64
PKGS     := ./...
export PATH := $(PATH):$(shell $(GO) env GOPATH)/bin

.PHONY: build build-portable run test test-all test-quick test-go test-go-portable test-php test-e2e test-e2e-portable cross bench bench-portable lint fuzz clean deps

build:
	$(GO) build -o $(BIN) ./cmd/reverb

# The code macOS and Windows run, built for Linux so the tests prove it:
# standard-library net listener and connections, one process.
build-portable:
	$(GO) build -tags portable -o $(PORTABLE_BIN) ./cmd/reverb

# Run the server on the bundled example Laravel project.
run: build
	cd examples/laravel && ../../$(BIN) start

# Install everything the tests need (apt, npm, Go), then run the whole suite.
test-all: deps test

deps:
	./scripts/install-test-deps.sh

# Both builds: Linux's (epoll, worker processes) and the portable one, each
# through the Go tests and the whole e2e suite, and every release target
# cross-compiled and vetted.
test: build cross test-go test-go-portable test-php test-e2e test-e2e-portable

test-go:
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

test-go-portable:
	$(GO) vet -tags portable $(PKGS)
	$(GO) test -race -count=1 -timeout 20m -tags portable $(PKGS)

# The companion Laravel package's PHPUnit tests, on the real Laravel app the
# tests use (see companion/tests/LaravelApp.php).
test-php:
	cd companion && phpunit

test-e2e: build
	cd tests && REVERB_BIN=$(CURDIR)/$(BIN) REVERB_E2E_PORTABLE=0 node --test --test-concurrency=1 --test-timeout=600000 e2e/

test-e2e-portable: build-portable
	cd tests && REVERB_BIN=$(CURDIR)/$(PORTABLE_BIN) REVERB_E2E_PORTABLE=1 node --test --test-concurrency=1 --test-timeout=600000 e2e/

# Vet every package, tests included (vet type-checks them, so this is the
# compile check), and link the reverb binary, for every release target
# without cgo, so a Linux-only call cannot slip in.
cross:
	@set -e; for t in $(CROSS_TARGETS); do \
	  echo "cross $$t"; \
	  CGO_ENABLED=0 GOOS=$${t%/*} GOARCH=$${t#*/} $(GO) vet $(PKGS); \
	  CGO_ENABLED=0 GOOS=$${t%/*} GOARCH=$${t#*/} $(GO) build -o /dev/null ./cmd/reverb; \
	done

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

# The same measurements against the portable server (the bench tool keeps
# its epoll client readers).
bench-portable: build-portable
	$(GO) build -o $(BENCHBIN) ./cmd/reverb-bench
	$(BENCHBIN) -server $(CURDIR)/$(PORTABLE_BIN) -app examples/laravel

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	@if command -v staticcheck >/dev/null 2>&1; then \
	  staticcheck $(PKGS) && staticcheck -tags portable $(PKGS) && \
	  for t in $(CROSS_TARGETS); do echo "staticcheck $$t"; CGO_ENABLED=0 GOOS=$${t%/*} GOARCH=$${t#*/} staticcheck $(PKGS) || exit 1; done; \
	else echo "staticcheck not installed (make deps)"; fi

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

# Release archives for the five targets + SHA256SUMS in dist/, built twice to
# prove they are reproducible: make release VERSION=v1.2.3
# (SOURCE_DATE_EPOCH overrides the commit date; RELEASE_FLAGS=-allow-dirty
# builds from a modified checkout, stamped <commit>-dirty.)
.PHONY: release release-test docker
release:
	@test -n "$(VERSION)" || { echo "usage: make release VERSION=vX.Y.Z" >&2; exit 2; }
	$(GO) run ./scripts/release -version "$(VERSION)" -out dist -verify $(RELEASE_FLAGS)

# The reproducibility test over all five targets (CI builds linux/amd64 only).
release-test:
	REVERB_RELEASE_TEST_TARGETS=all $(GO) test -count=1 -run Reproducible -v ./scripts/release

# The container image: writes the build context (Dockerfile, the static
# linux binary for this machine's architecture, the build machine's CA
# certificates, passwd/group) into dist/docker/, then builds it with docker
# or podman when one is installed. VERSION defaults to dev;
# DOCKER_TARGET=linux/arm64 for the other architecture.
DOCKER        ?= $(shell docker info >/dev/null 2>&1 && echo docker || command -v podman 2>/dev/null)
DOCKER_IMAGE  ?= reverb-go/reverb
DOCKER_TARGET ?= linux/$(shell $(GO) env GOARCH)
docker:
	rm -rf dist/docker
	$(GO) run ./scripts/release -docker dist/docker -version "$(or $(VERSION),dev)" -targets "$(DOCKER_TARGET)"
	@if [ -n "$(DOCKER)" ]; then \
	  echo "$(DOCKER) build -t $(DOCKER_IMAGE):$(or $(VERSION),dev) dist/docker"; \
	  $(DOCKER) build -t "$(DOCKER_IMAGE):$(or $(VERSION),dev)" dist/docker; \
	else echo "no docker or podman found: build dist/docker with your container engine"; fi
