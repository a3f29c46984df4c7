#!/bin/sh
# run-examples.sh PMLUA -- what 'make run' shows: the tutorial's programs
# played through the real example scripts, in a fresh temporary directory.
#
#   hello world twice (a name on stdin, then no input: it remembers), then
#   one whole guessing game won by binary search on the HIGH/LOW answers,
#   with guess_status part-way and after the end.
#
# Prints a transcript like the tutorial's sessions. Exits 0 when every
# step answered as expected, non-zero otherwise. Removes its directory.
set -u
: "${1:?usage: run-examples.sh PMLUA}"
case $1 in /*) PMLUA=$1 ;; *) PMLUA=$PWD/$1 ;; esac
root=$(cd "$(dirname "$0")/.." && pwd)
ex=$root/examples
dir=$(mktemp -d "${TMPDIR:-/tmp}/pmlua-examples.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
trap 'exit 1' INT TERM
cd "$dir" || exit 1

fail() { echo "run-examples: FAILED: $*" >&2; exit 1; }

# run NAME EXPECTED [ARGS...] -- run an example (stdin from $input), show
# "> NAME ARGS" and what it printed, check EXPECTED appears in its output
input=
run() {
	name=$1 expect=$2; shift 2
	case $name in
	hello_world) script=$ex/hello_world.lua ;;
	*) script=$ex/guessing/$name.lua ;;
	esac
	echo "> $name${*:+ $*}"
	out=$(printf '%s' "$input" | "$PMLUA" "$script" "$@" 2>&1)
	rc=$?
	# the player's typed line is not echoed when stdin is a pipe: put it back
	if [ -n "$input" ]; then
		out=$(printf '%s\n' "$out" | sed "1s/^\(.*?  *\)/\1$(printf '%s' "$input" | head -n1)\n/")
	fi
	printf '%s\n' "$out"
	case $out in *"$expect"*) ;; *) fail "$name $*: expected '$expect' (exit $rc)" ;; esac
	input=
}

echo "== hello world: remembers your name between runs"
input=David; run hello_world "Hello, David"
[ -f hello_world.pmem ] || fail "hello_world.pmem was not created"
run hello_world "Hello, David"
out=$("$PMLUA" "$ex/hello_world.lua" </dev/null 2>&1)
case $out in *"What is your name"*) fail "hello_world asked again" ;; esac

echo
echo "== the guessing game, one command per move"
input=David; run start_guessing "David, I've picked a number between 1 and 50."
run guess_status "No guesses yet"
run guess "Please specify an integer; abc is not valid" abc
lo=1 hi=50 n=0
while :; do
	[ "$lo" -le "$hi" ] || fail "binary search ran out of numbers"
	g=$(( (lo + hi) / 2 ))
	echo "> guess $g"
	out=$("$PMLUA" "$ex/guessing/guess.lua" "$g" 2>&1)
	printf '%s\n' "$out"
	n=$((n + 1))
	case $out in
	*"too low."*) lo=$((g + 1)) ;;
	*"too high."*) hi=$((g - 1)) ;;
	*"You guessed my number in $n tries, David."*) break ;;
	*) fail "guess $g: unexpected answer" ;;
	esac
	[ "$n" -eq 2 ] && run guess_status "guesses so far:"
	[ "$n" -le 6 ] || fail "binary search took more than 6 guesses"
done
[ -f guessing_game.pmem ] && fail "the game file was not removed after the win"
run guess_status "No game in progress."

echo
echo "run-examples: all examples behaved as expected"
