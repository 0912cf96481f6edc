#!/bin/sh
# valgrind.sh TESTS SUITE... - run Check suites of umn-tests under valgrind
# memcheck: any memory error, or memory definitely lost, fails.  Each
# suite prints its Check summary, which tests/summary.sh counts.  Left
# out, as too slow under valgrind's one-thread-at-a-time scheduler: the
# concurrency and lifetime suites (threads and grace periods) and the
# failure sweep (thousands of runs); ASan and LeakSanitizer run them.
set -u
tests=$1
shift
# valgrind has no tool for a foreign machine's code (make test-aarch64).
if why=$("$(dirname "$0")/foreign.sh" "$tests"); then
	echo "skipped: valgrind runs only this host's code: $why"
	exit 77
fi
status=0
for suite in "$@"; do
	CK_RUN_SUITE=$suite CK_TIMEOUT_MULTIPLIER=30 \
		valgrind -q --error-exitcode=99 --leak-check=full \
		--errors-for-leak-kinds=definite "$tests" || status=1
done
exit $status
