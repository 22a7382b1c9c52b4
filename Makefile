# The habits. .ci/run calls these same targets, so a green run here is a
# green run in CI.

SC_VER     := v0.8.2
GO         ?= go
FUZZTIME   ?= 20s
BENCHTIME  ?= 1s

.PHONY: test deps race purego fuzz-short bench compare compare-quick lint generate check-generate

# test installs what the tests need, then runs vet and the race-enabled suite.
test: deps
	$(GO) vet ./...
	$(GO) test -race -shuffle=on -timeout=15m ./...

# deps installs the third-party peers the interop tests talk to.
deps:
	@./scripts/deps.sh

race:
	$(GO) test -race -shuffle=on ./...

purego:
	$(GO) test -tags purego ./...

# fuzz-short runs every fuzz target of every package for FUZZTIME; with
# FUZZTAGS=purego on the pure-Go build.
fuzz-short:
	./scripts/fuzz.sh $(FUZZTIME)

bench:
	$(GO) test -run='^$$' -bench=. -benchmem -benchtime=$(BENCHTIME) ./... | tee bench.txt

# compare runs the side-by-side benchmark of bench/ (its own module):
# every peer's echo server and sluice's under sluice bench, in rotated
# rounds, server on CPU 1 and load on CPU 0. About 30 minutes; never part of
# test. COMPARE_FLAGS passes flags on (-quick, -rounds N, -scenarios RE,
# -servers a,b); compare-quick is the short run (about 10 minutes).
COMPARE_FLAGS ?=
compare:
	cd bench && $(GO) run ./cmd/compare $(COMPARE_FLAGS)

compare-quick:
	$(MAKE) compare COMPARE_FLAGS="-quick $(COMPARE_FLAGS)"

lint: check-generate
	test -z "$$(gofmt -l .)" || (gofmt -l . && false)
	$(GO) vet ./...
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(SC_VER)
	"$$($(GO) env GOPATH)/bin/staticcheck" ./...

generate:
	$(GO) generate ./...

# check-generate fails when regenerating changes a file (it compares the
# tree's diff before and after, so local edits do not trip it).
check-generate:
	@before=$$(git diff | sha256sum); $(GO) generate ./...; after=$$(git diff | sha256sum); \
	test "$$before" = "$$after" || { echo "go generate changed files: commit them"; git diff --stat; exit 1; }
