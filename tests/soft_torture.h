/* SPDX-License-Identifier: MIT */
/*
 * tests/soft_torture.h - one random operation of the soft MMU on a window,
 * for the torture runs of kernel-style drivers (linux_dmirror.c, and
 * test_hmm's dmirror in tests/kernel-compat/test_hmm-run.c): munmap and
 * mmap, mprotect, mremap, madvise, CPU writes, fork and copy-on-write, THP
 * split and collapse, migration, reclaim, cleaning, KSM, aging, faults.
 */
#ifndef UMN_TESTS_SOFT_TORTURE_H
#define UMN_TESTS_SOFT_TORTURE_H

#include <stdbool.h>
#include <umn/soft.h>

#define ST_THP UMN_SOFT_PMD_SIZE
#define ST_RW  (UMN_SOFT_PROT_READ | UMN_SOFT_PROT_WRITE)

/* xorshift64: the runs' randomness, from a seed the run prints. */
static inline unsigned long soft_torture_rnd(unsigned long *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* One operation on [@win, @win + @pages pages) of @sm, a THP window;
 * @stopping cuts a long one short. */
static inline void soft_torture_op(struct umn_soft_mm *sm, unsigned long win,
				   unsigned long pages, unsigned long *s,
				   bool (*stopping)(void))
{
	unsigned long first = soft_torture_rnd(s) % pages,
		      n = 1 + soft_torture_rnd(s) % 64, a, b, p;
	struct umn_soft_mm *child;
	char c = (char)*s;
	int i;

	if (first + n > pages)
		n = pages - first;
	a = win + first * UMN_PAGE_SIZE;
	switch (soft_torture_rnd(s) % 15) {
	case 0: /* now and then a whole 2 MiB block, to bring THPs back */
		if (soft_torture_rnd(s) % 4 == 0) {
			a &= ~(ST_THP - 1);
			n = ST_THP / UMN_PAGE_SIZE;
		}
		umn_soft_munmap(sm, a, n * UMN_PAGE_SIZE);
		umn_soft_mmap(sm, a, n * UMN_PAGE_SIZE, ST_RW,
			      UMN_SOFT_MAP_FIXED | UMN_SOFT_MAP_THP, &b);
		break;
	case 1:
		umn_soft_mprotect(sm, a, n * UMN_PAGE_SIZE, UMN_SOFT_PROT_READ);
		umn_soft_mprotect(sm, a, n * UMN_PAGE_SIZE, ST_RW);
		break;
	case 2: /* shrink (the tail is unmapped), then map the tail again */
		if (n > 1 && !umn_soft_mremap(sm, a, n * UMN_PAGE_SIZE,
					      UMN_PAGE_SIZE, 0, &b))
			umn_soft_mmap(sm, a + UMN_PAGE_SIZE,
				      (n - 1) * UMN_PAGE_SIZE, ST_RW,
				      UMN_SOFT_MAP_FIXED, &b);
		break;
	case 3:
		umn_soft_madvise_dontneed(sm, a, n * UMN_PAGE_SIZE);
		break;
	case 4:
		umn_soft_write(sm, a + 2048, &c, 1);
		break;
	case 5: /* fork (rarely: it write-protects the window); the child
		 * writes, copy-on-write */
		if (soft_torture_rnd(s) % 8 || umn_soft_fork(sm, &child))
			break;
		for (i = 0; i < 8; i++)
			umn_soft_write(child,
				       win + (soft_torture_rnd(s) % pages) *
						       UMN_PAGE_SIZE,
				       &c, 1);
		umn_soft_mm_destroy(child);
		break;
	case 6:
		umn_soft_thp_split(sm, a);
		break;
	case 7: /* fill a 2 MiB block, then collapse it */
		b = a & ~(ST_THP - 1);
		for (p = 0; p < ST_THP && !stopping(); p += UMN_PAGE_SIZE)
			umn_soft_fault(sm, b + p, false);
		umn_soft_thp_collapse(sm, b);
		break;
	case 8:
		umn_soft_migrate(sm, a);
		break;
	case 9:
		umn_soft_reclaim(sm, a);
		break;
	case 10:
		umn_soft_clean(sm, a);
		break;
	case 11:
		umn_soft_ksm_merge(sm, a, sm,
				   win + (soft_torture_rnd(s) % pages) *
						   UMN_PAGE_SIZE);
		break;
	case 12:
		umn_soft_age(sm, a, n * UMN_PAGE_SIZE,
			     (int)(soft_torture_rnd(s) % 3));
		break;
	default: /* populate, so that there is something to change */
		for (p = 0; p < n; p++)
			umn_soft_fault(sm, a + p * UMN_PAGE_SIZE,
				       soft_torture_rnd(s) & 1);
		break;
	}
}

#ifdef UMN_LINUX_MMU_NOTIFIER_H
/* One of the OOM reaper's invalidations, in the kernel's words: a
 * non-blockable range of 1 to 16 pages of the window of @mm.  Return:
 * false if a notifier refused it (-EAGAIN), true if it ran and ended. */
static inline bool soft_torture_reap(struct mm_struct *mm, unsigned long win,
				     unsigned long pages, unsigned long *s)
{
	unsigned long first = soft_torture_rnd(s) % pages,
		      n = 1 + soft_torture_rnd(s) % 16;
	struct mmu_notifier_range range;

	if (first + n > pages)
		n = pages - first;
	mmu_notifier_range_init(&range, MMU_NOTIFY_CLEAR, 0, mm,
				win + first * UMN_PAGE_SIZE,
				win + (first + n) * UMN_PAGE_SIZE);
	if (mmu_notifier_invalidate_range_start_nonblock(&range))
		return false;
	mmu_notifier_invalidate_range_end(&range);
	return true;
}
#endif

#endif /* UMN_TESTS_SOFT_TORTURE_H */
