#!/bin/sh
# run.sh BUILD -- `make bench`: pmlua's speed as ratios to baselines measured
# in the same invocation, one table per pool setting.
#
# Builds BUILD/c_baseline (bench/c_baseline.c, libpmemobj used directly) and
# BUILD/bench/bench_clock.so (bench/clock.c, a wall clock for Lua), then runs
# c_baseline and `BUILD/pmlua bench/bench.lua` in each setting:
#
#   shm_force  pools in /dev/shm, PMEM_IS_PMEM_FORCE=1 (flushes are CPU cache
#              flushes, as on real persistent memory)
#   shm        pools in /dev/shm, PMEM_IS_PMEM_FORCE=0 (flushes are msync on
#              tmpfs: cheap system calls)
#   file       pools on an ordinary file system ($BENCH_DIR, default /tmp):
#              every flush is an msync to disk, about 1 ms per transaction,
#              so the counts are much smaller
#
# Every figure is the median of BENCH_REPS repetitions (default 5; 3 on the
# file). The machine is shared and noisy: compare ratios, not absolute
# numbers, and rerun before believing a near miss. Ratios use wall time
# (BENCH_CLOCK=cpu switches to CPU time; the raw lines show both: on /dev/shm
# they agree unless another process took the CPU, on a file wall time is
# larger because the process waits for msync).
#
# Environment knobs:
#   BENCH_SETTINGS   settings to run (default "shm_force shm file")
#   BENCH_REPS       repetitions on /dev/shm (default 5)
#   BENCH_DIR        directory for the file setting (default /tmp)
#   BENCH_GC_SIZES   GC pool sizes in objects for both /dev/shm settings
#                    (default 10000,100000,1000000; "none" skips; the 1M pool
#                    takes about 1 GiB of /dev/shm and 5 s to build)
#   BENCH_GC_SIZES_FILE  the same for the file setting (default 10000: building
#                    costs about 0.5 ms per object there)
#   BENCH_RAW=0      do not print the raw lines under each table
#
# pmlua reads a metamethod's arguments straight from Lua's stack (proved at
# startup, src/lb_peek.h); the "C API path" rows run the reads again with
# PMLUA_API_READS=1, the path pmem.so takes in another interpreter. They
# have no target.
# All pool files are removed at the end, also on error or interrupt.
set -u
BUILD=${1:?usage: sh bench/run.sh BUILD}
cd "$(dirname "$0")/.."

SETTINGS=${BENCH_SETTINGS:-shm_force shm file}
REPS=${BENCH_REPS:-5}
CLOCK=${BENCH_CLOCK:-wall}
GC_SHM=${BENCH_GC_SIZES:-10000,100000,1000000}
GC_FILE=${BENCH_GC_SIZES_FILE:-10000}

mkdir -p "$BUILD/bench"
cc -O2 bench/c_baseline.c -lpmemobj -o "$BUILD/c_baseline" || exit 1
have_clock=1
cc -O2 -shared -fPIC -I/usr/include/lua5.4 -Ivendor/root/usr/include/lua5.4 \
	bench/clock.c -o "$BUILD/bench/bench_clock.so" || have_clock=0

work=$(mktemp -d "/dev/shm/pmlua-bench.XXXXXX") || exit 1
filedir=$(mktemp -d "${BENCH_DIR:-/tmp}/pmlua-bench.XXXXXX") || { rm -rf "$work"; exit 1; }
logs=$(mktemp -d) || exit 1
cleanup() { rm -rf "$work" "$filedir" "$logs"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

PMLUA=$BUILD/pmlua
export LUA_CPATH="$BUILD/bench/?.so;;"

# table RAWFILE TITLE -- print the ratio table of one setting
table() {
	awk -v title="$2" -v clock="$CLOCK" -v raw="${BENCH_RAW:-1}" '
	function have(n) { return (n in t) && t[n] > 0 && ops[n] > 0 }
	function rate(n) { return ops[n] / t[n] }
	function frate(r) {
		if (r >= 1e6) return sprintf("%.2fM/s", r / 1e6)
		if (r >= 1e3) return sprintf("%.1fk/s", r / 1e3)
		return sprintf("%.0f/s", r)
	}
	function fus(s) { return sprintf("%.3gus", s * 1e6) }
	function line(what, a, b, ratio, tgt, ok) {
		printf "  %-30s %12s %14s %7s  %-7s %s\n", what, a, b, ratio, tgt, ok
		if (ok == "yes") met++
		if (ok != "") total++
	}
	function verdict(r, op, lim) {
		return (op == ">=" ? r >= lim : r <= lim) ? "yes" : "NO"
	}
	# rate ratio row: pm ops/s over baseline ops/s
	function ratio_row(what, pm, base, bname, lim) {
		if (!have(pm) || !have(base)) {
			line(what, have(pm) ? frate(rate(pm)) : "n/a",
			     have(base) ? frate(rate(base)) " " bname : "n/a", "-", ">= " lim, "n/a")
			return
		}
		r = rate(pm) / rate(base)
		line(what, frate(rate(pm)), frate(rate(base)) " " bname,
		     sprintf("%.2f", r), ">= " lim, verdict(r, ">=", lim))
	}
	# a ratio without a target: the reads of pmem.so in another interpreter
	function info_row(what, pm, base) {
		if (have(pm) && have(base))
			line(what, frate(rate(pm)), frate(rate(base)) " Lua",
			     sprintf("%.2f", rate(pm) / rate(base)), "(info)", "")
	}
	BEGIN { col = clock == "cpu" ? 4 : 3 }
	/^skip / { skips[++ns] = $0; rawl[++nr] = $0; next }
	/^#/ { notes[++nn] = $0; rawl[++nr] = $0; next }
	NF >= 4 && $2 + 0 > 0 { ops[$1] = $2; t[$1] = $col; rawl[++nr] = $0; next }
	{ rawl[++nr] = $0 }
	END {
		print ""
		print "== " title " =="
		printf "  %-30s %12s %14s %7s  %-7s %s\n", "measure", "pmlua", "baseline", "ratio", "target", "met"
		ratio_row("t.k read", "pm_table_read", "lua_plain_read", "Lua", 0.25)
		ratio_row("t.a+t.b+t.c+t.d reads", "pm_table_read4", "lua_plain_read4", "Lua", 0.25)
		ratio_row("l[i] read", "pm_list_read", "lua_plain_list_read", "Lua", 0.25)
		info_row("t.k read, C API path", "pm_table_read_api", "lua_plain_read_api")
		info_row("l[i] read, C API path", "pm_list_read_api", "lua_plain_list_read_api")
		ratio_row("t.k = v (atomic)", "pm_set1", "c_tx1", "C", 0.5)
		ratio_row("l:append(v)", "pm_append", "c_append", "C", 0.5)
		# growth: time of the last tenth of the appends over the first tenth
		if (have("pm_append_last") && have("pm_append_first")) {
			r = t["pm_append_last"] / t["pm_append_first"]
			cr = "n/a"
			if (have("c_append_last") && have("c_append_first"))
				cr = sprintf("%.2f C", t["c_append_last"] / t["c_append_first"])
			line("append last/first tenth (" ops["pm_append"] ")", sprintf("%.2f", r), cr,
			     sprintf("%.2f", r), "<= 1.5", verdict(r, "<=", 1.5))
		} else
			line("append last/first tenth", "n/a", "", "-", "<= 1.5", "n/a")
		# 100 writes in one transaction: per-write cost, pmlua over C
		if (have("pm_tx100") && have("c_tx100")) {
			a = t["pm_tx100"] / ops["pm_tx100"]; b = t["c_tx100"] / ops["c_tx100"]
			line("100 writes/tx, per write", fus(a), fus(b) " C",
			     sprintf("%.2f", a / b), "<= 3", verdict(a / b, "<=", 3))
		} else
			line("100 writes/tx, per write", have("pm_tx100") ? fus(t["pm_tx100"] / ops["pm_tx100"]) : "n/a",
			     have("c_tx100") ? fus(t["c_tx100"] / ops["c_tx100"]) " C" : "n/a", "-", "<= 3", "n/a")
		# a collection after removing one child: children pointing back at
		# the root, against none
		if (have("gc_back") && have("gc_noback")) {
			r = t["gc_back"] / t["gc_noback"]
			line("gc(), back-pointers/none", fus(t["gc_back"]), fus(t["gc_noback"]) " none",
			     sprintf("%.2f", r), "<= 3", verdict(r, "<=", 3))
		}
		# pmem.open of a cleanly closed pool (the smallest GC pool), in ms
		for (k in t) if (k ~ /^gc_open_[0-9]+$/ && (small == "" || substr(k, 9) + 0 < small + 0))
			small = substr(k, 9)
		if (small != "")
			line("pmem.open, clean pool (" small ")", sprintf("%.2fms", t["gc_open_" small] * 1000),
			     "", "-", "<= 3ms", verdict(t["gc_open_" small] * 1000, "<=", 3))
		printf "  targets met: %d of %d\n", met, total
		# GC figures, sizes in increasing order
		ng = 0
		for (k in t) if (k ~ /^gc_open_[0-9]+$/) { n = substr(k, 9) + 0; g[++ng] = n }
		for (i = 2; i <= ng; i++) for (j = i; j > 1 && g[j-1] > g[j]; j--) { x = g[j]; g[j] = g[j-1]; g[j-1] = x }
		if (ng) {
			printf "  %-12s %10s %12s %10s %10s   (seconds)\n", "GC objects", "open", "change 100", "gc", "close"
			for (i = 1; i <= ng; i++) {
				n = g[i]
				printf "  %-12d %10.4f %12.4f %10.4f %10.4f\n", n, t["gc_open_" n],
				       t["gc_change_" n], t["gc_gc_" n], t["gc_close_" n]
			}
		}
		for (i = 1; i <= ns; i++) print "  " skips[i]
		if (raw + 0) {
			print "  raw (name ops wall_s cpu_s, medians):"
			for (i = 1; i <= nr; i++) print "    " rawl[i]
		}
	}' "$1"
}

# run_setting NAME DIR FORCE -- run both programs in one setting, print its table
run_setting() {
	name=$1 dir=$2 force=$3
	out=$logs/$name.out err=$logs/$name.err
	case $name in
	file)
		reps=${BENCH_FILE_REPS:-3}
		cargs="1000 2000 20 $reps"
		largs="reps=$reps read_time=0.1 set1=1000 append=2000 tx100=20 gc=$GC_FILE"
		title="ordinary file ($(df -PT "$dir" | awk 'NR==2 {print $2}') at $dir), $reps reps, small counts: 2000 appends, not 100k"
		;;
	shm)
		reps=$REPS
		cargs="200000 100000 2000 $reps"
		largs="reps=$reps set1=100000 append=100000 tx100=1000 gc=$GC_SHM"
		title="/dev/shm, PMEM_IS_PMEM_FORCE=0 (msync on tmpfs)"
		;;
	*)
		reps=$REPS
		cargs="200000 100000 2000 $reps"
		largs="reps=$reps set1=100000 append=100000 tx100=1000 gc=$GC_SHM"
		title="/dev/shm, PMEM_IS_PMEM_FORCE=1 (cache-line flushes)"
		;;
	esac
	echo "bench: $name: C baseline..." >&2
	# shellcheck disable=SC2086
	PMEM_IS_PMEM_FORCE=$force "$BUILD/c_baseline" "$dir" $cargs >"$out" 2>"$err" ||
		echo "# c_baseline failed (exit $?): $(tail -n 1 "$err")" >>"$out"
	if [ -x "$PMLUA" ]; then
		echo "bench: $name: pmlua..." >&2
		# shellcheck disable=SC2086
		PMEM_IS_PMEM_FORCE=$force "$PMLUA" bench/bench.lua "$dir" $largs >>"$out" 2>"$err"
		rc=$?
		[ $rc -eq 0 ] || echo "# pmlua bench.lua failed (exit $rc): $(tail -n 3 "$err" | tr '\n' ' ')" >>"$out"
		# the reads again through the C API only, as pmem.so reads in lua5.4
		PMLUA_API_READS=1 PMEM_IS_PMEM_FORCE=$force "$PMLUA" bench/bench.lua "$dir" \
			only=read reps=$reps tag=_api >>"$out" 2>>"$err" ||
			echo "# pmlua bench.lua (C API reads) failed" >>"$out"
	else
		echo "# $PMLUA not built: pmlua figures skipped" >>"$out"
	fi
	rm -f "$dir"/*.pool "$dir"/*.pmem
	table "$out" "$title"
}

echo "pmlua bench: ratios to baselines measured now; medians; $CLOCK-clock ratios; the machine is noisy."
[ $have_clock -eq 1 ] || echo "(bench_clock did not build: Lua times are os.clock CPU time)"
for s in $SETTINGS; do
	case $s in
	shm_force) run_setting shm_force "$work" 1 ;;
	shm) run_setting shm "$work" 0 ;;
	file) run_setting file "$filedir" 0 ;;
	*) echo "bench: unknown setting '$s'" >&2 ;;
	esac
done
exit 0
