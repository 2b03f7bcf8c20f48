# Pier's build and test entry points. `make test` is what CI runs.
GO ?= go
PKGS := ./...
# A count, not a duration: a duration -fuzztime can fail with a bare
# "context deadline exceeded" in Go 1.26's fuzz coordinator (golang/go#75804,
# fixed in Go 1.27) although no input failed.
FUZZTIME ?= 50000x

.PHONY: all build test unit e2e e2e-race fuzz vet fmt bench bench-go clean packages corpus s3-check

all: build

VERSION ?= 0.0.0-dev
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
# pier version prints both (without them, the module's build information).
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)

build:
	CGO_ENABLED=0 $(GO) build -ldflags "$(LDFLAGS)" -o bin/pier ./cmd/pier

# test: vet, every unit and integration test (real apt-get, a real S3
# server etc.), then a short run of every fuzz test.
test: vet s3-check unit fuzz

vet:
	$(GO) vet $(PKGS)
	$(GO) vet -tags piertest ./cmd/pier/ ./e2e/
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l .; echo "gofmt needed"; exit 1; }

# unit runs every test of the release build, then those of the test-only
# hooks (cmd/pier with -tags piertest; e2e builds pier so itself).
unit:
	$(GO) test -count=1 -timeout 30m $(PKGS)
	$(GO) test -count=1 -tags piertest ./cmd/pier/

# s3-check fails when versitygw (the S3 server the storage, mirror and e2e
# S3 tests run against) is missing: those tests would skip and S3 would go
# untested. PIER_SKIP_S3=1 skips them knowingly.
s3-check:
	@if [ "$$PIER_SKIP_S3" = 1 ]; then \
	  echo "PIER_SKIP_S3=1: the S3 tests (storage/s3, repo/mirror, e2e) will skip"; \
	elif command -v versitygw >/dev/null 2>&1 || [ -x "$$($(GO) env GOPATH | cut -d: -f1)/bin/versitygw" ]; then :; \
	else \
	  echo "make test: versitygw is not installed, so the S3 tests would skip and S3 go untested." >&2; \
	  echo "Install it with .ci/versitygw.sh, or run PIER_SKIP_S3=1 make test to skip them knowingly." >&2; \
	  exit 1; \
	fi

e2e:
	$(GO) test -count=1 -timeout 30m -v ./e2e/

# e2e-race runs the end-to-end tests against a pier built with -race; a
# race reported by pier serve fails the test that started it.
e2e-race:
	PIER_E2E_RACE=1 $(GO) test -count=1 -timeout 30m ./e2e/

# fuzz runs each Fuzz target for FUZZTIME executions.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/func //'); do \
	    echo "fuzz $$pkg $$f"; \
	    $(GO) test -run='^$$' -fuzz="^$$f$$" -fuzztime=$(FUZZTIME) -fuzzminimizetime=20x $$pkg; \
	  done; \
	done

# bench: Pier and the peers (createrepo_c, apt-ftparchive, aptly, nginx +
# wrk) side by side on a generated 1,000-package corpus (kept in
# BENCH_DIR, default /tmp/pier-bench); prints the table with ratios.
# 10,000 packages on demand: make bench BENCH_N="1000 10000".
BENCH_N ?= 1000
bench:
	N="$(BENCH_N)" bench/compare.sh

# bench-go: the Go benchmarks of the index writers and the publisher.
bench-go:
	$(GO) test -run='^$$' -bench=. -benchmem ./repo/...

clean:
	rm -rf bin dist

# packages: Pier's own .deb, .rpm and .apk for amd64 and arm64 (CGO off,
# cross-compiled, version and commit stamped) in dist/.
packages:
	mkdir -p dist
	for arch in amd64 arm64; do \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o dist/pier-linux-$$arch ./cmd/pier || exit 1; \
	done
	$(GO) run ./packaging/build -version $(VERSION) -bin dist -out dist

# corpus rebuilds the conformance corpus in testdata/ with the real tools
# (dpkg-deb, rpmbuild, rpmsign, gpg, nfpm through testdata/gen) and checks
# every file against them; see testdata/README.md.
corpus:
	./testdata/make-corpus.sh
