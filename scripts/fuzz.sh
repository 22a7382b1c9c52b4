#!/usr/bin/env bash
# fuzz.sh runs every Fuzz target in the module, one after the other.
#
#   scripts/fuzz.sh 20000x    each target runs 20000 inputs (CI: a count has
#                             no wall-clock deadline, so a loaded machine only
#                             makes it slower; Go's coordinator can fail a
#                             time-bounded run at its deadline, golang/go#75804)
#   scripts/fuzz.sh 10m       each target runs for 10 minutes (long campaigns)
#
# Minimising a new interesting input is bounded by FUZZMINIMIZE (default
# 100x, a count too): unbounded, one slow input can stall a target at
# 0 execs/s for the default 60 s per input. FUZZTAGS=purego runs the
# targets on the pure-Go build (no unsafe, no assembly). FUZZPKGS limits
# the packages (default: all of them).
set -euo pipefail
cd "$(dirname "$0")/.."
budget=${1:-20000x}
minimize=${FUZZMINIMIZE:-100x}
tags=${FUZZTAGS:-}
# go test's own -timeout (10m by default) would end a long campaign as a
# failure: give time-bounded runs their budget plus room to minimise, and
# count-bounded ones a bound that only a hang reaches.
case $budget in
*x) timeout=60m ;;
*) timeout=0 ;; # -fuzztime ends the run
esac
for pkg in $(go list ${FUZZPKGS:-./...}); do
	dir=$(go list -f '{{.Dir}}' "$pkg")
	for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
		echo "== $pkg $f ($budget${tags:+, tags $tags})"
		go test ${tags:+-tags "$tags"} -run='^$' -fuzz="^$f\$" -fuzztime="$budget" \
			-fuzzminimizetime="$minimize" -timeout="$timeout" "$pkg"
	done
done
