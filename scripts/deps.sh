#!/usr/bin/env bash
# deps.sh installs the third-party programs the tests use as real peers
# (tests/interop): Debian's python3-websockets and chromium, and the npm
# packages pinned in tests/interop/node/package-lock.json.
#
#   scripts/deps.sh                        install them all, or fail
#   scripts/deps.sh --unavailable-to FILE  the same as root (or with
#                                          passwordless sudo); otherwise
#                                          install what it can and write to
#                                          FILE one line "suite: why" per
#                                          peer suite (node, python,
#                                          chromium) it could not provide
#
# make test (scripts/test.sh) uses the second form: as a normal user without
# sudo, or without apt-get (macOS), the suites whose peers are missing are
# skipped and named, instead of failing before a single Go test runs. As
# root, as in CI, a peer that cannot be installed is an error.
#
# It is idempotent: when everything is present it prints nothing and takes
# well under a second. It runs apt-get update only when a Debian package is
# missing, and uses sudo only when not root. When another process holds the
# package manager's lock (unattended upgrades, a parallel apt-get), it says
# who and waits, at most DEPS_LOCK_WAIT seconds (default 300).
set -euo pipefail
cd "$(dirname "$0")/.."

NODE_DIR=tests/interop/node
LOCK_WAIT=${DEPS_LOCK_WAIT:-300}
report=""
if [ "${1:-}" = "--unavailable-to" ]; then
	report=${2:?--unavailable-to needs a file}
	: >"$report"
fi

log() { printf 'deps: %s\n' "$*" >&2; }

# Can we install Debian packages at all?
root=""
if [ "$(id -u)" -eq 0 ]; then
	root=yes
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
	root=sudo
fi

as_root() {
	case $root in
	yes) "$@" ;;
	sudo) sudo -n "$@" ;;
	esac
}

# unavailable records that suite cannot run, and why; without a report
# file (or with root, where everything must install) it is fatal.
unavailable() {
	local suite=$1
	shift
	if [ -z "$report" ] || [ -n "$root" ]; then
		log "$suite peers: $*"
		exit 1
	fi
	printf '%s: %s\n' "$suite" "$*" >>"$report"
}

installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

# --- the package manager's lock ----------------------------------------------

# The locks apt-get and dpkg take (fcntl locks, listed in /proc/locks).
APT_LOCKS=(/var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock /var/cache/apt/archives/lock)

# lock_holder prints "pid (command)" of a process holding one of APT_LOCKS,
# or nothing.
lock_holder() {
	[ -r /proc/locks ] || return 0
	local f dev key pid
	for f in "${APT_LOCKS[@]}"; do
		[ -e "$f" ] || continue
		# /proc/locks names a file as major:minor:inode, in hex, hex and
		# decimal; split the device number as Linux's dev_t encodes it.
		dev=$(stat -c %d "$f")
		key=$(printf '%02x:%02x:%s' $(((dev >> 8) & 0xfff)) $(((dev & 0xff) | ((dev >> 12) & 0xfff00))) "$(stat -c %i "$f")")
		pid=$(awk -v k="$key" '$2 != "->" && $6 == k && $5 > 0 { print $5; exit }' /proc/locks)
		if [ -n "$pid" ]; then
			printf '%s (%s) on %s' "$pid" "$(cat "/proc/$pid/comm" 2>/dev/null || echo '?')" "$f"
			return 0
		fi
	done
}

# wait_for_lock waits until no process holds the package manager's lock,
# saying so, for at most LOCK_WAIT seconds.
wait_for_lock() {
	local holder start now said=0
	start=$(date +%s)
	while holder=$(lock_holder) && [ -n "$holder" ]; do
		now=$(date +%s)
		if [ $((now - start)) -ge "$LOCK_WAIT" ]; then
			log "gave up after ${LOCK_WAIT}s: the package manager's lock is still held by pid $holder (DEPS_LOCK_WAIT sets the wait)"
			exit 1
		fi
		if [ $((now - said)) -ge 30 ]; then
			log "waiting for the package manager's lock, held by pid $holder ($((now - start))s of at most ${LOCK_WAIT}s)"
			said=$now
		fi
		sleep 2
	done
}

# apt runs apt-get as root once the lock is free; DPkg::Lock::Timeout
# covers a process that takes the lock in between.
apt() {
	wait_for_lock
	as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout="$LOCK_WAIT" "$@"
}

# --- Debian packages -------------------------------------------------------

# The Debian packages of each suite. nodejs and npm are only wanted when no
# node is on PATH (CI machines ship node 20 + npm).
declare -A SUITE_PKGS=([python]="python3 python3-websockets" [chromium]="chromium")
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	SUITE_PKGS[node]="nodejs npm"
fi

declare -A missing_of=()
missing=()
for suite in "${!SUITE_PKGS[@]}"; do
	for p in ${SUITE_PKGS[$suite]}; do
		if ! installed "$p"; then
			missing+=("$p")
			missing_of[$suite]+="${missing_of[$suite]:+ }$p"
		fi
	done
done

if [ "${#missing[@]}" -gt 0 ]; then
	why=""
	if ! command -v apt-get >/dev/null 2>&1; then
		why="no apt-get to install"
	elif [ -z "$root" ]; then
		why="not root, and no passwordless sudo, to install"
	fi
	if [ -n "$why" ]; then
		for suite in "${!missing_of[@]}"; do
			unavailable "$suite" "$why ${missing_of[$suite]} (run make deps as root to add them)"
		done
	else
		log "installing ${missing[*]} (apt-get)"
		apt update -qq >/dev/null
		apt install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
		missing_of=()
	fi
fi

# Debian's module lives in /usr/lib/python3/dist-packages: the tests run
# /usr/bin/python3, not whatever python3 comes first on PATH (pyenv).
if [ -z "${missing_of[python]:-}" ] && ! /usr/bin/python3 -c 'import websockets' 2>/dev/null; then
	unavailable python "/usr/bin/python3 cannot import websockets although python3-websockets is installed"
fi

# --- npm packages ----------------------------------------------------------
# npm ci wipes and reinstalls node_modules, so run it only when the lock file
# changed since the last install (the stamp holds its hash).
if [ -z "${missing_of[node]:-}" ]; then
	stamp="$NODE_DIR/node_modules/.sluice-lock.sha256"
	want="$(sha256sum "$NODE_DIR/package-lock.json" | cut -d' ' -f1)"
	if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
		log "installing npm packages into $NODE_DIR/node_modules (npm ci)"
		# --ignore-scripts: nothing needs building (bufferutil and
		# utf-8-validate ship prebuilt binaries and have JS fallbacks), and
		# the install scripts of the dependency tree only print.
		if out=$(cd "$NODE_DIR" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error 2>&1); then
			printf '%s\n' "$want" >"$stamp"
		else
			printf '%s\n' "$out" >&2
			unavailable node "npm ci failed in $NODE_DIR: $(printf '%s\n' "$out" | grep -v '^\s*$' | tail -1)"
		fi
	fi
fi
