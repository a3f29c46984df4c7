#!/bin/sh
# deps.sh -- install the Debian packages pmlua builds and tests with.
#
# As root: apt-get install of whatever is missing. Otherwise: apt-get download
# + dpkg -x into vendor/root (git-ignored), which the Makefile searches too.
# Idempotent and quiet when everything is already there.
set -eu
cd "$(dirname "$0")/.."

PKGS="lua5.4 liblua5.4-dev libpmemobj-dev libpmem-dev libpmemobj1 libpmem1 \
libndctl6 libdaxctl1 lua-unit libreadline-dev libreadline8"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ]; then
	echo "deps: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
	exit 0
fi

root=vendor/root
[ -f "$root/.complete" ] && exit 0
echo "deps: not root; unpacking$missing into $root"
mkdir -p vendor/debs "$root"
(cd vendor/debs && for p in $missing; do apt-get download -qq "$p"; done)
for d in vendor/debs/*.deb; do dpkg -x "$d" "$root"; done
touch "$root/.complete"
