#!/bin/sh
# install.sh -- make install and make uninstall: copy files under DESTDIR,
# listing each in a manifest, and remove exactly what the manifest lists.
#
# usage: sh scripts/install.sh install DESTDIR MANIFEST MODE:SRC:DEST ...
#        sh scripts/install.sh uninstall DESTDIR MANIFEST
#
# DEST and MANIFEST are absolute paths without DESTDIR (PREFIX/...); DESTDIR
# may be empty. The manifest is installed too, at DESTDIR/MANIFEST: a line
# "f PATH" for each file installed, "d PATH" for each directory an install
# made (one that did not exist). A later install adds its lines to the same
# manifest, so that uninstall also removes what an older install put there.
# Uninstall removes the files, the manifest, then the directories of "d"
# lines that are empty, deepest first: a directory that holds anything else
# stays. Paths may not contain newlines.
set -eu
mode=$1 destdir=$2 manifest=$3
shift 3
list=$destdir$manifest

if [ "$mode" = uninstall ]; then
	[ -f "$list" ] || {
		echo "uninstall: no $list: nothing was installed with this DESTDIR and PREFIX" >&2
		exit 1
	}
	n=$(grep -c '^f ' "$list" || true)
	sed -n 's/^f //p' "$list" | while IFS= read -r f; do rm -f "$destdir$f"; done
	dirs=$(sed -n 's/^d //p' "$list" | sort -r)
	rm -f "$list"
	echo "$dirs" | while IFS= read -r d; do
		[ -z "$d" ] || rmdir "$destdir$d" 2>/dev/null || true
	done
	echo "uninstall: $n files removed from ${destdir:-/}"
	exit 0
fi

[ "$mode" = install ] || { echo "usage: install.sh install|uninstall DESTDIR MANIFEST ..." >&2; exit 2; }
new=$(mktemp)
trap 'rm -f "$new"' EXIT
[ -f "$list" ] && cat "$list" >"$new"

# makedir DIR -- make DESTDIR/DIR, noting it and each parent it lacked
makedir() {
	d=$1
	while [ "$d" != / ] && [ ! -d "$destdir$d" ]; do
		echo "d $d" >>"$new"
		d=$(dirname "$d")
	done
	mkdir -p "$destdir$1"
}

n=0
for spec in "$@"; do
	perm=${spec%%:*} rest=${spec#*:}
	src=${rest%%:*} dest=${rest#*:}
	makedir "$(dirname "$dest")"
	install -m "$perm" "$src" "$destdir$dest"
	echo "f $dest" >>"$new"
	n=$((n + 1))
done
makedir "$(dirname "$manifest")"
sort -u "$new" >"$list"
chmod 644 "$list"
echo "install: $n files under ${destdir:-/}, listed in $list"
