# Pier's build and test entry points. `make test` is what CI runs.
GO ?= go
PKGS := ./...
# A count, not a duration: a duration -fuzztime can fail with a bare
# "context deadline exceeded" in Go 1.26's fuzz coordinator (golang/go#75804,
# fixed in Go 1.27) although no input failed.
FUZZTIME ?= 50000x

.PHONY: all build test unit e2e e2e-race fuzz vet fmt bench clean packages corpus

all: build

build:
	CGO_ENABLED=0 $(GO) build -o bin/pier ./cmd/pier

# test: vet, every unit and integration test (real apt-get etc.), then a
# short run of every fuzz test.
test: vet unit fuzz

vet:
	$(GO) vet $(PKGS)
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l .; echo "gofmt needed"; exit 1; }

unit:
	$(GO) test -count=1 -timeout 30m $(PKGS)

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

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./repo/...

clean:
	rm -rf bin dist

VERSION ?= 0.0.0-dev
# packages: Pier's own .deb, .rpm and .apk for amd64 and arm64 (CGO off,
# cross-compiled) in dist/.
packages:
	mkdir -p dist
	for arch in amd64 arm64; do \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o dist/pier-linux-$$arch ./cmd/pier || exit 1; \
	done
	$(GO) run ./packaging/build -version $(VERSION) -bin dist -out dist

# corpus rebuilds the conformance corpus in testdata/ with the real tools
# (dpkg-deb, rpmbuild, rpmsign, gpg, nfpm through testdata/gen) and checks
# every file against them; see testdata/README.md.
corpus:
	./testdata/make-corpus.sh
