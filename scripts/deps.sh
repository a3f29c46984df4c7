#!/bin/sh
# deps.sh [STAMP] -- install the Debian packages pmlua builds and tests with.
#
# As root: apt-get install of whatever is missing. Otherwise: apt-get download
# + dpkg -x into vendor/root (git-ignored), which the Makefile searches too.
# VENDOR=1: unpack every package into vendor/root, as root too and whether or
# not the system has it; the Makefile then builds against vendor/root alone.
# Writes to STAMP "vendor" when the build must search vendor/root, else "system".
# Idempotent and quiet when everything is already there.
#
# TEST_PKGS are for tests that skip without them (luarocks, for
# tests/test_luarocks.lua): installed as root when missing, a failure only said;
# never unpacked into vendor/root, so without root those tests say they skip.
#
# TORTURE_PKGS are for `make torture` alone (valgrind for its memcheck run,
# libpmemobj's debug build to run it with): installed as root when missing,
# a failure only said; never unpacked into vendor/root (valgrind needs its
# own installed paths), so make torture says when valgrind is missing.
#
# BENCH_PKGS are for `make bench` alone (SQLite through LuaSQL, gnuplot for the
# chart): installed or unpacked the same way, but a failure there only says so
# (make bench then says what is missing); VENDOR=1 leaves them out. Unpacked
# without root, gnuplot runs only if the system has its libraries (cairo,
# pango, gd, ...); bench/run.sh checks and says when it does not.
set -eu
cd "$(dirname "$0")/.."
stamp=${1:-/dev/null}

PKGS="lua5.4 liblua5.4-dev libpmemobj-dev libpmem-dev libpmemobj1 libpmem1 \
libndctl6 libdaxctl1 lua-unit libreadline-dev libreadline8"
BENCH_PKGS="lua-sql-sqlite3 libsqlite3-0 gnuplot-nox gnuplot-data"
TEST_PKGS="luarocks"
TORTURE_PKGS="valgrind libpmemobj1-debug"
root=vendor/root

# apt-get download needs package lists. Without root they are kept in
# vendor/apt/ (apt-get update into a private directory) when the system has none.
aptconf=$PWD/vendor/apt/apt.conf
[ "$(id -u)" != 0 ] && [ -f "$aptconf" ] && export APT_CONFIG="$aptconf"
refresh_lists() {
	echo "deps: apt-get update" >&2
	if [ "$(id -u)" = 0 ]; then
		apt-get update -qq >/dev/null
		return
	fi
	mkdir -p vendor/apt/lists/partial vendor/apt/cache/archives/partial
	cat >"$aptconf" <<-EOF
	Dir::State::Lists "$PWD/vendor/apt/lists";
	Dir::Cache "$PWD/vendor/apt/cache";
	Debug::NoLocking "true";
	EOF
	export APT_CONFIG="$aptconf"
	apt-get update -qq >/dev/null
}
download() {
	# as root, apt's _apt sandbox user may not be able to write here
	(cd vendor/debs && if [ "$(id -u)" = 0 ]; then
		apt-get download -qq -o APT::Sandbox::User=root "$@"
	else
		apt-get download -qq "$@"
	fi)
}

# unpack PKG... -- into $root those not already there (listed in $root/.complete)
unpack() {
	need=""
	for p in "$@"; do
		grep -qx "$p" "$root/.complete" 2>/dev/null || need="$need $p"
	done
	[ -z "$need" ] && return 0
	echo "deps: unpacking$need into $root" >&2
	mkdir -p vendor/debs "$root"
	# shellcheck disable=SC2086
	download $need 2>/dev/null || { refresh_lists && download $need; }
	for p in $need; do
		for d in vendor/debs/"${p}"_*.deb; do dpkg -x "$d" "$root"; done
	done
	# absolute symlinks (libreadline.so -> /lib/...) would leave vendor/root:
	# make them relative, so they resolve inside it
	find "$root" -type l | while IFS= read -r l; do
		t=$(readlink "$l")
		case $t in /*)
			up=$(dirname "${l#"$root"/}" | sed 's|[^/][^/]*|..|g')
			ln -sfn "$up$t" "$l" ;;
		esac
	done
	for p in $need; do echo "$p"; done >>"$root/.complete"
}

if [ "${VENDOR:-0}" = 1 ]; then
	# shellcheck disable=SC2086
	unpack $PKGS
	echo vendor >"$stamp"
	exit 0
fi

# installed PKG... -- print those of PKG... that dpkg does not have installed
not_installed() {
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
			printf ' %s' "$p"
	done
}
# shellcheck disable=SC2086
missing=$(not_installed $PKGS)
# shellcheck disable=SC2086
bmissing=$(not_installed $BENCH_PKGS)
# shellcheck disable=SC2086
tmissing=$(not_installed $TORTURE_PKGS)
# shellcheck disable=SC2086
xmissing=$(not_installed $TEST_PKGS)
[ "$(id -u)" = 0 ] || { tmissing=""; xmissing=""; }
if [ -z "$missing" ] && [ -z "$bmissing" ] && [ -z "$tmissing" ] && [ -z "$xmissing" ]; then
	echo system >"$stamp"
	exit 0
fi

# optional PKGS FOR CONSEQUENCE -- as root, install PKGS (none: nothing) for
# FOR; a failure is only said, with its CONSEQUENCE
optional() {
	[ -n "$1" ] || return 0
	echo "deps: installing$1 (for $2)"
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $1 >/dev/null ||
		echo "deps: could not install$1: $3" >&2
}

if [ "$(id -u)" = 0 ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	if [ -n "$missing" ]; then
		echo "deps: installing$missing"
		# shellcheck disable=SC2086
		apt-get install -y -qq --no-install-recommends $missing >/dev/null
	fi
	optional "$bmissing" "make bench" "make bench will say what is missing"
	optional "$xmissing" "make test" "the tests that need it say they are skipped"
	optional "$tmissing" "make torture" "make torture's memcheck will say so"
	echo system >"$stamp"
	exit 0
fi

echo "deps: not root"
if [ -n "$bmissing" ]; then
	# in a subshell with its own set -e (one tested by || would ignore it)
	set +e
	# shellcheck disable=SC2086
	(set -e; unpack $bmissing)
	brc=$?
	set -e
	[ $brc -eq 0 ] ||
		echo "deps: could not unpack$bmissing: make bench will say what is missing" >&2
fi
if [ -z "$missing" ]; then
	echo system >"$stamp"
	exit 0
fi
# shellcheck disable=SC2086
unpack $missing
echo vendor >"$stamp"
