#!/bin/sh
# man.sh BUILD LIBUMN - the man pages, as cmake --install puts them:
#  1. every public name has a page of section 3 (its own, or a link to the
#     page whose NAME section lists it), so that "man NAME" works.  The
#     public names are the umn_ symbols that libumn.so exports (as
#     tests/exports.sh reads them), the UMN_API declarations of every
#     header, and the static inline functions and function-like macros
#     named umn_ of the headers in include/umn/ itself (those in its
#     subfolders, such as the kernel's spelling in umn/linux/, are not
#     umn_ API); names with two underscores (umn__) are umn's own;
#  2. every installed tool has a page of section 1;
#  3. every page and link renders with groff and no warning (-ww), and
#     every page of umn that a page refers to exists;
#  4. each public function's contract is the comment above its declaration
#     in include/umn/: the errnos its page's ERRORS section gives it and
#     those of its rows in docs/errors.md are the ones that comment lists,
#     and every UMN_ constant of a header is named by its page
#     (tests/contracts.pl says how each is read).
# One check per page or name; the summary line is Check's.
set -eu
build=$1 lib=$2
source_dir=$(cd "$(dirname "$0")/.." && pwd)
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
checks=0 failures=0
fail() {
	echo "man: $*"
	failures=$((failures + 1))
}

cmake --install "$build" --prefix "$prefix" >/dev/null
man=$(find "$prefix" -type d -path '*/man/man3' | head -1)
man=${man%/man3}
[ -n "$man" ] || { fail "no man3 folder installed"; man=$prefix/none; }

# 1. The public names.
{
	nm -D --defined-only "$lib" | awk '{ print $3 }'
	find "$source_dir/include/umn" -name '*.h' -exec cat {} + | perl -0777 -ne '
		s{/\*.*?\*/}{}gs; s{//[^\n]*}{}g;
		s{^[ \t]*#(?:[^\n]*\\\n)*[^\n]*}{}gm;
		print "$1\n" while /\bUMN_API\s+[^;{(]*?\b(umn_\w+)\s*[(;]/g;'
	cat "$source_dir"/include/umn/*.h | perl -0777 -ne '
		print "$1\n" while /^[ \t]*#[ \t]*define[ \t]+(umn_\w+)\(/gm;
		s{/\*.*?\*/}{}gs; s{//[^\n]*}{}g;
		print "$1\n" while /\bstatic\s+inline\s+[^;{(]*?\b(umn_\w+)\s*\(/g;'
} | grep '^umn_[a-z0-9]' | sort -u >"$prefix/names"
[ -s "$prefix/names" ] || fail "found no public name"

# The names a page's NAME section lists.
names_of() {
	sed -n '/^\.SH NAME$/,/^\.SH /{ /^\.SH /d; p; }' "$1" |
		sed 's/\\-.*//' | tr -s ' ,\t' '\n\n\n' | grep -v '^$' || true
}

while read -r name; do
	checks=$((checks + 1))
	page=$man/man3/$name.3
	if [ ! -f "$page" ]; then
		fail "$name has no man page (list it in the NAME section" \
			"of its page in man/man3/)"
		continue
	fi
	target=$(sed -n 's/^\.so  *//p' "$page")
	[ -z "$target" ] || page=$man/$target
	if [ ! -f "$page" ]; then
		fail "$name: its link points to $target, which is not installed"
	elif ! names_of "$page" | grep -qx "$name"; then
		fail "$name: ${page#"$man"/} does not list it in NAME"
	fi
done <"$prefix/names"

# 2. The tools.
for tool in "$prefix"/bin/*; do
	checks=$((checks + 1))
	t=$(basename "$tool")
	[ -f "$man/man1/$t.1" ] || fail "the tool $t has no man page"
done

# 3. Every page renders without a warning, and the pages of umn it refers
# to exist.  (The links were checked in 1.)
if ! command -v groff >/dev/null; then
	fail "groff is not installed (Debian: apt-get install groff-base)"
else
	for page in $(cd "$man" && find . -name '*.[0-9]' | sort); do
		page=${page#./}
		grep -q '^\.so ' "$man/$page" && continue
		checks=$((checks + 1))
		problems=$(cd "$man" && groff -man -t -ww -z -Tutf8 "$page" 2>&1 |
			sed "s|^|$page: |") || true
		refs=$(grep -o '^\.BR  *umn[a-z0-9_\\-]*  *([0-9])' "$man/$page" |
			sed 's/^\.BR  *//; s/\\-/-/g; s/ *(\(.\))/ \1/' |
			while read -r ref sect; do
				[ -f "$man/man$sect/$ref.$sect" ] ||
					echo "$page: refers to $ref($sect), which does not exist"
			done) || true
		[ -z "$problems$refs" ] || fail "$(printf '%s\n%s' "$problems" "$refs" | grep -v '^$')"
	done
fi

# 4. The contracts: the headers' comments against the pages and errors.md.
status=0
perl "$source_dir/tests/contracts.pl" "$source_dir" "$prefix/names" \
	>"$prefix/contracts" 2>&1 || status=$?
[ "$status" = 0 ] || [ "$status" = 3 ] ||
	echo "man: contracts.pl failed (status $status)" >>"$prefix/contracts"
grep -v '^checks ' "$prefix/contracts" || true
set -- $(sed -n 's/^checks \([0-9]*\) failures \([0-9]*\)$/\1 \2/p' "$prefix/contracts") 0 1
checks=$((checks + $1)) failures=$((failures + $2))

echo "$(wc -l <"$prefix/names") public names, $(find "$man" -name '*.[0-9]' | wc -l) pages and links"
echo "$(( (checks - failures) * 100 / (checks > 0 ? checks : 1) ))%: Checks: $checks, Failures: $failures, Errors: 0"
[ "$failures" = 0 ]
