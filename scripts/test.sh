#!/usr/bin/env bash
# test.sh is `make test`: the interop peers (scripts/deps.sh), go vet, and
# every test with the race detector, then one line that says which peer
# suites were skipped and why.
#
# As root, or with passwordless sudo, deps.sh installs every peer and a
# peer it cannot install fails the run: nothing is skipped (CI). As a normal
# user, or without apt-get, the suites whose peers are missing are named in
# SLUICE_INTEROP_UNAVAILABLE, which is the only thing that makes
# tests/interop skip a suite; every test that needs no third-party peer
# still runs.
#
# TEST_TIMEOUT (default 30m) is go test's -timeout, per package: every wait
# in the tests that only a hang can exhaust ends shortly before it
# (internal/wstest). At a load of 25 on 2 cores tests/interop takes about
# 12 minutes, hence the room.
set -uo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}

report=$(mktemp)
trap 'rm -f "$report"' EXIT
./scripts/deps.sh --unavailable-to "$report" || exit 1
SLUICE_INTEROP_UNAVAILABLE=$(paste -sd';' "$report")
export SLUICE_INTEROP_UNAVAILABLE

$GO vet ./... || exit 1
$GO test -race -shuffle=on -timeout="${TEST_TIMEOUT:-30m}" ./...
status=$?

if [ -n "$SLUICE_INTEROP_UNAVAILABLE" ]; then
	echo "make test: skipped interop peer suites: $(sed 's/;/; /g' <<<"$SLUICE_INTEROP_UNAVAILABLE")"
else
	echo "make test: no test skipped for a missing peer: every interop peer suite ran"
fi
exit $status
