#!/bin/sh
# memcheck.sh -- test suites under valgrind's memcheck, every pmlua process
# of them included (the suites' own, the children they start, the checkers
# their trial opens spawn): prints one line of counts, and fails if a suite
# fails, memcheck reports an error or a process had to be stopped.
#
# usage: PMLUA=build/pmlua sh tests/memcheck.sh      (make torture runs it)
#
# libpmemobj is the debug build of libpmemobj1-debug when it is installed
# (its own checks on, its frames named in reports). tests/memcheck.supp
# holds the suppressions, each explained. MEMCHECK_TESTS overrides the
# suites (the default and why: see SUITES below); MEMCHECK_KEEP=1 keeps the
# logs and says where.
set -u
cd "$(dirname "$0")/.."
: "${PMLUA:?PMLUA must name the pmlua binary}"
command -v valgrind >/dev/null || { echo "memcheck: valgrind is not installed (scripts/deps.sh)"; exit 1; }

# The suites at the core of the API: tables, lists, objects, classes, values,
# transactions, the collector, robustness, the fuzzer and the differential
# test (smaller counts); and those of crashed, killed and damaged pools, whose opens run a
# trial open in a checker process (test_open, test_damage, the kill and
# crash tests of the others). Left out: the suites whose work is counts of
# processes or time (test_crash, test_powerfail, test_mutants, test_wal,
# test_bench, test_room, test_cli, test_examples, ...), which at memcheck's
# 20-50x slowdown on 2 cores would take hours; and, by EXCLUDE, two tests of
# pools whose allocation headers are damaged, which libpmemobj cannot open
# under valgrind (see the guard), and two of a lane whose log links pmlua's
# log reserve after a kill, whose recovery trips an assertion of the debug
# libpmemobj (memblock_from_offset_opt: the block type it finds there) that
# the release build does not have; make check runs all four under ASan+UBSan.
SUITES="tests/test_table.lua tests/test_list.lua tests/test_object.lua tests/test_classes.lua
tests/test_values.lua tests/test_tx.lua tests/test_gc.lua tests/test_robustness.lua
tests/test_fuzz.lua tests/test_differential.lua tests/test_open.lua tests/test_damage.lua"
EXCLUDE="-x test_full_collection_reports_damaged_garbage -x test_zeroed_allocation_header_in_an_unclean_pool
 -x test_log_reserve_linked_by_a_killed_collection -x test_damaged_link_into_the_log_reserve_is_refused"

real=$(cd "$(dirname "$PMLUA")" && pwd)/$(basename "$PMLUA")
logs=$(mktemp -d /tmp/pmlua-memcheck.XXXXXX)
guard=
trap '[ -n "$guard" ] && kill "$guard"; [ -z "${MEMCHECK_KEEP:-}" ] && rm -rf "$logs"' EXIT
dbg=/usr/lib/x86_64-linux-gnu/pmdk_dbg
[ -f "$dbg/libpmemobj.so.1" ] && export LD_LIBRARY_PATH="$dbg${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# the wrapper the suites run as PMLUA: every process under memcheck, one log
# each. valgrind follows pmlua's exec of itself as a trial open's checker
# (pml_pool.c spawns it by the name valgrind gives), and not the shell that
# io.popen and os.execute start: what the shell runs is native, and the
# pmlua processes it starts are this wrapper again. Errors are counted from
# the logs, one begin marker each, not by exit status (a killed process
# writes no summary).
cat >"$logs/pmlua" <<EOF
#!/bin/sh
exec valgrind --tool=memcheck --child-silent-after-fork=no --trace-children=yes \\
  --trace-children-skip='*/sh' --error-markers=MEMCHECK-ERROR, \\
  --suppressions=$PWD/tests/memcheck.supp --log-file=$logs/vg.%p "$real" "\$@"
EOF
chmod +x "$logs/pmlua"
chmod 1777 "$logs"                       # tests may run pmlua as another user

# The guard: libpmemobj under valgrind walks the heap of a pool it opens for
# its annotations, trusting the sizes it reads, and a damaged one can make it
# mark terabytes: memcheck's shadow of them grew to 22 GiB in minutes, most
# of the machine's memory (the tests left out above). A process of this run
# that passes MEMCHECK_MAX_MB of resident memory (default 4096) is killed,
# and counted.
max_kb=$(( ${MEMCHECK_MAX_MB:-4096} * 1024 ))
while :; do
	for pid in $(pgrep -f "$logs/vg"); do
		kb=$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$pid/status" 2>/dev/null)
		[ "${kb:-0}" -gt "$max_kb" ] && kill -9 "$pid" && echo "$pid $kb kB" >>"$logs/killed"
	done
	sleep 1
done &
guard=$!

# A checker under memcheck takes a few seconds, more on a loaded machine:
# trial opens wait 120 s (not 10) before they call a pool damaged; tests
# that give a shorter limit on purpose keep it. Smaller counts: the fuzzer,
# the differential test, the openers test_damage kills
start=$(date +%s)
PMLUA="$logs/pmlua" LUAUNIT_ARGS="$EXCLUDE" PMLUA_OPEN_TIMEOUT=${PMLUA_OPEN_TIMEOUT:-120} \
  PMLUA_FUZZ_OPS=${PMLUA_FUZZ_OPS:-1000} PMLUA_DIFF_OPS=${PMLUA_DIFF_OPS:-3000} \
  PMLUA_KILLED_OPENS=${PMLUA_KILLED_OPENS:-10} \
  TESTS="${MEMCHECK_TESTS:-$SUITES}" sh tests/run.sh >"$logs/run.out" 2>&1
rc=$?
kill "$guard"
guard=
if [ "$rc" -eq 0 ]; then grep -E '^(ok|FAIL)|passed' "$logs/run.out"; else cat "$logs/run.out"; fi
procs=$(ls "$logs" | grep -c '^vg\.')
checkers=$(grep -l -- '== Command: .* --pmlua-trial-open ' "$logs"/vg.* | wc -l)
errors=$(cat "$logs"/vg.* | grep -c '== MEMCHECK-ERROR$')
killed=$(cat "$logs/killed" 2>/dev/null | wc -l)
if [ "$errors" -gt 0 ]; then
	for f in "$logs"/vg.*; do
		grep -q '== MEMCHECK-ERROR$' "$f" || continue
		grep -m1 '== Command: ' "$f"
		sed -n '/== MEMCHECK-ERROR$/,/^==[0-9]*== $/p' "$f"
	done | head -n 300
fi
[ "$killed" -gt 0 ] && sed 's/^/memcheck: killed (memory): /' "$logs/killed"
[ -n "${MEMCHECK_KEEP:-}" ] && echo "memcheck: logs in $logs"
suites=$(echo ${MEMCHECK_TESTS:-$SUITES} | wc -w)
echo "memcheck: $suites suites, $procs processes ($checkers trial checkers), $errors errors," \
     "$killed killed, $(( $(date +%s) - start )) s"
[ "$rc" -eq 0 ] && [ "$errors" -eq 0 ] && [ "$killed" -eq 0 ]
