# compare.awk -- the table of `make bench`'s part 2 (bench/run.sh), from the
# lines of bench/compare.lua and the C baseline, each prefixed by
# "MEDIUM FORCED":
#
#   MEDIUM F medium FSTYPE DIR
#   MEDIUM F STORE WORKLOAD OPS WALL CPU      medians
#   MEDIUM F STORE durability TEXT...
#   MEDIUM F skip STORE WORKLOAD: REASON      (WORKLOAD "all": the whole store)
#   MEDIUM F # NOTE
#
# Variables: order (the rows, "STORE:FORCED ..."), reps, quick, machine, interp,
# dat (the gnuplot data file to write: one block per medium, a row per
# workload, a column per store, "?" where there is no figure), md (the same
# tables in Markdown, for docs/performance.md).
#
# Rates are ops per second: wall clock for the writes and the start-up (a sync
# or a child process is waited for), CPU time for the reads.

function label(key,    st, f, l) {
	st = key; sub(/:.*/, "", st); f = substr(key, length(st) + 2)
	if (st == "C") l = "C libpmemobj"
	else if (st == "sqlite-full") l = "SQLite FULL"
	else if (st == "sqlite-normal") l = "SQLite NORMAL"
	else if (st == "file") l = "file+rename"
	else if (st == "lua") l = "plain Lua"
	else { l = st; gsub(/-/, " ", l) }
	if (f == 1) l = l ", forced"
	return l
}
function frate(r) {
	if (r >= 1e6) return sprintf("%.1fM/s", r / 1e6)
	if (r >= 1e4) return sprintf("%.0fk/s", r / 1e3)
	if (r >= 1e3) return sprintf("%.1fk/s", r / 1e3)
	if (r >= 10) return sprintf("%.0f/s", r)
	return sprintf("%.1f/s", r)
}
# a ratio: 2.5x, 0.31x, or 1/N below 0.1
function fratio(r) {
	if (r >= 10) return sprintf("%.0fx", r)
	if (r >= 1) return sprintf("%.1fx", r)
	if (r >= 0.1) return sprintf("%.2fx", r)
	return sprintf("1/%.0f", 1 / r)
}
# a bar colour per row
function colour(key,    st, f) {
	st = key; sub(/:.*/, "", st); f = substr(key, length(st) + 2)
	if (st == "pmlua") return f == 1 ? "#7fa8e8" : "#1f5fbf"
	if (st ~ /^pmlua/) return f == 1 ? "#b9a6f0" : "#6a3fd0"
	if (st == "C") return f == 1 ? "#9fd3b0" : "#2e8b57"
	if (st == "sqlite-full") return "#e07b00"
	if (st == "sqlite-normal") return "#f5b86b"
	if (st == "file") return "#b03060"
	return "#9e9e9e"
}
# the durability in a few words, for the chart's legend
function short(d) {
	if (d ~ /^none/) return "survives nothing"
	if (d ~ /^power loss may/) return "power loss may drop last commits"
	if (d ~ /^power loss/) return "survives power loss"
	if (d ~ /^process crash; power loss may/) return "power loss may drop last commits"
	if (d ~ /NOT power loss/) return "crash only, NOT power loss"
	if (d ~ /^process crash/) return "crash only (RAM)"
	return d
}
# markdown: the tables again, into the file md
function markdown(    i, m, r, j, key, ref, w) {
	printf "" >md
	for (i = 1; i <= nm; i++) {
		m = M[i]
		printf "**%s** (%s), %s%s:\n\n", (m == "disk" ? "Ordinary disk" : "/dev/shm"), fs[m], machine, \
			quick ? " (QUICK=1: tiny counts, noisy)" : "" >>md
		printf "| store |" >>md
		for (j = 1; j <= nw; j++) printf " %s |", H[j] >>md
		printf " survives |\n|---|" >>md
		for (j = 1; j <= nw; j++) printf "---:|" >>md
		printf "---|\n" >>md
		for (r = 1; r <= nr; r++) {
			key = m " " R[r]
			if (key in gone) {
				printf "| %s | skipped: %s | | | | | | |\n", label(R[r]), gone[key] >>md
				continue
			}
			if (!(key in seen)) continue
			printf "| %s |", label(R[r]) >>md
			for (j = 1; j <= nw; j++)
				printf " %s |", ((key, W[j]) in rate) ? frate(rate[key, W[j]]) : "-" >>md
			printf " %s |\n", dur[key] >>md
		}
		ref = m " " R[1]
		if ((ref, "startup_ro") in rate)
			printf "| %s, start+read opening read-only (`\"r\"`) | | | | | | %s | |\n", \
				label(R[1]), frate(rate[ref, "startup_ro"]) >>md
		if (ref in seen) {
			printf "| *%s's rate over:* |", label(R[1]) >>md
			for (j = 1; j <= nw; j++) printf " |" >>md
			printf " |\n" >>md
			for (r = 2; r <= nr; r++) {
				key = m " " R[r]
				if (!(key in seen)) continue
				printf "| *%s* |", label(R[r]) >>md
				for (j = 1; j <= nw; j++) {
					w = W[j]
					printf " %s |", (((ref, w) in rate) && ((key, w) in rate)) ? \
						fratio(rate[ref, w] / rate[key, w]) : "-" >>md
				}
				printf " |\n" >>md
			}
		}
		printf "\n" >>md
	}
	close(md)
}
BEGIN {
	nw = split("insert update append tx100 read startup", W, " ")
	split("insert|update|append|tx of 100|reads|start+read", H, "|")
	nr = split(order, R, " ")
	nm = 0
}
$3 == "medium" { m = $1; M[++nm] = m; fs[m] = $4; mdir[m] = $5; next }
$3 == "skip" {
	key = $1 " " $4 ":" $2; w = $5; sub(/:$/, "", w)
	reason = $0; sub(/^[^:]*: /, "", reason)
	if (w == "all") gone[key] = reason
	else skipw[key, w] = reason
	next
}
$3 == "#" { next }
$4 == "durability" {
	t = $0; sub(/^[^ ]+ [^ ]+ [^ ]+ durability /, "", t)
	dur[$1 " " $3 ":" $2] = t
	next
}
NF == 7 && $5 + 0 > 0 {
	key = $1 " " $3 ":" $2
	sec = ($4 == "read") ? $7 : $6
	if (sec > 0) rate[key, $4] = $5 / sec
	ops[key, $4] = $5
	seen[key] = 1
	next
}
END {
	print "== part 2: pmlua against what a Lua programmer would pick instead =="
	printf "  %s%s\n", machine, quick ? "  [QUICK=1: tiny counts, noisy]" : ""
	printf "  rates, medians of %d repetitions: writes and start-up by wall clock (the sync is waited for), reads by CPU time\n", reps
	print "  insert/update/append: one durable change each (SQLite: one statement, autocommit); tx of 100: 100 updates"
	print "  in one transaction (rate of transactions); reads: k1..k1000 in turn (SQLite: one SELECT through LuaSQL each);"
	print "  start+read: a new process starts, opens the store, reads one value, exits (pmlua under pmlua, the"
	printf "  others under %s). 'survives': what the medium and mode really give.\n", interp
	print "  C libpmemobj: bench/c_baseline.c (update: an 8-byte field, append: a 16-byte cell, tx of 100: 16-byte fields)"
	ref_rows = 0
	for (i = 1; i <= nm; i++) {
		m = M[i]
		print ""
		printf "  -- %s: %s at %s --\n", (m == "disk" ? "ordinary disk" : "/dev/shm (tmpfs, RAM)"), fs[m], mdir[m]
		printf "  %-20s", "store"
		for (j = 1; j <= nw; j++) printf " %10s", H[j]
		printf "   %s\n", "survives"
		for (r = 1; r <= nr; r++) {
			key = m " " R[r]
			if (!(key in seen) && !(key in gone) && !(key in dur)) continue
			printf "  %-20s", label(R[r])
			if (key in gone) { printf "   skipped: %s\n", gone[key]; continue }
			for (j = 1; j <= nw; j++)
				printf " %10s", ((key, W[j]) in rate) ? frate(rate[key, W[j]]) : "-"
			printf "   %s\n", dur[key]
		}
		# ratios: pmlua (its first mode, not forced) over each other row
		ref = m " " R[1]
		if (!(ref in seen)) continue
		if ((ref, "startup_ro") in rate) {
			printf "  %s start+read opening read-only (pmem.open(path, \"r\"): no libpmemobj open): %s", \
				label(R[1]), frate(rate[ref, "startup_ro"])
			sf = m " sqlite-full:0"
			if ((sf, "startup") in rate)
				printf ", %s of SQLite FULL's", fratio(rate[ref, "startup_ro"] / rate[sf, "startup"])
			printf "\n"
		}
		printf "  %s's rate over each (> 1: %s is faster; 1/N: N times slower):\n", label(R[1]), label(R[1])
		for (r = 2; r <= nr; r++) {
			key = m " " R[r]
			if (!(key in seen)) continue
			printf "  %-20s", "  " label(R[r])
			for (j = 1; j <= nw; j++) {
				w = W[j]
				if (((ref, w) in rate) && ((key, w) in rate))
					printf " %10s", fratio(rate[ref, w] / rate[key, w])
				else
					printf " %10s", "-"
			}
			printf "\n"
		}
	}
	# skipped workloads
	first = 1
	for (k in skipw) {
		split(k, a, SUBSEP)
		if (first) { print ""; print "  skipped figures:"; first = 0 }
		printf "    %s, %s, %s: %s\n", a[1], label(substr(a[1], index(a[1], " ") + 1)), a[2], skipw[k]
	}
	if (md != "") markdown()
	# the chart's data: the rows that have a figure on some medium
	if (dat != "") {
		nc = 0
		for (r = 1; r <= nr; r++)
			for (i = 1; i <= nm; i++)
				if ((M[i] " " R[r]) in seen) { C[++nc] = R[r]; break }
		printf "" >dat
		printf "" >(dat ".titles")
		for (i = 1; i <= nm; i++) {
			m = M[i]
			printf "%s (%s)\n", (m == "disk" ? "ordinary disk" : "/dev/shm, RAM"), fs[m] >>(dat ".titles")
			if (i > 1) printf "\n\n" >>dat
			printf "workload" >>dat
			for (c = 1; c <= nc; c++) {
				key = m " " C[c]
				printf " \"%s: %s\"", label(C[c]), (key in seen) ? short(dur[key]) : "n/a" >>dat
			}
			printf "\n" >>dat
			for (j = 1; j <= nw; j++) {
				printf "\"%s\"", H[j] >>dat
				for (c = 1; c <= nc; c++) {
					key = m " " C[c]
					printf " %s", ((key, W[j]) in rate) ? sprintf("%.6g", rate[key, W[j]]) : "?" >>dat
				}
				printf "\n" >>dat
			}
		}
		for (c = 1; c <= nc; c++) printf "%s%s", colour(C[c]), (c < nc ? " " : "\n") >>(dat ".titles")
		close(dat)
		close(dat ".titles")
	}
}
