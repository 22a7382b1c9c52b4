#!/usr/bin/env bash
# deps.sh installs the third-party programs the tests use as real peers
# (tests/interop): Debian's python3-websockets and chromium, and the npm
# packages pinned in tests/interop/node/package-lock.json.
#
# It is idempotent: when everything is present it prints nothing and takes
# well under a second. It runs apt-get update only when a Debian package is
# missing, and uses sudo only when not root.
set -euo pipefail
cd "$(dirname "$0")/.."

NODE_DIR=tests/interop/node
# The Debian packages the peers need. nodejs and npm are only added when no
# node is on PATH (CI machines ship node 20 + npm).
APT_PKGS=(python3 python3-websockets chromium)

log() { printf 'deps: %s\n' "$*" >&2; }

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo -n "$@"
	else
		log "need root (or sudo) to run: $*"
		exit 1
	fi
}

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# --- Debian packages -------------------------------------------------------
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	APT_PKGS+=(nodejs npm)
fi
missing=()
for p in "${APT_PKGS[@]}"; do
	installed "$p" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
	if ! command -v apt-get >/dev/null 2>&1; then
		log "missing ${missing[*]} and no apt-get: install them by hand"
		exit 1
	fi
	log "installing ${missing[*]} (apt-get)"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian's module lives in /usr/lib/python3/dist-packages: the tests run
# /usr/bin/python3, not whatever python3 comes first on PATH (pyenv).
if ! /usr/bin/python3 -c 'import websockets' 2>/dev/null; then
	log "/usr/bin/python3 cannot import websockets after installing python3-websockets"
	exit 1
fi

# --- npm packages ----------------------------------------------------------
# npm ci wipes and reinstalls node_modules, so run it only when the lock file
# changed since the last install (the stamp holds its hash).
stamp="$NODE_DIR/node_modules/.sluice-lock.sha256"
want="$(sha256sum "$NODE_DIR/package-lock.json" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
	log "installing npm packages into $NODE_DIR/node_modules (npm ci)"
	# --ignore-scripts: nothing needs building (bufferutil and
	# utf-8-validate ship prebuilt binaries and have JS fallbacks), and
	# the install scripts of the dependency tree only print.
	(cd "$NODE_DIR" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
	printf '%s\n' "$want" >"$stamp"
fi
