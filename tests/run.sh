#!/bin/sh
# run.sh -- run every test file, print a final "N passed, M failed" line.
#
# tests/test_*.lua are LuaUnit suites run by $PMLUA from the repository root.
# Each prints LuaUnit's "Ran N tests ... N successes, M failures, K errors" line,
# which is summed here. A suite that dies without that line counts as a failure;
# skipped tests are counted on the suite's line, with the reasons the suite
# printed ("  skipped: why", helper.skip).
# TESTS="tests/test_list.lua ..." runs a subset; LUAUNIT_ARGS is given to every
# suite (e.g. "-x crash": leave out the tests whose names match).
set -u
cd "$(dirname "$0")/.."
: "${PMLUA:?PMLUA must name the pmlua binary}"
export PMLUA LUA_PATH="$PWD/tests/?.lua;;"
# LUAUNIT_DIR (set by make VENDOR=1): where luaunit.lua is; else the system's or vendor/'s
luaunit_dir=${LUAUNIT_DIR:-$(dirname "$(ls /usr/share/lua/5.4/luaunit.lua vendor/root/usr/share/lua/5.4/luaunit.lua 2>/dev/null | head -n1)")}
LUA_PATH="$PWD/tests/?.lua;$luaunit_dir/?.lua;;"
export LUA_PATH
passed=0 failed=0
log=$(mktemp)
# every pool a suite leaves behind is checked by pmtool when it exits
# (helper.lua); the suites that damage pools on purpose are named here
pmtool=$(dirname "$PMLUA")/pmtool
sweep=
if [ -x "$pmtool" ] && [ -z "${PMTOOL_SWEEP+x}" ]; then sweep=$(mktemp); export PMTOOL_SWEEP="$sweep"; fi
DAMAGING="test_damage test_mutants test_wal test_robustness test_powerfail test_pool test_pmtool"
for t in ${TESTS:-tests/test_*.lua}; do
	start=$(date +%s)
	# shellcheck disable=SC2086
	"$PMLUA" "$t" -o text ${LUAUNIT_ARGS:-} >"$log" 2>&1
	rc=$?
	line=$(grep -E '^Ran [0-9]+ tests' "$log" | tail -n1)
	# LuaUnit writes "1 success", "2 successes", "1 failure", "1 error", ...
	ok=$(echo "$line" | sed -nE 's/.* ([0-9]+) success(es)?.*/\1/p')
	bad=$(echo "$line" | sed -nE 's/.* ([0-9]+) failures?.*/\1/p')
	err=$(echo "$line" | sed -nE 's/.* ([0-9]+) errors?.*/\1/p')
	skip=$(echo "$line" | sed -nE 's/.* ([0-9]+) skipped.*/\1/p')
	ok=${ok:-0} bad=${bad:-0} err=${err:-0}
	if [ -z "$line" ] || { [ "$rc" -ne 0 ] && [ "$bad" -eq 0 ] && [ "$err" -eq 0 ]; }; then
		echo "FAIL $t (exit $rc, no LuaUnit summary)"; tail -n 30 "$log"
		failed=$((failed + 1)); continue
	fi
	if [ $((bad + err)) -gt 0 ]; then
		echo "FAIL $t: $line"; grep -vE '^(\.|Ran |OK$)' "$log" | head -n 60
	else
		echo "ok   $t: $ok tests${skip:+, $skip skipped} ($(( $(date +%s) - start ))s)"
		# the counts a suite reports of its own (mutants, kills), why tests skipped (once)
		grep -E '^(mutants|  kill -9|  powerfail|  fuzz|  resources|  docs|  skipped)' "$log" | uniq | sed 's/^ */     /'
	fi
	passed=$((passed + ok)) failed=$((failed + bad + err))
done
rm -f "$log"
if [ -n "$sweep" ]; then
	total=$(wc -l <"$sweep") bad=0
	while IFS='	' read -r suite pool rc msg; do
		[ "$rc" = 0 ] && continue
		case "$msg" in *"in use"*) continue ;; esac
		case " $DAMAGING " in *" $(basename "$suite" .lua) "*) continue ;; esac
		echo "FAIL pmtool check of a pool $suite left: $msg"; bad=$((bad + 1))
	done <"$sweep"
	sound=$(awk -F'	' '$3 == 0' "$sweep" | wc -l)
	echo "pmtool check: $total pools left by the suites, $sound sound, $bad unsound outside $DAMAGING"
	[ "$bad" -gt 0 ] && failed=$((failed + 1))
	rm -f "$sweep"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
