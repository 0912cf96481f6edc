// SPDX-License-Identifier: MIT
/*
 * tools/soft_mix.c - the random mix of the soft MMU's operations (see
 * soft_mix.h).  Each operation may fail (a range unmapped meanwhile, a
 * pinned page): the mix ignores it, the oracles of its callers judge what
 * the secondaries saw.
 */
#include <unistd.h>

#include "soft_mix.h"

#define PAGE UMN_PAGE_SIZE
#define THP  UMN_SOFT_PMD_SIZE
#define RW   (UMN_SOFT_PROT_READ | UMN_SOFT_PROT_WRITE)

unsigned long soft_mix_rnd(unsigned long *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void discard(const struct soft_mix *m, unsigned long first,
		    unsigned long n)
{
	if (m->discard)
		m->discard(first, n);
}

static unsigned long random_page(const struct soft_mix *m, unsigned long *s)
{
	return m->win + (soft_mix_rnd(s) % m->pages) * PAGE;
}

/* munmap and map again; now and then a whole 2 MiB block, which brings
 * back 2 MiB pages where splits left 4 KiB ones. */
static void remap(const struct soft_mix *m, unsigned long first,
		  unsigned long n, unsigned long *s)
{
	unsigned long a, b;

	if (soft_mix_rnd(s) % 4 == 0) {
		first &= ~(THP / PAGE - 1);
		n = THP / PAGE;
	}
	a = m->win + first * PAGE;
	discard(m, first, n);
	umn_soft_munmap(m->sm, a, n * PAGE);
	umn_soft_mmap(m->sm, a, n * PAGE, RW, m->map_flags, &b);
	discard(m, first, n);
}

/* mremap on a scratch mapping of the thread's, out of the window: grow
 * (it may move), shrink. */
static void remap_scratch(const struct soft_mix *m, int id)
{
	char c = (char)id;
	unsigned long b;

	if (umn_soft_mmap(m->sm, m->win + (1UL << 30), 16 * PAGE, RW, 0, &b))
		return;
	umn_soft_write(m->sm, b, &c, 1);
	if (!umn_soft_mremap(m->sm, b, 16 * PAGE, 64 * PAGE,
			     UMN_SOFT_MREMAP_MAYMOVE, &b))
		umn_soft_mremap(m->sm, b, 64 * PAGE, 8 * PAGE, 0, &b);
	umn_soft_munmap(m->sm, b, 8 * PAGE);
}

/* mremap shrinks [first, first + n) of the window to its first page (the
 * tail is unmapped), then the tail is mapped again. */
static void shrink(const struct soft_mix *m, unsigned long first,
		   unsigned long n)
{
	unsigned long a = m->win + first * PAGE, b;

	if (n < 2)
		return;
	discard(m, first + 1, n - 1);
	if (!umn_soft_mremap(m->sm, a, n * PAGE, PAGE, 0, &b))
		umn_soft_mmap(m->sm, a + PAGE, (n - 1) * PAGE, RW, m->map_flags,
			      &b);
	discard(m, first + 1, n - 1);
}

static void dontneed(const struct soft_mix *m, unsigned long first,
		     unsigned long n)
{
	discard(m, first, n);
	umn_soft_madvise_dontneed(m->sm, m->win + first * PAGE, n * PAGE);
	discard(m, first, n);
}

/* Fork (less often: it write-protects the whole window), and the child
 * writes: copy-on-write. */
static void fork_and_write(const struct soft_mix *m, int id, unsigned long *s)
{
	struct umn_soft_mm *child;
	char c = (char)id;
	int i;

	if (soft_mix_rnd(s) % 8 || umn_soft_fork(m->sm, &child))
		return;
	for (i = 0; i < 8; i++)
		umn_soft_write(child, random_page(m, s) + 2048, &c, 1);
	umn_soft_mm_destroy(child);
}

/* Fill the 2 MiB block of @a, then collapse it. */
static void fill_and_collapse(const struct soft_mix *m, unsigned long a)
{
	unsigned long b = a & ~(THP - 1), p;

	for (p = 0; p < THP && !m->stopping(); p += PAGE)
		umn_soft_fault(m->sm, b + p, false);
	umn_soft_thp_collapse(m->sm, b);
}

static void populate(const struct soft_mix *m, unsigned long a, unsigned long n,
		     unsigned long *s)
{
	unsigned long p;

	for (p = 0; p < n; p++)
		umn_soft_fault(m->sm, a + p * PAGE, soft_mix_rnd(s) & 1);
}

void soft_mix_op(const struct soft_mix *m, int id, unsigned long *s)
{
	unsigned long first = soft_mix_rnd(s) % m->pages,
		      n = 1 + soft_mix_rnd(s) % 64, a;
	char c = (char)id;

	if (first + n > m->pages)
		n = m->pages - first;
	a = m->win + first * PAGE;
	switch (soft_mix_rnd(s) % 15) {
	case 0:
		remap(m, first, n, s);
		break;
	case 1: /* write-protect, then allow writes again */
		umn_soft_mprotect(m->sm, a, n * PAGE, UMN_SOFT_PROT_READ);
		umn_soft_mprotect(m->sm, a, n * PAGE, RW);
		break;
	case 2:
		remap_scratch(m, id);
		break;
	case 3:
		dontneed(m, first, n);
		break;
	case 4: /* the CPU writes, in its own corner of the page */
		umn_soft_write(m->sm, a + 2048 + (unsigned long)id, &c, 1);
		break;
	case 5:
		fork_and_write(m, id, s);
		break;
	case 6:
		umn_soft_thp_split(m->sm, a);
		break;
	case 7:
		fill_and_collapse(m, a);
		break;
	case 8:
		umn_soft_migrate(m->sm, a);
		break;
	case 9:
		umn_soft_reclaim(m->sm, a);
		break;
	case 10:
		shrink(m, first, n);
		break;
	case 11:
		umn_soft_clean(m->sm, a);
		break;
	case 12:
		umn_soft_ksm_merge(m->sm, a, m->sm, random_page(m, s));
		break;
	case 13:
		umn_soft_age(m->sm, a, n * PAGE, (int)(soft_mix_rnd(s) % 3));
		break;
	default: /* populate, so that there is something to change */
		populate(m, a, n, s);
		break;
	}
}

void soft_mix_run(const struct soft_mix *m, int id, unsigned long seed)
{
	unsigned long s = seed * 40503UL + (unsigned long)id + 7;

	while (!m->stopping()) {
		soft_mix_op(m, id, &s);
		usleep(50);
	}
}
