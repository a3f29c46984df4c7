#!/bin/sh
# memcheck.sh -- a subset of the test suites under valgrind's memcheck, every
# pmlua process of them included (the suites' own, the children they start):
# prints one line of counts, and fails if a suite fails or memcheck reports
# an error.
#
# usage: PMLUA=build/pmlua sh tests/memcheck.sh      (make torture runs it)
#
# libpmemobj is the debug build of libpmemobj1-debug when it is installed
# (its own checks on, its frames named in reports). tests/memcheck.supp
# holds the suppressions, each explained. MEMCHECK_TESTS overrides the
# subset; the default and why it is a subset: see SUITES below.
set -u
cd "$(dirname "$0")/.."
: "${PMLUA:?PMLUA must name the pmlua binary}"
command -v valgrind >/dev/null || { echo "memcheck: valgrind is not installed (scripts/deps.sh)"; exit 1; }

# The suites at the core of the API: tables, lists, objects, classes, values,
# transactions, the collector, the fuzzer and the differential test (smaller
# counts). Left out: the tests of pools that need a trial open (crashed or
# damaged pools: test_damage, test_open, the kill and crash tests of the
# others, matched by EXCLUDE): the checker a trial open spawns is pmlua run
# again as /proc/self/exe, which under valgrind is valgrind's own tool, so
# memcheck cannot follow it (make check runs them all under ASan+UBSan);
# and the suites whose work is counts of processes or time (test_crash,
# test_powerfail, test_mutants, test_wal, test_bench, test_room, test_cli,
# test_examples, ...), which at memcheck's 20-50x slowdown on 2 cores would
# take hours.
SUITES="tests/test_table.lua tests/test_list.lua tests/test_object.lua tests/test_classes.lua
tests/test_values.lua tests/test_tx.lua tests/test_gc.lua tests/test_robustness.lua
tests/test_fuzz.lua tests/test_differential.lua"
EXCLUDE="-x crash -x kill -x os_exit"

real=$(cd "$(dirname "$PMLUA")" && pwd)/$(basename "$PMLUA")
logs=$(mktemp -d /tmp/pmlua-memcheck.XXXXXX)
trap 'rm -rf "$logs"' EXIT
dbg=/usr/lib/x86_64-linux-gnu/pmdk_dbg
[ -f "$dbg/libpmemobj.so.1" ] && export LD_LIBRARY_PATH="$dbg${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# the wrapper the suites run as PMLUA: every process under memcheck, one log
# each; errors are counted from the logs, not by exit status
cat >"$logs/pmlua" <<EOF
#!/bin/sh
exec valgrind --tool=memcheck --child-silent-after-fork=no \
  --suppressions=$PWD/tests/memcheck.supp --log-file=$logs/vg.%p -q "$real" "\$@"
EOF
chmod +x "$logs/pmlua"
chmod 1777 "$logs"                       # tests may run pmlua as another user

start=$(date +%s)
PMLUA="$logs/pmlua" LUAUNIT_ARGS="$EXCLUDE" PMLUA_FUZZ_OPS=${PMLUA_FUZZ_OPS:-1000} PMLUA_DIFF_OPS=${PMLUA_DIFF_OPS:-3000} \
  TESTS="${MEMCHECK_TESTS:-$SUITES}" sh tests/run.sh >"$logs/run.out" 2>&1
rc=$?
if [ "$rc" -eq 0 ]; then grep -E '^(ok|FAIL)|passed' "$logs/run.out"; else cat "$logs/run.out"; fi
procs=$(ls "$logs" | grep -c '^vg\.')
# memcheck's "ERROR SUMMARY: N errors" of each process, summed
errors=$(cat "$logs"/vg.* | sed -nE 's/.*ERROR SUMMARY: ([0-9]+) errors.*/\1/p' | awk '{s += $1} END {print s + 0}')
if [ "$errors" -gt 0 ]; then
	for f in "$logs"/vg.*; do grep -q 'ERROR SUMMARY: [1-9]' "$f" && head -n 60 "$f"; done | head -n 200
fi
suites=$(echo ${MEMCHECK_TESTS:-$SUITES} | wc -w)
echo "memcheck: $suites suites, $procs processes, $errors errors, $(( $(date +%s) - start )) s"
[ "$rc" -eq 0 ] && [ "$errors" -eq 0 ]
