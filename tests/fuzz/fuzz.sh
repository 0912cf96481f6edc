#!/bin/sh
# fuzz.sh FUZZER SECONDS [SEED] - run the libFuzzer harness for SECONDS on
# a scratch copy of tests/fuzz/corpus (under build/fuzz/run), one process,
# with a fixed seed so that a run repeats as closely as time allows.
# A crash, an oracle abort, a leak or a timeout (30 s for one input) stops
# it; its input is kept in build/fuzz/run/artifacts.  A slow input (more
# than 10 s, which a loaded machine produces) is kept too, but is no
# failure.  Ends with
# "fuzz: 1 passed, 0 failed" (nothing found) or "fuzz: 0 passed, 1 failed".
set -u
fuzzer=$1
seconds=$2
seed=${3:-1}
src=$(cd "$(dirname "$0")" && pwd)
run=$(cd "$(dirname "$fuzzer")/../.." && pwd)/run
rm -rf "$run"
mkdir -p "$run/corpus" "$run/artifacts"
cp "$src"/corpus/* "$run/corpus/"
# malloc_context_size: the stacks of allocations cost half the time.
ASAN_OPTIONS=${ASAN_OPTIONS:-malloc_context_size=4} \
"$fuzzer" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=6144 \
	-seed="$seed" -dict="$src/fuzz.dict" -print_final_stats=1 \
	-artifact_prefix="$run/artifacts/" "$run/corpus" > "$run/log" 2>&1
rc=$?
grep -E '^stat::(number_of_executed_units|average_exec_per_sec)' "$run/log"
grep -E '^#[0-9]+.*(DONE|pulse)' "$run/log" | tail -1
if [ $rc = 0 ] && [ -z "$(ls "$run/artifacts" | grep -v '^slow-unit-')" ]; then
	echo "fuzz: 1 passed, 0 failed"
	exit 0
fi
grep -E 'fuzz_soft: oracle|ERROR: |SUMMARY: |Test unit written' "$run/log" |
	head -8
echo "fuzz: see $run/log; reproduce with build/debug/tests/umn-fuzz-replay FILE"
echo "fuzz: 0 passed, 1 failed"
exit 1
