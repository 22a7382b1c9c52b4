#!/usr/bin/env bash
# deps.sh installs the third-party programs the tests use as real peers.
# It is idempotent and quiet when everything is present.
set -euo pipefail
cd "$(dirname "$0")/.."
# Filled in as interop tests arrive.
exit 0
