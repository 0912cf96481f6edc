#!/bin/sh
# summary.sh NAME LOG... - add up the Check summaries ("NN%: Checks: N,
# Failures: F, Errors: E") that ctest -V wrote into the logs, and print
# "NAME: N passed, N failed".  A log with no summary at all counts as one
# failure (the build or a runner died before reporting).
set -eu
name=$1
shift
for log in "$@"; do
	if [ -f "$log" ] && grep -q 'Checks: ' "$log"; then
		grep -o 'Checks: [0-9]*, Failures: [0-9]*, Errors: [0-9]*' "$log"
	else
		echo "Checks: 1, Failures: 1, Errors: 0"
	fi
done | awk -v name="$name" '
	{ gsub(",", ""); checks += $2; failed += $4 + $6 }
	END { printf "%s: %d passed, %d failed\n", name, checks - failed, failed }'
