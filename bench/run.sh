#!/bin/sh
# run.sh BUILD -- `make bench`, in two parts, both measured in this invocation:
#
#   1. ratios: pmlua's speed as ratios to baselines (a C program using
#      libpmemobj directly, and plain Lua), one table per pool setting
#   2. compare: pmlua against what a Lua programmer would pick instead to keep
#      state across runs (SQLite through LuaSQL, a serialised file rewritten on
#      each change, plain Lua tables as the ceiling, the C baseline), six
#      workloads, on an ordinary disk and on /dev/shm; a table of rates and
#      ratios, and a chart (gnuplot) in BUILD/bench/compare.svg and .png
#
# Part 1: builds BUILD/c_baseline (bench/c_baseline.c, libpmemobj used directly)
# and BUILD/bench/bench_clock.so (bench/clock.c, a wall clock for Lua), then runs
# c_baseline and `BUILD/pmlua bench/bench.lua` in each setting:
#
#   shm_force  pools in /dev/shm, PMEM_IS_PMEM_FORCE=1 (flushes are CPU cache
#              flushes, as on real persistent memory)
#   shm        pools in /dev/shm, PMEM_IS_PMEM_FORCE=0: pmlua's log engine
#              (docs/durability.md; its fdatasync is free on tmpfs); the C
#              baseline's flushes are msync calls
#   file       pools on an ordinary file system ($BENCH_DIR, default /tmp):
#              pmlua's log engine, one fdatasync per commit; the C baseline
#              msyncs every flush, so its counts are much smaller
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
#   BENCH_PARTS      parts to run (default "ratios compare pmtool"; pmtool:
#                    bench/pmtool.sh, dump, restore and check of a pool of a
#                    million values and more)
#   BENCH_QUICK=1    (make bench QUICK=1) a smoke run in under a minute: small
#                    counts, no large GC pools, 3 repetitions; its figures are
#                    noisy, only good to show that every row still runs
#
# Part 2 (compare), see bench/compare.lua for the workloads and stores:
#   media      an ordinary disk directory, BUILD/bench/disk.* (the build's
#              file system; BENCH_DISK_DIR overrides), and /dev/shm; pmlua and
#              the C baseline with and without PMEM_IS_PMEM_FORCE=1, the others
#              without (it changes nothing for them)
#   BENCH_CMP_REPS   repetitions (default 3)
#   BENCH_CMP_TARGET seconds one repetition of a write workload aims at (0.3)
#   BENCH_CMP_MEDIA  media to run (default "disk shm")
#   BENCH_OUT        directory for the chart and its data (default BUILD/bench)
#   SQLite needs LuaSQL (Debian lua-sql-sqlite3) and the chart gnuplot
#   (gnuplot-nox), both installed by scripts/deps.sh; a missing one is said in
#   the table, and the rest runs. The children of the "start, open, read,
#   exit" workload run under BUILD/pmlua for pmlua and under lua5.4 for the
#   others. The chart is BENCH_OUT/compare.svg and .png, its data
#   BENCH_OUT/compare.dat, the raw lines BENCH_OUT/compare.raw, the tables in
#   Markdown BENCH_OUT/compare.md.
#
# pmlua reads a metamethod's arguments straight from Lua's stack (proved at
# startup, src/lb_peek.h); the "C API path" rows run the reads again with
# PMLUA_API_READS=1, the path pmem.so takes in another interpreter. They
# have no target.
# All pool files are removed at the end, also on error or interrupt.
set -u
BUILD=${1:?usage: sh bench/run.sh BUILD}
BUILD=$(cd "$BUILD" && pwd) || exit 1
cd "$(dirname "$0")/.."

QUICK=${BENCH_QUICK:-0}
[ "$QUICK" = 1 ] || QUICK=0
PARTS=${BENCH_PARTS:-ratios compare pmtool}
SETTINGS=${BENCH_SETTINGS:-shm_force shm file}
if [ $QUICK = 1 ]; then
	REPS=${BENCH_REPS:-3}
	GC_SHM=${BENCH_GC_SIZES:-2000}
	GC_FILE=${BENCH_GC_SIZES_FILE:-1000}
else
	REPS=${BENCH_REPS:-5}
	GC_SHM=${BENCH_GC_SIZES:-10000,100000,1000000}
	GC_FILE=${BENCH_GC_SIZES_FILE:-10000}
fi
CLOCK=${BENCH_CLOCK:-wall}
started=$(date +%s)

mkdir -p "$BUILD/bench"
cc -O2 bench/c_baseline.c -lpmemobj -o "$BUILD/c_baseline" || exit 1
have_clock=1
cc -O2 -shared -fPIC -I/usr/include/lua5.4 -Ivendor/root/usr/include/lua5.4 \
	bench/clock.c -o "$BUILD/bench/bench_clock.so" || have_clock=0
cc -O2 -shared -fPIC -I/usr/include/lua5.4 -Ivendor/root/usr/include/lua5.4 \
	bench/bench_sys.c -o "$BUILD/bench/bench_sys.so" ||
	echo "bench: bench/bench_sys.c did not build: the file store and start-up rows are skipped" >&2

work=$(mktemp -d "/dev/shm/pmlua-bench.XXXXXX") || exit 1
filedir=$(mktemp -d "${BENCH_DIR:-/tmp}/pmlua-bench.XXXXXX") || { rm -rf "$work"; exit 1; }
diskdir=$(mktemp -d "${BENCH_DISK_DIR:-$BUILD/bench}/disk.XXXXXX") || { rm -rf "$work" "$filedir"; exit 1; }
logs=$(mktemp -d) || exit 1
cleanup() { rm -rf "$work" "$filedir" "$diskdir" "$logs"; }
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
	case $QUICK$name in
	1file)
		reps=3
		cargs="50 100 3 $reps"
		rt=0.02
		largs="reps=$reps read_time=$rt set1=50 append=100 tx100=3 gc=$GC_FILE gc_back=1000"
		title="ordinary file ($(df -PT "$dir" | awk 'NR==2 {print $2}') at $dir), QUICK: 3 reps, tiny counts"
		;;
	1*)
		reps=$REPS
		cargs="10000 10000 100 $reps"
		rt=0.02
		largs="reps=$reps read_time=$rt set1=10000 append=10000 tx100=100 gc=$GC_SHM gc_back=2000"
		title="/dev/shm, PMEM_IS_PMEM_FORCE=$force, QUICK: 3 reps, small counts"
		;;
	0file)
		reps=${BENCH_FILE_REPS:-3}
		cargs="1000 2000 20 $reps"
		rt=
		largs="reps=$reps read_time=0.1 set1=1000 append=2000 tx100=20 gc=$GC_FILE"
		title="ordinary file ($(df -PT "$dir" | awk 'NR==2 {print $2}') at $dir), $reps reps, small counts: 2000 appends, not 100k"
		;;
	0shm)
		reps=$REPS
		cargs="200000 100000 2000 $reps"
		rt=
		largs="reps=$reps set1=100000 append=100000 tx100=1000 gc=$GC_SHM"
		title="/dev/shm, PMEM_IS_PMEM_FORCE=0 (pmlua: the log engine; C: msync on tmpfs)"
		;;
	*)
		reps=$REPS
		cargs="200000 100000 2000 $reps"
		rt=
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
			only=read reps=$reps ${rt:+read_time=$rt} tag=_api >>"$out" 2>>"$err" ||
			echo "# pmlua bench.lua (C API reads) failed" >>"$out"
	else
		echo "# $PMLUA not built: pmlua figures skipped" >>"$out"
	fi
	rm -f "$dir"/*.pool "$dir"/*.pmem
	table "$out" "$title"
}

# the machine and the date, for the tables and the chart
machine="$(nproc) cores, $(sed -n 's/^model name[[:space:]]*: *//p' /proc/cpuinfo | head -n1), \
Linux $(uname -r | cut -d- -f1), Debian $(cat /etc/debian_version 2>/dev/null), $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "pmlua bench on $machine"
[ $QUICK = 1 ] && echo "QUICK=1: a smoke run, small counts; the figures are noisy"

case " $PARTS " in *" ratios "*)
echo
echo "== part 1: ratios to baselines measured now; medians; $CLOCK-clock ratios; the machine is noisy =="
[ $have_clock -eq 1 ] || echo "(bench_clock did not build: Lua times are os.clock CPU time)"
for s in $SETTINGS; do
	case $s in
	shm_force) run_setting shm_force "$work" 1 ;;
	shm) run_setting shm "$work" 0 ;;
	file) run_setting file "$filedir" 0 ;;
	*) echo "bench: unknown setting '$s'" >&2 ;;
	esac
done
;; esac

# --- part 2: pmlua against what a Lua programmer would pick instead ---------

# what LuaSQL (and libsqlite3) unpacked into vendor/ by a scripts/deps.sh run
# without root would need: searched after the system's
multi=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || cc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
vlib=$PWD/vendor/root/usr/lib/$multi
if [ -d "$vlib/lua/5.4" ]; then
	LUA_CPATH="$LUA_CPATH;$vlib/lua/5.4/?.so"
	LD_LIBRARY_PATH=${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$vlib
	export LD_LIBRARY_PATH
fi
# the interpreter of the other stores' start-up children
interp=$(command -v lua5.4 2>/dev/null || { [ -x vendor/root/usr/bin/lua5.4 ] && echo "$PWD/vendor/root/usr/bin/lua5.4"; } || echo "$PMLUA")
# (Debian's gnuplot-nox installs /usr/bin/gnuplot-nox, and gnuplot as an
# alternative, which an unpacked package lacks)
gnuplot=$(command -v gnuplot 2>/dev/null || command -v gnuplot-nox 2>/dev/null ||
	{ [ -x vendor/root/usr/bin/gnuplot-nox ] && echo "$PWD/vendor/root/usr/bin/gnuplot-nox"; } || true)

if [ $QUICK = 1 ]; then
	cmp_reps=${BENCH_CMP_REPS:-3} cmp_target=${BENCH_CMP_TARGET:-0.03}
	cmp_args="reads=100000 sql_reads=5000 spawns=2"
	c_disk="20 20 2" c_shm="5000 5000 50"
else
	cmp_reps=${BENCH_CMP_REPS:-3} cmp_target=${BENCH_CMP_TARGET:-0.3}
	cmp_args="reads=1000000 sql_reads=100000 spawns=20"
	c_disk="200 200 10" c_shm="100000 100000 1000"
fi

# cmp_c MEDIUM DIR FORCE -- the C baseline's lines, as compare.lua's
cmp_c() {
	# shellcheck disable=SC2086
	case $1 in disk) cargs=$c_disk ;; *) cargs=$c_shm ;; esac
	# shellcheck disable=SC2086
	if PMEM_IS_PMEM_FORCE=$3 "$BUILD/c_baseline" "$2" $cargs "$cmp_reps" >"$logs/c.out" 2>"$logs/c.err"; then
		awk '$1 == "c_tx1" { print "C update", $2, $3, $4 }
		     $1 == "c_append" { print "C append", $2, $3, $4 }
		     # c_baseline counts the writes of its 100-write transactions
		     $1 == "c_tx100" { print "C tx100", $2 / 100, $3, $4 }' "$logs/c.out"
	else
		echo "skip C all: c_baseline failed: $(tail -n 1 "$logs/c.err")"
	fi
	rm -f "$2"/*.pool
	if [ "$1" = shm ]; then echo "C durability process crash; not power loss (/dev/shm is RAM)"
	elif [ "$3" = 1 ]; then echo "C durability process crash; NOT power loss (PMEM_IS_PMEM_FORCE=1 on a disk file: no msync)"
	else echo "C durability power loss (libpmemobj msyncs each commit)"; fi
}

run_compare() {
	out_dir=${BENCH_OUT:-$BUILD/bench}
	mkdir -p "$out_dir" || return
	raw=$out_dir/compare.raw
	: >"$raw"
	if [ ! -x "$PMLUA" ]; then
		echo "bench: $PMLUA not built: no comparison" >&2
		return
	fi
	stores=$("$PMLUA" bench/compare.lua list) || { echo "bench: compare.lua list failed" >&2; return; }
	pmstores=$(echo "$stores" | grep '^pmlua')
	others=$(echo "$stores" | grep -v '^pmlua')
	for medium in ${BENCH_CMP_MEDIA:-disk shm}; do
		case $medium in
		disk) mdir=$diskdir ;;
		shm) mdir=$work ;;
		*) echo "bench: unknown medium '$medium'" >&2; continue ;;
		esac
		fs=$(df -PT "$mdir" | awk 'NR==2 {print $2}')
		echo "$medium 0 medium $fs $mdir" >>"$raw"
		for force in 0 1; do
			for st in $pmstores; do
				echo "bench: compare: $medium: $st, PMEM_IS_PMEM_FORCE=$force..." >&2
				# shellcheck disable=SC2086
				PMEM_IS_PMEM_FORCE=$force "$PMLUA" bench/compare.lua "$st" "$mdir" reps="$cmp_reps" \
					target="$cmp_target" $cmp_args medium="$medium" forced=$force pmlua="$PMLUA" \
					interp="$interp" 2>"$logs/cmp.err" | sed "s|^|$medium $force |" >>"$raw"
				grep -q . "$logs/cmp.err" && sed "s|^|$medium $force # $st stderr: |" "$logs/cmp.err" | tail -n 3 >>"$raw"
				rm -f "$mdir"/cmp.*
			done
			echo "bench: compare: $medium: C baseline, PMEM_IS_PMEM_FORCE=$force..." >&2
			cmp_c "$medium" "$mdir" $force | sed "s|^|$medium $force |" >>"$raw"
		done
		for st in $others; do
			echo "bench: compare: $medium: $st..." >&2
			# shellcheck disable=SC2086
			"$PMLUA" bench/compare.lua "$st" "$mdir" reps="$cmp_reps" target="$cmp_target" $cmp_args \
				medium="$medium" forced=0 interp="$interp" 2>"$logs/cmp.err" | sed "s|^|$medium 0 |" >>"$raw"
			grep -q . "$logs/cmp.err" && sed "s|^|$medium 0 # $st stderr: |" "$logs/cmp.err" | tail -n 3 >>"$raw"
			rm -f "$mdir"/cmp.*
		done
	done
	order=$(for st in $pmstores; do printf '%s:0 ' "$st"; done; echo "C:0"
		for st in $pmstores; do printf '%s:1 ' "$st"; done; echo "C:1"
		for st in $others; do printf '%s:0 ' "$st"; done)
	echo
	awk -v order="$(echo $order)" -v reps="$cmp_reps" -v quick=$QUICK -v machine="$machine" \
	    -v interp="$interp" -v dat="$out_dir/compare.dat" -v md="$out_dir/compare.md" \
	    -f bench/compare.awk "$raw"
	if [ -z "$gnuplot" ]; then
		echo "  chart: gnuplot is missing (Debian gnuplot-nox; scripts/deps.sh installs it): no chart"
	elif ! "$gnuplot" -e 'exit' 2>"$logs/gp.err"; then
		echo "  chart: $gnuplot does not run ($(head -n 1 "$logs/gp.err")): no chart"
	else
		dat=$out_dir/compare.dat
		# columns: "workload" and one per store (labels are quoted, with spaces)
		ncol=$(($(sed -n '$p' "$dat" | wc -w)))
		nblk=$(($(wc -l <"$dat.titles") - 1))
		t0=$(sed -n 1p "$dat.titles" | tr -d "'") t1=$(sed -n 2p "$dat.titles" | tr -d "'")
		cols=$(sed -n '$p' "$dat.titles")
		ok=1
		for fmt in svg png; do
			rm -f "$out_dir/compare.$fmt"
			"$gnuplot" -e "dat='$dat'; ncol=$ncol; nblk=$nblk; fmt='$fmt'; out='$out_dir/compare.$fmt'; machine='$(echo "$machine" | tr -d "'")'; t0='$t0'; t1='$t1'; cols='$cols'" \
				bench/chart.gp 2>"$logs/gp.err" || { ok=0; echo "  chart: gnuplot failed ($fmt): $(head -n 2 "$logs/gp.err" | tr '\n' ' ')"; }
		done
		[ $ok = 1 ] && echo "  chart: $out_dir/compare.svg and compare.png"
	fi
}

case " $PARTS " in *" compare "*) run_compare ;; esac
case " $PARTS " in *" pmtool "*) BENCH_QUICK=$QUICK sh bench/pmtool.sh "$BUILD" ;; esac
echo
echo "bench: done in $(( $(date +%s) - started )) s"
exit 0
