#!/bin/sh
# contracts-break.sh KIND - the negative controls of tests/contracts.pl
# (part 4 of tests/man.sh): copy the headers, the man pages of section 3
# and docs/errors.md, plant one disagreement of kind KIND in the copy, and
# run contracts.pl on it.  Run by tests/expect-status.sh, which expects
# its verdict (status 3) and its message for that disagreement:
#   errors-md     a row of docs/errors.md dropped (-EBUSY of
#                 umn_notifier_put)
#   man-errno     an errno the header does not list, given by a man page
#                 (EAGAIN to umn_regcache_lookup)
#   header-errno  an errno dropped from a header's comment (-ENOENT of
#                 umn_regcache_check), which its page and errors.md list
#   constant      a constant added to a header (UMN_PROC_PLANTED) that
#                 its page does not name
#   function      a function added to a header (umn_regcache_planted)
#                 that docs/errors.md does not name
set -eu
kind=$1
src=$(cd "$(dirname "$0")/.." && pwd)
tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT
mkdir -p "$tree/include" "$tree/man" "$tree/docs" "$tree/tests"
cp -r "$src/include/umn" "$tree/include/"
cp -r "$src/man/man3" "$tree/man/"
cp "$src/docs/errors.md" "$tree/docs/"

# plant FILE PERL: edit FILE with PERL (perl -0pi -e), which must change it.
plant() {
	cp "$tree/$1" "$tree/before"
	perl -0pi -e "$2" "$tree/$1"
	if cmp -s "$tree/$1" "$tree/before"; then
		echo "contracts-break: $kind: $1 did not change (the plant" \
			"no longer applies: update it)"
		exit 1
	fi
}

case $kind in
errors-md)
	plant docs/errors.md 's/^\| \| `-EBUSY` \| `umn_notifier_unregister` is releasing[^\n]*\n//m' ;;
man-errno)
	plant man/man3/umn_regcache.3 's/^\.B ENOENT\n(\.BR umn_regcache_lookup \(\):)/.B EAGAIN\n$1/m' ;;
header-errno)
	plant include/umn/regcache.h 's/-ENOENT if no valid registration covers \@addr; //' ;;
constant)
	plant include/umn/proc.h 's/^(#define UMN_PROC_ALL [^\n]*\n)/$1#define UMN_PROC_PLANTED (1U << 2)\n/m' ;;
function)
	plant include/umn/regcache.h 's/^(\/\*\n \* The soft-MMU adapter)/\/** Return: 0; -EINVAL. *\/\nUMN_API int umn_regcache_planted(void);\n\n$1/m' ;;
*)
	echo "usage: contracts-break.sh errors-md|man-errno|header-errno|constant|function"
	exit 2 ;;
esac

# The public names: every umn_ word of the headers (contracts.pl keeps
# those that a header declares as functions).
grep -ho 'umn_[a-z0-9][a-z0-9_]*' "$tree"/include/umn/*.h | sort -u >"$tree/names"
perl "$src/tests/contracts.pl" "$tree" "$tree/names"
