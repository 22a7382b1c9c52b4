#!/usr/bin/env bash
# fuzz.sh runs every Fuzz target in the module for the given time each.
# FUZZTAGS=purego runs them on the pure-Go build (no unsafe, no assembly).
set -euo pipefail
cd "$(dirname "$0")/.."
t=${1:-20s}
tags=${FUZZTAGS:-}
for pkg in $(go list ./...); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
		echo "== $pkg $f ($t${tags:+, tags $tags})"
		go test ${tags:+-tags "$tags"} -run='^$' -fuzz="^$f\$" -fuzztime="$t" "$pkg"
	done
done
