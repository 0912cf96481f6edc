#!/bin/sh
# verify/run.sh - model-check every Promela model under verify/, and every
# mutant of it: the model must verify (no error), each mutant must fail.
# Ends with "N passed, N failed" (and a Check-style line for make test).
#
# make test runs it too, as the ctest entry verify-spin of the release
# build: without spin, or without the C compiler that builds pan ($PAN_CC,
# gcc by default), it says why and exits 77, which ctest counts as a skip.
set -u
cd "$(dirname "$0")"
cc=${PAN_CC:-gcc}
for tool in spin "$cc"; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		echo "verify: skipped: $tool is not installed (SPIN models need" \
			"spin, and a C compiler for pan)"
		exit 77
	fi
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pass=0 fail=0

# check MODEL DEFINE EXPECT: EXPECT is "ok" (no error) or "error".
check() {
	model=$1 define=$2 expect=$3
	( cd "$work" && rm -f pan* out &&
	  spin ${define:+-D$define} -a "$OLDPWD/$model" >/dev/null &&
	  "$cc" -O2 -DSAFETY -DNOFAIR -o pan pan.c 2>/dev/null &&
	  ./pan -m100000 > out 2>&1 )
	errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' "$work/out" 2>/dev/null | head -1)
	states=$(sed -n 's/^ *\([0-9e+.]*\) states, stored.*/\1/p' "$work/out" | head -1)
	if [ -z "$errors" ]; then
		result=broken
	elif [ "$errors" = 0 ]; then
		result=ok
	else
		result=error
	fi
	if [ "$result" = "$expect" ]; then
		pass=$((pass + 1))
		printf '%-24s %-22s %-6s (%s states) as expected\n' \
			"$model" "${define:-model}" "$result" "$states"
	else
		fail=$((fail + 1))
		printf '%-24s %-22s %-6s (%s states) EXPECTED %s\n' \
			"$model" "${define:-model}" "$result" "$states" "$expect"
		cat "$work/out" 2>/dev/null
	fi
}

check collision_retry.pml "" ok
for m in NO_COUNTER CHECK_OUTSIDE_LOCK END_BEFORE_UPDATE; do
	check collision_retry.pml "$m" error
done

check interval_seq.pml "" ok
for m in NO_WAIT INSERT_NOT_DEFERRED REMOVE_NO_WAIT IGNORE_LOCKLESS NO_OWED; do
	check interval_seq.pml "$m" error
done

check eagain_pairing.pml "" ok
for m in NO_UNWIND UNWIND_ALL END_AFTER_EAGAIN; do
	check eagain_pairing.pml "$m" error
done

check uffd_rewatch.pml "" ok
for m in NO_ORPHANS NO_ADOPT_AT_SYNC NO_REWATCH; do
	check uffd_rewatch.pml "$m" error
done

check signal_defer.pml "" ok
for m in NO_DEFER NO_UC_BLOCK NO_UNBLOCK NO_SPURIOUS WRAPPER_UNMASKED \
	NO_ASIDE; do
	check signal_defer.pml "$m" error
done

check regcache_queue.pml "" ok
for m in NO_CLEAR NO_LAST_PASS NO_REMOVE_PASS NO_WAIT; do
	check regcache_queue.pml "$m" error
done

echo "$pass passed, $fail failed"
echo "$((100 * pass / (pass + fail)))%: Checks: $((pass + fail)), Failures: $fail, Errors: 0"
[ "$fail" = 0 ]
