# The habits. .ci/run calls these same targets, so a green run here is a
# green run in CI.

SC_VER     := v0.8.2
GO         ?= go
FUZZTIME   ?= 20s
BENCHTIME  ?= 1s

.PHONY: test deps race purego fuzz-short bench lint generate check-generate

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
