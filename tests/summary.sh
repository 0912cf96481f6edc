#!/bin/sh
# summary.sh NAME LOG... - count the ctest TESTS that the logs of
# "ctest -V" (one log per build) say passed, failed and were skipped, and
# print, last, "NAME: N passed, N failed, N skipped"; exit 1 if any failed.
#
# Each test counts once, from ctest's own result line ("N/M Test #K: name
# ... Passed", "***Failed", "***Skipped", "***Not Run (Disabled)",
# "***Timeout"...): Passed is a pass, Skipped and Disabled are skips, any
# other result is a failure.  ctest's "F tests failed out of M" line is the
# cross-check: a log without it (the build or ctest died before the end),
# or with no test at all, counts as one failure, and so does a log whose
# result lines count fewer failures than ctest's own line.
#
# Each skipped test is listed as "skipped: NAME (reason)", the reason being
# the last line of its output that speaks of a skip ("skipped: ...",
# "SKIP: ..."); a skip that printed no reason is a failure.
#
# Above the counts, a line adds up the Check-style sub-checks that the
# tests printed ("Checks: N, Failures: F, Errors: E"), for the record;
# they are not tests and are not in the counts.
set -eu
name=$1
shift
for log in "$@"; do
	if [ ! -f "$log" ]; then
		echo "@nolog $log"
		continue
	fi
	echo "@log $log"
	cat "$log"
done | awk -v name="$name" '
function flush() {
	if (cur == "")
		return
	if (!summary) {
		failed++
		notes[++nnotes] = "failed: " cur ": no ctest summary line" \
			" (the build or ctest died)"
	} else if (summary_failed > log_failed) {
		failed += summary_failed - log_failed
		notes[++nnotes] = "failed: " cur ": ctest counts " \
			summary_failed " failed, the result lines " log_failed
	} else if (log_tests == 0) {
		failed++
		notes[++nnotes] = "failed: " cur ": no test ran"
	}
	for (k in skipped_id) {
		reason = (k in reason_of) ? reason_of[k] : ""
		if (reason == "") {
			failed++
			skips--
			notes[++nnotes] = "failed: " where ": " skipped_id[k] \
				" was skipped without a reason"
		} else {
			notes[++nnotes] = "skipped: " where ": " \
				skipped_id[k] " (" reason ")"
		}
	}
	delete skipped_id
	delete reason_of
}
/^@nolog / {
	flush()
	cur = ""
	failed++
	notes[++nnotes] = "failed: " $2 ": no log"
	next
}
/^@log / {
	flush()
	cur = $2
	where = cur
	sub(/\/test\.log$/, "", where)
	sub(/^.*\//, "", where)
	summary = 0
	summary_failed = 0
	log_failed = 0
	log_tests = 0
	next
}
# A result line: "12/89 Test #34: name ......   Passed    1.00 sec".
/^ *[0-9]+\/[0-9]+ Test +#[0-9]+: / {
	id = $0
	sub(/^[^#]*#/, "", id)
	sub(/:.*/, "", id)
	test = $0
	sub(/^[^#]*#[0-9]+: /, "", test)
	sub(/ .*/, "", test)
	result = $0
	sub(/^[^.]*\.+ */, "", result)
	sub(/ +[0-9.]+ sec$/, "", result)
	log_tests++
	if (result ~ /^Passed/) {
		passed++
	} else if (result ~ /^\*\*\*Skipped/ ||
		   result ~ /^\*\*\*Not Run \(Disabled\)/) {
		skips++
		skipped_id[id] = test
		if (result ~ /Disabled/)
			reason_of[id] = "disabled"
	} else {
		failed++
		log_failed++
		notes[++nnotes] = "failed: " where ": " test " (" result ")"
	}
	next
}
# A test'"'"'s output under -V: "34: skipped: no userfaultfd here".
/^[0-9]+: / {
	id = $1
	sub(/:$/, "", id)
	line = $0
	sub(/^[0-9]+: /, "", line)
	if (line ~ /[Ss][Kk][Ii][Pp]/ && line !~ /^Test command:/)
		reason_of[id] = line
}
/tests passed, [0-9]+ tests? failed out of [0-9]+/ {
	summary = 1
	for (i = 1; i <= NF; i++)
		if ($i == "failed" && $(i + 1) == "out")
			summary_failed = $(i - 2)
}
/Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+/ {
	s = $0
	sub(/.*Checks: /, "", s)
	gsub(/[^0-9 ]/, "", s)
	split(s, v, " ")
	checks += v[1]
	check_failed += v[3] + v[5]
}
END {
	flush()
	for (i = 1; i <= nnotes; i++)
		print "  " notes[i]
	printf "  (Check sub-checks the tests printed, not counted above: " \
		"%d passed, %d failed)\n", checks - check_failed, check_failed
	printf "%s: %d passed, %d failed, %d skipped\n", name, passed,
		failed, skips
	exit failed != 0
}'
