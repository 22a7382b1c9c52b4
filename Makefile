# The habits. .ci/run calls these same targets, so a green run here is a
# green run in CI.

SC_VER     := v0.8.2
GO         ?= go
# GO_MIN is the oldest Go release the module supports: the go directive of
# go.mod, which README.md states. check-go keeps the three in step.
GO_MIN     := 1.25
FUZZTIME   ?= 1m
FUZZCOUNT  ?= 20000x
BENCHTIME  ?= 1s
TEST_TIMEOUT ?= 30m

.PHONY: test deps race purego fuzz fuzz-short bench compare compare-quick lint check-go generate check-generate

# test installs the interop peers it can, then runs vet and the
# race-enabled suite, and ends with a line naming the peer suites skipped
# because their peers could not be installed (none as root: then a missing
# peer fails). TEST_TIMEOUT (default 30m, per package) is go test's
# -timeout, from which the tests derive every bound on a wait
# (scripts/test.sh): only a hang reaches it, so it is generous.
test:
	@GO=$(GO) TEST_TIMEOUT=$(TEST_TIMEOUT) ./scripts/test.sh

# deps installs the third-party peers the interop tests talk to, or fails.
deps:
	@./scripts/deps.sh

race:
	$(GO) test -race -shuffle=on ./...

purego:
	$(GO) test -tags purego ./...

# fuzz runs every fuzz target for FUZZTIME each: long campaigns
# (make fuzz FUZZTIME=10m). fuzz-short runs each for FUZZCOUNT inputs, a
# count and never a time, so that a loaded machine only makes it slower
# (CI). Both bound minimising with FUZZMINIMIZE and take FUZZTAGS=purego
# for the pure-Go build; scripts/fuzz.sh explains why.
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

fuzz-short:
	@case "$(FUZZCOUNT)" in *x) ;; *) echo "FUZZCOUNT must be a count such as 20000x, not $(FUZZCOUNT): use make fuzz FUZZTIME=... for a time"; exit 2;; esac
	./scripts/fuzz.sh $(FUZZCOUNT)

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

# lint: gofmt, generated files, the Go version guard (which runs go vet),
# staticcheck.
lint: check-generate check-go
	test -z "$$(gofmt -l .)" || (gofmt -l . && false)
	$(GO) install honnef.co/go/tools/cmd/staticcheck@$(SC_VER)
	"$$($(GO) env GOPATH)/bin/staticcheck" ./...

# check-go keeps the module buildable with Go $(GO_MIN): go.mod's go
# directive is go$(GO_MIN).0 with no toolchain line, README.md states it, and
# go vet with the local toolchain (no download of a newer one) refuses
# language features (the compiler, through the directive) and
# standard-library API (vet's stdversion check) newer than the directive.
check-go:
	@grep -qx 'go $(GO_MIN).0' go.mod || { echo "go.mod: want the directive go $(GO_MIN).0 (GO_MIN in the Makefile), got: $$(grep '^go ' go.mod)"; exit 1; }
	@! grep -q '^toolchain' go.mod || { echo "go.mod: drop the toolchain line; the minimum is go $(GO_MIN)"; exit 1; }
	@grep -q 'Go $(GO_MIN) or newer' README.md || { echo "README.md: state the minimum as \"Go $(GO_MIN) or newer\""; exit 1; }
	GOTOOLCHAIN=local $(GO) vet ./...

generate:
	$(GO) generate ./...

# check-generate fails when regenerating changes a file (it compares the
# tree's diff before and after, so local edits do not trip it).
check-generate:
	@before=$$(git diff | sha256sum); $(GO) generate ./...; after=$$(git diff | sha256sum); \
	test "$$before" = "$$after" || { echo "go generate changed files: commit them"; git diff --stat; exit 1; }
