#!/bin/sh
# pmtool.sh BUILD -- `make bench`'s pmtool part (docs/performance.md): a pool
# of 1,000,000 values and more on /dev/shm (250,000 list items, 250,000 table
# entries whose values are tables of two, 1.75 million stored values in all,
# 250,004 containers), then `pmtool dump`, `pmtool restore` and `pmtool check`
# timed, each against its target (the issue's: 10, 10 and 5 seconds), and the
# restored pool dumped again and compared. BENCH_QUICK=1: 50,000 values.
set -u
BUILD=${1:?usage: sh bench/pmtool.sh BUILD}
dir=$(mktemp -d /dev/shm/pmtool-bench.XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$dir"' EXIT INT TERM
rounds=100
[ "${BENCH_QUICK:-0}" = 1 ] && rounds=5
cat >"$dir/make.lua" <<'LUA'
local p = assert(pmem.open(arg[1], "x", 1 << 30))
p.root = { l = p:list(), t = {} }
local l, t = p.root.l, p.root.t
for b = 0, tonumber(arg[2]) - 1 do
  p:transaction(function()
    for i = b * 2500 + 1, b * 2500 + 2500 do
      l:append(i % 3 == 0 and ("str" .. i) or i % 3 == 1 and i or i * 0.5)
      t["k" .. i] = { i, "v" .. i }
    end
  end)
end
p:close()
LUA
"$BUILD/pmlua" "$dir/make.lua" "$dir/a.pmem" $rounds || exit 1
secs() { date +%s.%N; }
fail=0
# timed NAME TARGET CMD... -- run, print the seconds against the target
timed() {
	name=$1 target=$2; shift 2
	t0=$(secs)
	"$@" >"$dir/out" 2>&1 || { echo "  $name: failed: $(tail -n 1 "$dir/out")"; fail=1; return; }
	t=$(echo "$(secs) - $t0" | bc)
	verdict=ok; [ "$(echo "$t > $target" | bc)" = 1 ] && { verdict="OVER TARGET"; fail=1; }
	printf '  %-8s %6.2f s  (target %s s)  %s\n' "$name" "$t" "$target" "$verdict"
}
echo
echo "pmtool on /dev/shm: $("$BUILD/pmtool" info "$dir/a.pmem" | sed -n 's/^values by type  //p')"
timed dump 10 "$BUILD/pmtool" dump "$dir/a.pmem" "$dir/a.txt"
timed restore 10 "$BUILD/pmtool" restore "$dir/a.txt" "$dir/b.pmem"
timed check 5 "$BUILD/pmtool" check "$dir/a.pmem"
"$BUILD/pmtool" dump "$dir/b.pmem" "$dir/b.txt" && cmp -s "$dir/a.txt" "$dir/b.txt" &&
	echo "  dump, restore, dump: byte-identical ($(wc -c <"$dir/a.txt") bytes)" ||
	{ echo "  dump, restore, dump: DIFFERENT"; fail=1; }
exit $fail
