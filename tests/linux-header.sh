#!/bin/sh
# linux-header.sh CC SRCDIR - <umn/linux/mmu_notifier.h> (both spellings),
# <umn/linux/hmm.h>, and the example driver written against them, compile
# with -Wall -Wextra -Werror in each C dialect a user may pick; and umn's
# other headers leave the kernel's names free for programs that do not ask
# for them.
set -u
cc=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
checks=0
for std in c99 gnu99 c11 gnu11 c17 gnu17; do
	for def in "" -D_GNU_SOURCE; do
		checks=$((checks + 1))
		# shellcheck disable=SC2086
		if ! "$cc" -std=$std $def -Wall -Wextra -Werror -Wshadow \
			-Wstrict-prototypes -I"$src/include" -fsyntax-only \
			"$src/examples/linux_hmm_mirror.c"; then
			echo "linux_hmm_mirror.c: fails with -std=$std $def"
			fail=$((fail + 1))
		fi
	done
done

# The headers alone, in each spelling: 6.x with <umn/linux/hmm.h>, and
# Linux 4.13's (UMN_LINUX_API 413).
printf '#include <umn/linux/hmm.h>\nint main(void) { return 0; }\n' \
	>"$tmp/hmm.c"
printf '#define UMN_LINUX_API 413\n#include <umn/linux/mmu_notifier.h>\nint main(void) { return 0; }\n' \
	>"$tmp/413.c"
for std in c99 gnu99 c11 gnu11 c17 gnu17; do
	for f in hmm 413; do
		checks=$((checks + 1))
		if ! "$cc" -std=$std -Wall -Wextra -Werror -Wshadow \
			-Wstrict-prototypes -I"$src/include" -fsyntax-only \
			"$tmp/$f.c"; then
			echo "$f.c: fails with -std=$std"
			fail=$((fail + 1))
		fi
	done
done

# Every other public header, then the kernel's names used for something
# else: none of them may be taken.
for h in "$src"/include/umn/*.h; do
	echo "#include <umn/$(basename "$h")>"
done > "$tmp/free.c"
cat >> "$tmp/free.c" <<'C'
struct mm_struct { int a; };
struct mmu_notifier { int a; };
struct mmu_notifier_ops { int a; };
struct mmu_notifier_range { int a; };
struct mmu_interval_notifier { int a; };
struct mmu_interval_notifier_ops { int a; };
enum mmu_notifier_event { MMU_NOTIFY_UNMAP, MMU_NOTIFIER_RANGE_BLOCKABLE };
typedef struct { unsigned long pte; } pte_t;
int mmu_notifier_register(struct mmu_notifier *, struct mm_struct *);
int arch_invalidate_secondary_tlbs, mmu_interval_read_begin;
int main(void) { return 0; }
C
checks=$((checks + 1))
if ! "$cc" -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -I"$src/include" \
	-fsyntax-only "$tmp/free.c"; then
	echo "a header other than umn/linux/ takes a kernel name"
	fail=$((fail + 1))
fi
echo "$(( (checks - fail) * 100 / checks ))%: Checks: $checks, Failures: $fail, Errors: 0"
[ "$fail" = 0 ]
