#!/bin/sh
# expect-status.sh STATUS COMMAND ARGS... - run a tool; pass when it exits
# with STATUS (umn-torture: 0 = nothing stale, 1 = the planted break was
# caught).  Prints the tool's last lines and one Check-style count line.
want=$1
shift
out=$(mktemp)
"$@" > "$out" 2>&1
rc=$?
tail -4 "$out"
rm -f "$out"
if [ "$rc" = "$want" ]; then
	echo "100%: Checks: 1, Failures: 0, Errors: 0"
	exit 0
fi
echo "exit status $rc, expected $want"
echo "0%: Checks: 1, Failures: 1, Errors: 0"
exit 1
