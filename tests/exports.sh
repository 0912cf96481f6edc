#!/bin/sh
# exports.sh LIB [ARCHIVE] - only umn_ symbols are exported by the shared
# library, and the static archive defines no global without the prefix
# (internals are umn__*: a program linked statically must not collide).
set -eu
lib=$1
all=$(nm -D --defined-only "$lib" | awk '{print $3}')
if [ $# -gt 1 ]; then
	all="$all
$(nm -g --defined-only "$2" 2>/dev/null | awk 'NF == 3 {print $3}')"
fi
bad=$(printf '%s\n' "$all" | grep -v '^umn_' | grep -v '^__odr_asan\.umn_' | grep -v '^$' || true)
if [ -n "$bad" ]; then
	echo "exported symbols without the umn_ prefix:"; echo "$bad"
	echo "0%: Checks: 1, Failures: 1, Errors: 0"
	exit 1
fi
echo "$(printf '%s\n' "$all" | wc -l) symbols, all umn_"
echo "100%: Checks: 1, Failures: 0, Errors: 0"
