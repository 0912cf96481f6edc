#!/bin/sh
# tests/bench-smoke.sh UMN_BENCH - umn-bench's outputs, not its timings:
# the CSV header and rows, a PNG per benchmark with --plot, and the refusal
# of an unknown name.  (No timing is ever a test.)
set -eu
bench=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

fail() { echo "bench-smoke: $*"; exit 1; }

"$bench" --quick --csv "$dir/out.csv" --plot "$dir/plots" nohit readside dispatch \
	> "$dir/stdout"
[ "$(head -n1 "$dir/out.csv")" = "benchmark,variant,parameter,metric,value" ] ||
	fail "CSV header: $(head -n1 "$dir/out.csv")"
awk -F, 'NF != 5 { print "bench-smoke: CSV row " NR " has " NF " fields: " $0; bad = 1 }
	END { exit bad }' "$dir/out.csv" || exit 1
for b in nohit readside; do
	rows=$(grep -c "^$b,[^,]*,[^,]*,ns_per_op,[0-9.]*$" "$dir/out.csv") ||
		fail "no CSV row for $b"
	[ "$rows" -ge 4 ] || fail "$rows CSV rows for $b"
	[ "$(grep -c "^$b " "$dir/stdout")" -eq "$rows" ] ||
		fail "one summary line per CSV row of $b"
	head -c 8 "$dir/plots/$b-ns_per_op.png" | od -An -tx1 |
		grep -q "89 50 4e 47 0d 0a 1a 0a" || fail "no PNG for $b"
done
if "$bench" --quick no-such-benchmark > /dev/null 2>&1; then
	fail "an unknown benchmark name was accepted"
fi
echo "bench-smoke: ok"
