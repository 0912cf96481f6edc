/* SPDX-License-Identifier: MIT */
/*
 * tools/soft_mix.h - the random mix of the soft MMU's operations that a
 * torture run's primary threads play on a window: munmap and mmap,
 * mprotect, mremap, madvise, CPU writes, fork and copy-on-write, THP split
 * and collapse, migration, reclaim, cleaning, KSM, aging, faults.  One mix
 * for umn-torture and umn-demo (tools/workload.c) and for the runs of
 * kernel-style drivers (tests/linux_dmirror.c,
 * tests/kernel-compat/test_hmm-run.c).  Public headers only.
 */
#ifndef UMN_TOOLS_SOFT_MIX_H
#define UMN_TOOLS_SOFT_MIX_H

#include <stdbool.h>
#include <umn/soft.h>

struct soft_mix {
	struct umn_soft_mm *sm;
	unsigned long win;	/* the window, 2 MiB aligned ... */
	unsigned long pages;	/* ... of this many 4 KiB pages */
	int map_flags;		/* what an unmapped range is mapped again with:
			      * UMN_SOFT_MAP_FIXED, maybe UMN_SOFT_MAP_THP */
	bool (*stopping)(void); /* cuts a long operation short */
	/* NULL, or told before and after an operation that may discard the
	 * data of the window's pages [first, first + n). */
	void (*discard)(unsigned long first, unsigned long n);
};

/* xorshift64: the runs' randomness, from a seed the run prints. */
unsigned long soft_mix_rnd(unsigned long *s);

/* One random operation on @m's window, by primary thread @id (whose CPU
 * writes go to byte 2048 + @id of a page). */
void soft_mix_op(const struct soft_mix *m, int id, unsigned long *s);

/* A primary thread's life: operations until @m->stopping(), 50 us apart
 * (the secondaries work between changes), random from @seed and @id. */
void soft_mix_run(const struct soft_mix *m, int id, unsigned long seed);

#endif /* UMN_TOOLS_SOFT_MIX_H */
