/* SPDX-License-Identifier: MIT */
/*
 * tests/soft_torture.h - what the torture runs of kernel-style drivers
 * (linux_dmirror.c, and test_hmm's dmirror in
 * tests/kernel-compat/test_hmm-run.c) share: the soft MMU's random mix
 * (tools/soft_mix.h) for their primary threads, and the OOM reaper, in
 * the kernel's words.
 */
#ifndef UMN_TESTS_SOFT_TORTURE_H
#define UMN_TESTS_SOFT_TORTURE_H

#include <stdbool.h>
#include <unistd.h>
#include <umn/soft.h>

#include "../tools/soft_mix.h"

#ifdef UMN_LINUX_MMU_NOTIFIER_H
/* One of the OOM reaper's invalidations, in the kernel's words: a
 * non-blockable range of 1 to 16 pages of the window of @mm.  Return:
 * false if a notifier refused it (-EAGAIN), true if it ran and ended. */
static inline bool soft_torture_reap(struct mm_struct *mm, unsigned long win,
				     unsigned long pages, unsigned long *s)
{
	unsigned long first = soft_mix_rnd(s) % pages,
		      n = 1 + soft_mix_rnd(s) % 16;
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

/* A run's primaries and reaper: the mix on a window of the soft MMU, and
 * the reaper's invalidations of the same window, through the kernel's
 * view of that mm. */
struct soft_torture {
	struct soft_mix mix;  /* the primary threads' */
	struct mm_struct *mm; /* the reaper's */
	unsigned long seed;
	unsigned long reaper_starts, reaper_refused; /* ran, refused */
};

/* @t over [@win, @win + @pages 4 KiB pages) of @sm, a THP window, whose
 * kernel's view is @mm; until @stopping. */
static inline void soft_torture_init(struct soft_torture *t,
				     struct umn_soft_mm *sm,
				     struct mm_struct *mm, unsigned long win,
				     unsigned long pages, unsigned long seed,
				     bool (*stopping)(void))
{
	*t = (struct soft_torture){
		.mix = { sm, win, pages, UMN_SOFT_MAP_FIXED | UMN_SOFT_MAP_THP,
			 stopping, NULL },
		.mm = mm,
		.seed = seed,
	};
}

/* The OOM reaper's thread (@arg: a struct soft_torture): its
 * invalidations until stopping, 100 us apart. */
static inline void *soft_torture_reaper(void *arg)
{
	struct soft_torture *t = arg;
	unsigned long s = t->seed * 69069UL + 3;

	while (!t->mix.stopping()) {
		if (soft_torture_reap(t->mm, t->mix.win, t->mix.pages, &s))
			__atomic_fetch_add(&t->reaper_starts, 1,
					   __ATOMIC_RELAXED);
		else
			__atomic_fetch_add(&t->reaper_refused, 1,
					   __ATOMIC_RELAXED);
		usleep(100);
	}
	return NULL;
}
#endif

#endif /* UMN_TESTS_SOFT_TORTURE_H */
