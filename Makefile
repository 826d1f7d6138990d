# peel — developer entry points. `make demo` and `make test` are the README's
# quick start; .ci/run calls `make lint demo test`.

GO      ?= go
BIN     := bin/peel
BUILD   := testdata/build
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: all build test demo fixtures hostile lint clean tools signing-tools sarif-check e2e realworld realworld-counts realworld-peers gitleaks-samples windows peers

all: build

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/peel

# Regenerates the bundled v1/v2 reproductions and host config directories.
fixtures:
	$(GO) run ./testdata/gen -out $(BUILD)

# Writes the true and false positives of gitleaks' rule generators (run from
# the gitleaks module in the module cache, downloading what they need) for
# the differential window tests; see testdata/README.md.
gitleaks-samples:
	$(GO) run ./testdata/gitleaks-samples -out $(BUILD)/gitleaks-samples.jsonl

# The differential window test over every generated sample (make test runs
# it over a few per rule): each padded to 4 KiB+1 at the start, middle and
# end, to 16 KiB, and one in ten to 100 KiB, scanned by peel and by
# gitleaks on the whole file. PEEL_SAMPLES=every takes every size at every
# place (about 20 minutes of CPU).
windows:
	PEEL_SAMPLES=$(or $(PEEL_SAMPLES),all) $(GO) test -count=1 -timeout 60m -run '^TestGitleaksSamplesPadded$$' -v ./rules

# The peers' own test suites: gitleaks' testdata (its module is in go.mod)
# and trivy's secret-scanner testdata, downloaded into the module cache
# (outside this module, so go.mod and go.sum stay as they are); then the
# test that holds peel to what those suites expect (make test runs it too).
TRIVY_VERSION := v0.74.0
peers:
	$(GO) mod download github.com/zricethezav/gitleaks/v8
	cd $(or $(TMPDIR),/tmp) && GOFLAGS= GO111MODULE=on $(GO) mod download github.com/aquasecurity/trivy@$(TRIVY_VERSION)
	$(GO) test -count=1 -run '^TestPeerSuites$$' -v ./cmd/peel

# Writes the hostile corpus (bombs, traversal, truncation, tampering …) with
# each item's expected outcome in EXPECTED.json; make test runs it.
hostile:
	$(GO) run ./testdata/gen -out "" -hostile $(BUILD)/hostile

# Microsoft's SARIF Multitool checks peel's SARIF with GitHub's ingestion
# rules when installed (make tools); the test that runs it skips otherwise.
MULTITOOL := $(CURDIR)/.tools/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool
export PEEL_SARIF_MULTITOOL ?= $(if $(wildcard $(MULTITOOL)),$(MULTITOOL),)

test:
	$(GO) test -race -count=1 ./...

# Installs the npm tools the tests can use (the SARIF Multitool); npm 11
# does not run the package's install script, so the binary is made
# executable here.
tools:
	npm install --no-audit --no-fund --prefix .tools @microsoft/sarif-multitool@5.7.0
	chmod u+x $(MULTITOOL)

# The cosign CLI the signature tests sign with (cmd/peel/signatures_test.go:
# legacy tag and bundle referrer, by key, offline), built from source with
# go install at a pinned version: about 7 minutes on 2 cores the first
# time, kept in .tools/cosign-VERSION afterwards (and its build in the Go cache).
COSIGN_VERSION := v2.6.5
COSIGN := $(CURDIR)/.tools/cosign-$(COSIGN_VERSION)/cosign
export PEEL_COSIGN ?= $(if $(wildcard $(COSIGN)),$(COSIGN),)
# The notation CLI the Notation signature test signs with, pinned: the
# module proxy serves this exact version but no version list, which
# go install MODULE@VERSION asks for (its deprecation check), so the module
# is downloaded by version and built from its own go.sum (seconds once its
# dependencies are in the module cache).
NOTATION_VERSION := v1.3.2
NOTATION := $(CURDIR)/.tools/notation-$(NOTATION_VERSION)/notation
export PEEL_NOTATION ?= $(if $(wildcard $(NOTATION)),$(NOTATION),)
signing-tools: $(COSIGN) $(NOTATION)
$(COSIGN):
	GOFLAGS= GOBIN=$(dir $(COSIGN)) $(GO) install github.com/sigstore/cosign/v2/cmd/cosign@$(COSIGN_VERSION)
$(NOTATION):
	@set -e; dir=$$(GOFLAGS= $(GO) mod download -json github.com/notaryproject/notation@$(NOTATION_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
	test -n "$$dir"; cd "$$dir" && GOFLAGS= $(GO) build -trimpath -o $(NOTATION) ./cmd/notation

# End-to-end tests against a real registry, a real Docker daemon and a
# real Redis: Debian's docker-registry (apt-get install docker-registry),
# started here on a free port of 127.0.0.1 with TLS and htpasswd auth by
# testdata/registry; Debian's dockerd (apt-get install docker.io; as root,
# vfs storage, no networking, a private socket and data root) by
# testdata/dockerd; and Debian's redis-server (apt-get install
# redis-server; no persistence) by testdata/redis, for the queue of
# workers and the shared layer cache; all stopped by a trap whatever
# happens. (make test runs the same tests with servers they start
# themselves, or skips them.)
e2e:
	@set -e; tmp=$$(mktemp -d); pids=; \
	trap 'kill $$pids 2>/dev/null; wait $$pids 2>/dev/null; rm -rf '"$$tmp" EXIT; \
	$(GO) build -o $$tmp/registry-harness ./testdata/registry; \
	$(GO) build -o $$tmp/dockerd-harness ./testdata/dockerd; \
	$(GO) build -o $$tmp/redis-harness ./testdata/redis; \
	mkdir $$tmp/reg $$tmp/dockerd $$tmp/redis; \
	$$tmp/registry-harness -dir $$tmp/reg & pids="$$pids $$!"; \
	$$tmp/dockerd-harness -dir $$tmp/dockerd & pids="$$pids $$!"; \
	$$tmp/redis-harness -dir $$tmp/redis & pids="$$pids $$!"; \
	for f in reg dockerd redis; do \
	  for i in $$(seq 600); do [ -f $$tmp/$$f/env ] && break; \
	    for p in $$pids; do kill -0 $$p 2>/dev/null || { echo "e2e: a server exited"; exit 1; }; done; sleep 0.1; done; \
	  [ -f $$tmp/$$f/env ] || { echo "e2e: $$f did not come up"; exit 1; }; \
	  . $$tmp/$$f/env; \
	done; \
	$(GO) test -count=1 -v -timeout 20m -run 'TestRealRegistry|TestRealDaemon|TestRealFleet' ./cmd/peel

# Validates the SARIF of the v1 and zoo fixtures with the Multitool.
sarif-check: tools
	$(GO) test -count=1 -run 'TestSARIFMultitool' -v ./report

# Scans the book's insecure image (v1) and its fix (v2) side by side; v1
# fails with exit status 1, v2 passes with 0.
demo: build fixtures
	@echo
	@echo "=== peel scan $(BUILD)/sts-v1.tar   (prabath/insecure-sts-ch10:v1, Dockerfile)"
	@./$(BIN) scan --no-cache $(BUILD)/sts-v1.tar; echo "exit status $$?"
	@echo
	@echo "=== peel scan $(BUILD)/sts-v2.tar   (prabath/insecure-sts-ch10:v2, Dockerfile-2)"
	@./$(BIN) scan --no-cache $(BUILD)/sts-v2.tar; echo "exit status $$?"

# The real-world corpus (testdata/realworld/README.md): real Debian and npm
# packages fetched by name and version into $(RW_CACHE) (kept between runs),
# unpacked and laid out as images under $(RW_OUT), then scanned by the tests
# of testdata/realworld, which compare every finding with
# testdata/realworld/expectations.tsv and check the faithful STS pair.
# UPDATE=1 rewrites the expectations (judgments kept, new ones unjudged).
RW_CACHE ?= $(BUILD)/realworld-cache
RW_OUT   ?= $(BUILD)/realworld
realworld: build
	$(GO) run ./testdata/realworld -cache $(RW_CACHE) -out $(RW_OUT) build
	$(GO) test -count=1 -v -timeout 30m ./testdata/realworld -args -out $(CURDIR)/$(RW_OUT) -peel $(CURDIR)/$(BIN) \
	  $(if $(UPDATE),-update)

# Findings per rule and per judgment in the expectations.
realworld-counts:
	@$(GO) run ./testdata/realworld counts

# peel, trivy v0.74 and gitleaks v8.30 on the corpus's root filesystem, in
# one run (needs make realworld first); trivy as make bench-tools builds it.
realworld-peers: build bench-tools
	$(GO) build -o $(BUILD)/tools/gitleaks github.com/zricethezav/gitleaks/v8
	$(GO) run ./testdata/realworld -out $(RW_OUT) peers -peel $(BIN) -trivy $(TRIVY) -gitleaks $(BUILD)/tools/gitleaks

lint:
	@out=$$(gofmt -l cmd scanner rules report internal $$(find testdata -path testdata/build -prune -o -name '*.go' -print)); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./... ./testdata/gen ./testdata/bench ./testdata/registry ./testdata/redis ./testdata/fleetbench ./testdata/dockerd ./testdata/realworld ./testdata/gitleaks-samples
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.7.0 ./... ./testdata/gen ./testdata/bench ./testdata/registry ./testdata/redis ./testdata/fleetbench ./testdata/dockerd ./testdata/realworld ./testdata/gitleaks-samples

clean:
	rm -rf bin $(BUILD) .tools

# Runs every fuzz target for FUZZTIME each; crashers land in the package's
# testdata/fuzz and become regression tests run by `make test`.
FUZZTIME ?= 30s
.PHONY: fuzz
fuzz:
	$(GO) test ./rules -run '^$$' -fuzz '^FuzzScanProperties$$' -fuzztime $(FUZZTIME)
	$(GO) test ./rules -run '^$$' -fuzz '^FuzzScanYAML$$' -fuzztime $(FUZZTIME)
	$(GO) test ./rules/keystore -run '^$$' -fuzz '^FuzzInspectKeystore$$' -fuzztime $(FUZZTIME)
	$(GO) test ./rules -run '^$$' -fuzz '^FuzzScanFile$$' -fuzztime $(FUZZTIME)
	$(GO) test ./scanner -run '^$$' -fuzz '^FuzzLayer$$' -fuzztime $(FUZZTIME)

# Generates the ~1 GiB bench image once (in $(BENCH_DIR)), hands it over as
# every input (a registry from Debian's docker-registry, oci:, oci-archive:,
# docker-archive with gzip layers, docker save, docker-daemon: from a
# dockerd started as root), and measures for each, in alternating rounds,
# the input's floor, peel cold, peel warm and trivy; prints the table and
# appends it to BENCHMARKS.md. Go benchmarks: make gobench.
BENCH_DIR ?= $(or $(TMPDIR),/tmp)/peel-bench
TRIVY := $(CURDIR)/.tools/bin/trivy
.PHONY: bench gobench bench-tools
bench: bench-tools
	$(GO) run ./testdata/bench -dir $(BENCH_DIR)

# trivy, the peer the bench compares with (built from source: about 20
# minutes on 2 cores, once; not part of make tools, which CI runs).
bench-tools: $(TRIVY)
$(TRIVY):
	GOEXPERIMENT=jsonv2 GOBIN=$(CURDIR)/.tools/bin $(GO) install github.com/aquasecurity/trivy/cmd/trivy@v0.74.0

# A whole registry spread over 1, 2 and 3 peel workers on a queue and
# layer cache in Redis (docker-registry and redis-server on 127.0.0.1):
# images and layers per hour, cold and warm, appended to BENCHMARKS.md.
.PHONY: fleetbench
fleetbench:
	$(GO) run ./testdata/fleetbench

gobench:
	$(GO) test -run '^$$' -bench . -benchmem ./rules/... ./scanner
