// SPDX-License-Identifier: MIT
/*
 * bench/softmmu.c - the soft MMU's page-table operations, pages per second.
 *
 * One cycle: map a region, fault every page in for writing, mprotect it
 * read-only, unmap it.  Each phase is timed on its own; the cycle's total
 * (mmap included) too.  Pages of 4 KiB, and of 2 MiB (a THP mapping).
 *
 *   umn		the soft MMU with no consumer: the fast path is on.
 *   umn+3consumers	the same with a mirror (interval), a device TLB
 *			(classic) and a registration cache over the region,
 *			each holding a translation of every page before the
 *			mprotect (filled untimed): mprotect and munmap
 *			invalidate all three.  The registration cache pins
 *			its pages, so their frames are freed only when its
 *			handles are released: that is timed with munmap.
 *   kernel		Linux on this machine: mmap, one byte written per
 *			page, mprotect, munmap (MADV_NOHUGEPAGE for 4 KiB,
 *			MADV_HUGEPAGE for 2 MiB).
 *
 * The kernel zeroes each page it faults in; the soft MMU allocates a
 * frame's data only when it is written (umn_soft_fault() moves no data).
 * That is the difference between a model of the page table and memory.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <umn/devtlb.h>
#include <umn/mirror.h>
#include <umn/regcache.h>
#include <umn/soft.h>

#include "bench.h"

#define KIB4 4096UL
#define MIB2 (2UL << 20)
#define BASE (1UL << 32) /* where the soft region is mapped */

enum phase { FAULT, MPROTECT, MUNMAP, CYCLE, PHASES };
static const char *const phase_name[PHASES] = { "fault", "mprotect", "munmap",
						"cycle" };

struct consumers {
	struct umn_mirror *mirror;
	struct umn_devtlb *devtlb;
	struct umn_regcache *regcache;
	struct umn_regcache_soft soft;
	struct umn_regcache_handle **handles;
	unsigned long nhandles;
};

static void consumers_create(struct consumers *c, struct umn_soft_mm *sm,
			     struct umn_soft_frames *frames, unsigned long len)
{
	c->soft = (struct umn_regcache_soft){ sm, frames };
	c->nhandles = len / MIB2;
	c->handles = calloc(c->nhandles, sizeof(*c->handles));
	if (!c->handles ||
	    umn_mirror_create(sm, BASE, len, UMN_MIRROR_INTERVAL, &c->mirror) ||
	    umn_devtlb_create(sm, 512, 0, &c->devtlb) ||
	    umn_regcache_create(umn_soft_mm_umn(sm), &umn_regcache_soft_ops,
				&c->soft, 0, &c->regcache))
		bench_die("softmmu", "consumers");
}

/* Every consumer takes a translation of every page (untimed). */
static void consumers_fill(struct consumers *c, unsigned long len,
			   unsigned long page)
{
	struct umn_soft_translation t;

	for (unsigned long a = BASE; a < BASE + len; a += page)
		if (umn_mirror_fault(c->mirror, a, true) < 0 ||
		    umn_devtlb_translate(c->devtlb, a, true, &t) < 0)
			bench_die("softmmu", "consumer fill");
	for (unsigned long i = 0; i < c->nhandles; i++)
		if (umn_regcache_register(c->regcache, BASE + i * MIB2, MIB2,
					  true, &c->handles[i]))
			bench_die("softmmu", "regcache register");
}

/* Drop the users (after the munmap, which invalidated them all). */
static void consumers_drain(struct consumers *c)
{
	for (unsigned long i = 0; i < c->nhandles; i++)
		umn_regcache_release(c->handles[i]);
	umn_regcache_reap(c->regcache);
}

static void consumers_destroy(struct consumers *c)
{
	umn_regcache_destroy(c->regcache);
	umn_devtlb_destroy(c->devtlb);
	umn_mirror_destroy(c->mirror);
	free(c->handles);
}

/* One soft cycle; @t[phase] in ns. */
static void soft_cycle(struct umn_soft_mm *sm, struct consumers *c,
		       unsigned long len, unsigned long page, double *t)
{
	int flags = UMN_SOFT_MAP_FIXED | (page == MIB2 ? UMN_SOFT_MAP_THP : 0);
	double t0 = bench_now_ns(), t1, t2, t3;
	unsigned long addr;

	if (umn_soft_mmap(sm, BASE, len,
			  UMN_SOFT_PROT_READ | UMN_SOFT_PROT_WRITE, flags,
			  &addr))
		bench_die("softmmu", "umn_soft_mmap");
	t1 = bench_now_ns();
	for (unsigned long a = BASE; a < BASE + len; a += page)
		if (umn_soft_fault(sm, a, true))
			bench_die("softmmu", "umn_soft_fault");
	t2 = bench_now_ns();
	if (c)
		consumers_fill(c, len, page);
	t3 = bench_now_ns();
	if (umn_soft_mprotect(sm, BASE, len, UMN_SOFT_PROT_READ))
		bench_die("softmmu", "umn_soft_mprotect");
	t[MPROTECT] = bench_now_ns() - t3;
	t3 = bench_now_ns();
	if (umn_soft_munmap(sm, BASE, len))
		bench_die("softmmu", "umn_soft_munmap");
	if (c) /* the pinned frames are freed here: part of the cost */
		consumers_drain(c);
	t[MUNMAP] = bench_now_ns() - t3;
	t[FAULT] = t2 - t1;
	t[CYCLE] = (t1 - t0) + t[FAULT] + t[MPROTECT] + t[MUNMAP];
}

/* The same cycle done by Linux on this machine. */
static void kernel_cycle(unsigned long len, unsigned long page, double *t)
{
	double t0 = bench_now_ns(), t1, t2, t3;
	unsigned long map = len + (page == MIB2 ? MIB2 : 0);
	char *p = mmap(NULL, map, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *q;

	if (p == MAP_FAILED)
		bench_die("softmmu", "mmap");
	q = (char *)(((unsigned long)p + page - 1) & ~(page - 1));
	madvise(q, len, page == MIB2 ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	t1 = bench_now_ns();
	for (unsigned long o = 0; o < len; o += page)
		*(volatile char *)(q + o) = 1;
	t2 = bench_now_ns();
	if (mprotect(q, len, PROT_READ))
		bench_die("softmmu", "mprotect");
	t3 = bench_now_ns();
	t[MPROTECT] = t3 - t2;
	if (munmap(p, map))
		bench_die("softmmu", "munmap");
	t[MUNMAP] = bench_now_ns() - t3;
	t[FAULT] = t2 - t1;
	t[CYCLE] = bench_now_ns() - t0;
}

void bench_softmmu(void)
{
	enum { UMN, UMN3, KERNEL, VARIANTS };
	static const char *const variant[VARIANTS] = { "umn", "umn+3consumers",
						       "kernel" };
	const int runs = bench_quick ? 5 : 11;
	static const unsigned long pages[] = { KIB4, MIB2 };
	double v[VARIANTS][PHASES][11], t[PHASES];
	struct umn_soft_frames *frames;
	struct umn_soft_mm *sm[2];
	struct consumers c;
	char param[32];

	for (unsigned int p = 0; p < 2; p++) {
		unsigned long page = pages[p];
		unsigned long len = page == KIB4 ? 64UL << 20 : 1UL << 30;
		double n = (double)(len / page);

		if (umn_soft_frames_create(
			    &(struct umn_soft_frames_config){ 0 }, &frames) ||
		    umn_soft_mm_create(frames, &sm[0]) ||
		    umn_soft_mm_create(frames, &sm[1]))
			bench_die("softmmu", "soft mm");
		consumers_create(&c, sm[1], frames, len);
		for (int r = 0; r < runs; r++) {
			/* Interleaved, each run in a rotated order: none
			 * always follows the kernel's cache-cold munmap. */
			for (int k = 0; k < VARIANTS; k++) {
				int i = (r + k) % VARIANTS;

				if (i == KERNEL)
					kernel_cycle(len, page, t);
				else
					soft_cycle(sm[i], i == UMN3 ? &c : NULL,
						   len, page, t);
				for (int ph = 0; ph < PHASES; ph++)
					v[i][ph][r] = n / t[ph] * 1e9;
			}
		}
		for (int ph = 0; ph < PHASES; ph++) {
			snprintf(param, sizeof(param), "%s:page=%s",
				 phase_name[ph], page == KIB4 ? "4K" : "2M");
			for (int i = 0; i < VARIANTS; i++)
				bench_report("softmmu", variant[i], param,
					     "pages_per_s", v[i][ph], runs);
		}
		consumers_destroy(&c);
		umn_soft_mm_destroy(sm[0]);
		umn_soft_mm_destroy(sm[1]);
		if (umn_soft_frames_destroy(frames))
			bench_die("softmmu", "umn_soft_frames_destroy");
	}
}
