#!/bin/sh
# expect-status.sh STATUS [-m REGEX] COMMAND ARGS...
#
# Run a tool; pass when it exits with STATUS and, with -m, its output
# (stdout and stderr) has a line that matches REGEX (grep -E).
# A non-zero STATUS needs a REGEX: a test that expects a failure must
# expect the oracle's own verdict, its status and its message, so that a
# crash, a sanitizer's report or a set-up error cannot pass for it.
#
# The oracles of this tree (umn-torture, linux-dmirror, the fuzz
# replayer, umn-proc-regcache's breaks) exit with 3 when they find a stale
# or incoherent access.  The sanitizers are given exit statuses of their
# own here, none of them 3: ASan (and LeakSanitizer) 86, UBSan 87, TSan
# 66; and a sanitizer's report in the output fails the test whatever the
# status.
#
# Status 77 (cannot run here) is passed on, for ctest's SKIP_RETURN_CODE,
# when STATUS is not 77 itself.  Prints the tool's last lines (all of
# them on a failure) and one Check-style count line.
set -u
want=$1
shift
regex=
if [ "$#" -gt 1 ] && [ "$1" = -m ]; then
	regex=$2
	shift 2
fi
if [ "$#" = 0 ]; then
	echo "usage: expect-status.sh STATUS [-m REGEX] COMMAND ARGS..." >&2
	exit 2
fi
if [ "$want" != 0 ] && [ -z "$regex" ]; then
	echo "expect-status.sh: status $want expected with no message to" \
		"match: a crash could pass" >&2
	exit 2
fi

ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=86
UBSAN_OPTIONS=${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}exitcode=87
TSAN_OPTIONS=${TSAN_OPTIONS:+$TSAN_OPTIONS:}exitcode=66
export ASAN_OPTIONS UBSAN_OPTIONS TSAN_OPTIONS

out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$@" > "$out" 2>&1
rc=$?

why=
if [ "$rc" = 77 ] && [ "$want" != 77 ]; then
	tail -20 "$out"
	exit 77
fi
if [ "$rc" != "$want" ]; then
	why="exit status $rc, expected $want"
elif [ -n "$regex" ] && ! grep -Eq -- "$regex" "$out"; then
	why="exit status $rc as expected, but no line matches /$regex/"
elif grep -Eq 'ERROR: (AddressSanitizer|LeakSanitizer)|WARNING: ThreadSanitizer|runtime error: ' "$out"; then
	why="exit status $rc as expected, but a sanitizer reported"
fi
if [ -z "$why" ]; then
	tail -4 "$out"
	echo "100%: Checks: 1, Failures: 0, Errors: 0"
	exit 0
fi
cat "$out"
echo "expect-status.sh: FAILED: $why"
echo "0%: Checks: 1, Failures: 1, Errors: 0"
exit 1
