// SPDX-License-Identifier: MIT
/*
 * tests/check_consumers.c - the reference secondary MMUs of consumers/
 * over a soft mm: each gives the primary's translation, holds nothing
 * stale once the primary unmaps, protects or reclaims, and each deliberate
 * break is caught by the oracle in a deterministic interleaving, so that
 * the oracle is shown able to fail.
 *
 * The oracle: a consumer's translation of addr is coherent if the primary
 * maps addr to the same 4 KiB of the same frame, of the same generation
 * (the frame was not freed since), and allows a write if it does.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <umn/devtlb.h>
#include <umn/mirror.h>
#include <umn/regcache.h>
#include <umn/soft.h>
#include <umn-test/breaks.h>

#include "harness.h"

Suite *consumers_suite(void);

#define BASE 0x40000000UL /* 1 GiB: aligned for every page size */
#define PMD  UMN_SOFT_PMD_SIZE
#define WIN  (4 * PMD) /* the mirrors' window: [BASE, BASE + WIN) */
#define RW   (UMN_SOFT_PROT_READ | UMN_SOFT_PROT_WRITE)

static struct umn_soft_frames *frames;
static struct umn_soft_mm *sm;

static void setup(void)
{
	struct umn_soft_frames_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	ck_assert_int_eq(umn_soft_frames_create(&cfg, &frames), 0);
	ck_assert_int_eq(umn_soft_mm_create(frames, &sm), 0);
}

static void teardown(void)
{
	if (sm)
		umn_soft_mm_destroy(sm);
	sm = NULL;
	/* Every frame came back: no consumer leaked a pin. */
	ck_assert_int_eq(umn_soft_frames_destroy(frames), 0);
}

static void map(unsigned long addr, unsigned long len, int flags)
{
	unsigned long got;

	ck_assert_int_eq(umn_soft_mmap(sm, addr, len, RW,
				       flags | UMN_SOFT_MAP_FIXED, &got),
			 0);
	ck_assert_uint_eq(got, addr);
}

static int primary(unsigned long addr, struct umn_soft_translation *t)
{
	return umn_soft_lookup(sm, addr, false, NULL, NULL, t);
}

/* The 4 KiB of the primary's frame that addr reaches. */
static unsigned long page_at(const struct umn_soft_translation *t,
			     unsigned long addr)
{
	return (t->size == UMN_PAGE_SIZE ? t->subpage : 0) +
	       ((addr - t->base) >> UMN_PAGE_SHIFT);
}

/* A consumer reports its translation with subpage already at addr. */
static bool coherent(unsigned long frame, unsigned long subpage,
		     unsigned long gen, unsigned long addr)
{
	struct umn_soft_translation p;

	return !primary(addr, &p) && frame == p.frame &&
	       subpage == page_at(&p, addr) && gen == p.gen &&
	       gen == umn_soft_frame_gen(frames, frame);
}

static void assert_coherent(const struct umn_soft_translation *c,
			    unsigned long addr)
{
	struct umn_soft_translation p;

	ck_assert(coherent(c->frame, c->subpage, c->gen, addr));
	ck_assert_int_eq(primary(addr, &p), 0);
	ck_assert(!c->writable || p.writable);
}

/* A stale translation whose frame was freed: a device use-after-free. */
static void assert_stale(unsigned long frame, unsigned long subpage,
			 unsigned long gen, unsigned long addr)
{
	ck_assert(!coherent(frame, subpage, gen, addr));
}

/* The mirror. */

static const unsigned int variant[] = { UMN_MIRROR_CLASSIC,
					UMN_MIRROR_INTERVAL };

static struct umn_mirror *mirror(unsigned int flags)
{
	struct umn_mirror *m;

	ck_assert_int_eq(umn_mirror_create(sm, BASE, WIN, flags, &m), 0);
	return m;
}

START_TEST(mirror_fault_installs_the_primary_translation)
{
	struct umn_soft_translation t;
	struct umn_mirror_stats st;
	struct umn_mirror *m;

	map(BASE, PG(16), 0);
	m = mirror(variant[_i]);
	ck_assert_int_eq(umn_mirror_translate(m, BASE + PG(3), &t), -ENOENT);
	ck_assert_int_eq(umn_mirror_fault(m, BASE + PG(3), false), 0);
	ck_assert_int_eq(umn_mirror_translate(m, BASE + PG(3), &t), 0);
	ck_assert_uint_eq(t.base, BASE + PG(3));
	ck_assert_uint_eq(t.size, UMN_PAGE_SIZE);
	assert_coherent(&t, BASE + PG(3));
	ck_assert_int_eq(umn_mirror_fault(m, BASE + PG(4), true), 0);
	ck_assert_int_eq(umn_mirror_translate(m, BASE + PG(4), &t), 0);
	ck_assert(t.writable);
	assert_coherent(&t, BASE + PG(4));
	ck_assert_int_eq(umn_mirror_translate(m, BASE + PG(5), &t), -ENOENT);
	umn_mirror_stats(m, &st);
	ck_assert_uint_eq(st.faults, 2);
	ck_assert_uint_ge(st.primary_faults, 2);
	ck_assert_uint_eq(st.retries, 0);
	ck_assert_int_eq(umn_mirror_destroy(m), 0);
}
END_TEST

START_TEST(mirror_drops_what_the_primary_unmaps_protects_or_reclaims)
{
	struct umn_soft_translation t;
	struct umn_mirror_stats st;
	struct umn_mirror *m;
	int i;

	map(BASE, PG(16), 0);
	m = mirror(variant[_i]);
	for (i = 0; i < 3; i++)
		ck_assert_int_eq(umn_mirror_fault(m, BASE + PG(i), true), 0);

	ck_assert_int_eq(umn_soft_munmap(sm, BASE, PG(1)), 0);
	ck_assert_int_eq(umn_mirror_translate(m, BASE, &t), -ENOENT);
	ck_assert_int_eq(umn_mirror_fault(m, BASE, false), -EFAULT);

	ck_assert_int_eq(
		umn_soft_mprotect(sm, BASE + PG(1), PG(1), UMN_SOFT_PROT_READ),
		0);
	ck_assert_int_eq(umn_mirror_translate(m, BASE + PG(1), &t), -ENOENT);
	ck_assert_int_eq(umn_mirror_fault(m, BASE + PG(1), true), -EACCES);
	ck_assert_int_eq(umn_mirror_fault(m, BASE + PG(1), false), 0);
	ck_assert_int_eq(umn_mirror_translate(m, BASE + PG(1), &t), 0);
	ck_assert(!t.writable);
	assert_coherent(&t, BASE + PG(1));

	ck_assert_int_eq(umn_soft_reclaim(sm, BASE + PG(2)), 0);
	ck_assert_int_eq(umn_mirror_translate(m, BASE + PG(2), &t), -ENOENT);
	ck_assert_int_eq(umn_mirror_fault(m, BASE + PG(2), false), 0);
	ck_assert_int_eq(umn_mirror_translate(m, BASE + PG(2), &t), 0);
	assert_coherent(&t, BASE + PG(2));

	umn_mirror_stats(m, &st);
	ck_assert_uint_ge(st.invalidations[UMN_EVENT_UNMAP], 1);
	ck_assert_uint_ge(st.invalidations[UMN_EVENT_PROTECTION_VMA], 1);
	ck_assert_uint_ge(st.invalidations[UMN_EVENT_CLEAR], 1);
	ck_assert_uint_ge(st.zapped, 3);
	ck_assert_int_eq(umn_mirror_destroy(m), 0);
}
END_TEST

START_TEST(mirror_maps_a_huge_page_whole)
{
	struct umn_soft_translation p, t;
	struct umn_mirror *m;

	map(BASE, 2 * PMD, UMN_SOFT_MAP_THP);
	m = mirror(variant[_i]);
	ck_assert_int_eq(umn_mirror_fault(m, BASE, true), 0);
	ck_assert_int_eq(primary(BASE, &p), 0);
	ck_assert_uint_eq(p.size, PMD);
	ck_assert_int_eq(umn_mirror_translate(m, BASE, &t), 0);
	ck_assert_uint_eq(t.base, BASE);
	ck_assert_uint_eq(t.size, PMD);
	assert_coherent(&t, BASE);
	/* One entry covers the 2 MiB. */
	ck_assert_int_eq(umn_mirror_translate(m, BASE + PG(5), &t), 0);
	ck_assert_uint_eq(t.subpage, 5);
	assert_coherent(&t, BASE + PG(5));
	ck_assert_int_eq(umn_mirror_translate(m, BASE + PMD, &t), -ENOENT);

	/* The split invalidates the 2 MiB: the whole entry goes. */
	ck_assert_int_eq(umn_soft_thp_split(sm, BASE), 0);
	ck_assert_int_eq(umn_mirror_translate(m, BASE + PG(7), &t), -ENOENT);
	ck_assert_int_eq(umn_mirror_fault(m, BASE + PG(7), false), 0);
	ck_assert_int_eq(umn_mirror_translate(m, BASE + PG(7), &t), 0);
	ck_assert_uint_eq(t.size, UMN_PAGE_SIZE);
	assert_coherent(&t, BASE + PG(7));

	/* Unmapping 4 KiB inside a whole entry removes the entry. */
	ck_assert_int_eq(umn_mirror_fault(m, BASE + PMD, true), 0);
	ck_assert_int_eq(umn_mirror_translate(m, BASE + PMD + PG(9), &t), 0);
	ck_assert_uint_eq(t.size, PMD);
	ck_assert_int_eq(umn_soft_munmap(sm, BASE + PMD + PG(1), PG(1)), 0);
	ck_assert_int_eq(umn_mirror_translate(m, BASE + PMD + PG(9), &t),
			 -ENOENT);
	ck_assert_int_eq(umn_mirror_destroy(m), 0);
}
END_TEST

START_TEST(mirror_splits_a_huge_page_into_pieces)
{
	struct umn_soft_translation p, t;
	struct umn_mirror *m;

	map(BASE, 2 * PMD, UMN_SOFT_MAP_THP);
	m = mirror(variant[_i] | UMN_MIRROR_SPLIT_HUGE);
	ck_assert_int_eq(umn_mirror_fault(m, BASE + PG(3), false), 0);
	ck_assert_int_eq(primary(BASE + PG(3), &p), 0);
	ck_assert_uint_eq(p.size, PMD);
	ck_assert_int_eq(umn_mirror_translate(m, BASE + PG(3), &t), 0);
	ck_assert_uint_eq(t.base, BASE + PG(3));
	ck_assert_uint_eq(t.size, UMN_PAGE_SIZE);
	ck_assert_uint_eq(t.subpage, 3);
	assert_coherent(&t, BASE + PG(3));
	ck_assert_int_eq(umn_mirror_translate(m, BASE, &t), -ENOENT);
	ck_assert_int_eq(umn_mirror_translate(m, BASE + PG(4), &t), -ENOENT);
	ck_assert_int_eq(umn_mirror_fault(m, BASE + PG(4), true), 0);
	ck_assert_int_eq(umn_mirror_translate(m, BASE + PG(4), &t), 0);
	assert_coherent(&t, BASE + PG(4));

	/* Reclaim of the huge frame takes every piece. */
	ck_assert_int_eq(umn_soft_reclaim(sm, BASE), 0);
	ck_assert_int_eq(umn_mirror_translate(m, BASE + PG(3), &t), -ENOENT);
	ck_assert_int_eq(umn_mirror_translate(m, BASE + PG(4), &t), -ENOENT);
	ck_assert_int_eq(umn_mirror_destroy(m), 0);
}
END_TEST

/* The seq race, step by step: lookup, the primary unmaps, install. */
static int seq_race(struct umn_mirror *m, unsigned long addr)
{
	struct umn_soft_translation old;
	unsigned long seq;

	ck_assert_int_eq(umn_soft_fault(sm, addr, true), 0);
	seq = umn_mirror_read_begin(m);
	ck_assert_int_eq(primary(addr, &old), 0);
	ck_assert_int_eq(umn_soft_munmap(sm, addr, PG(1)), 0);
	return umn_mirror_install(m, addr, seq, &old);
}

START_TEST(mirror_break_retry_is_caught)
{
	struct umn_soft_translation t;
	struct umn_mirror_stats st;
	struct umn_mirror *m;

	map(BASE, PG(16), 0);
	m = mirror(variant[_i]);
	ck_assert_int_eq(seq_race(m, BASE), -EAGAIN);
	ck_assert_int_eq(umn_mirror_translate(m, BASE, &t), -ENOENT);
	umn_mirror_stats(m, &st);
	ck_assert_uint_eq(st.retries, 1);
	ck_assert_int_eq(umn_mirror_destroy(m), 0);

	m = mirror(variant[_i] | UMN_MIRROR_BREAK_RETRY);
	ck_assert_int_eq(seq_race(m, BASE + PG(1)), 0);
	ck_assert_int_eq(umn_mirror_translate(m, BASE + PG(1), &t), 0);
	assert_stale(t.frame, t.subpage, t.gen, BASE + PG(1));
	ck_assert_uint_ne(umn_soft_frame_gen(frames, t.frame), t.gen);
	ck_assert_int_eq(umn_mirror_destroy(m), 0);
}
END_TEST

/*
 * The counter race: the install lands between start and end.  A spy
 * notifier, registered after the mirror (so it runs before the mirror's
 * end), installs from its ->invalidate_range: after the mirror's start
 * and the page-table change, before the end bumps the sequence.
 */
struct spy {
	struct umn_notifier n;
	struct umn_mirror *m;
	unsigned long addr, seq;
	struct umn_soft_translation t;
	bool armed;
	int ret;
};

static void spy_invalidate_range(struct umn_notifier *n, struct umn_mm *mm,
				 unsigned long start, unsigned long end)
{
	struct spy *s = container_of(n, struct spy, n);

	(void)mm;
	if (!s->armed || s->addr < start || s->addr >= end)
		return;
	s->armed = false;
	s->ret = umn_mirror_install(s->m, s->addr, s->seq, &s->t);
}

static const struct umn_notifier_ops spy_ops = {
	.name = "spy",
	.invalidate_range = spy_invalidate_range,
};

static int counter_race(struct umn_mirror *m, unsigned long addr)
{
	struct spy s;

	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(umn_soft_fault(sm, addr, true), 0);
	ck_assert_int_eq(
		umn_notifier_register(&s.n, &spy_ops, umn_soft_mm_umn(sm)), 0);
	s.m = m;
	s.addr = addr;
	s.seq = umn_mirror_read_begin(m);
	ck_assert_int_eq(primary(addr, &s.t), 0);
	s.armed = true;
	ck_assert_int_eq(umn_soft_munmap(sm, addr, PG(1)), 0);
	ck_assert(!s.armed);
	ck_assert_int_eq(umn_notifier_unregister(&s.n), 0);
	return s.ret;
}

START_TEST(mirror_break_counter_is_caught)
{
	struct umn_soft_translation t;
	struct umn_mirror *m;

	map(BASE, PG(16), 0);
	m = mirror(UMN_MIRROR_CLASSIC);
	ck_assert_int_eq(counter_race(m, BASE), -EAGAIN);
	ck_assert_int_eq(umn_mirror_translate(m, BASE, &t), -ENOENT);
	ck_assert_int_eq(umn_mirror_destroy(m), 0);

	m = mirror(UMN_MIRROR_CLASSIC | UMN_MIRROR_BREAK_COUNTER);
	ck_assert_int_eq(counter_race(m, BASE + PG(1)), 0);
	ck_assert_int_eq(umn_mirror_translate(m, BASE + PG(1), &t), 0);
	assert_stale(t.frame, t.subpage, t.gen, BASE + PG(1));
	ck_assert_uint_ne(umn_soft_frame_gen(frames, t.frame), t.gen);
	ck_assert_int_eq(umn_mirror_destroy(m), 0);
}
END_TEST

START_TEST(mirror_release_drops_everything)
{
	struct umn_soft_translation t;
	struct umn_mirror *m;

	map(BASE, PG(16), 0);
	m = mirror(variant[_i]);
	ck_assert_int_eq(umn_mirror_fault(m, BASE, true), 0);
	umn_soft_mm_destroy(sm);
	sm = NULL;
	ck_assert_int_eq(umn_mirror_translate(m, BASE, &t), -ENOENT);
	ck_assert_int_eq(umn_mirror_fault(m, BASE, false), -ESRCH);
	ck_assert_int_eq(umn_mirror_destroy(m), 0);
}
END_TEST

START_TEST(mirror_refuses_bad_input)
{
	struct umn_soft_translation t;
	struct umn_mirror *m = NULL;
	unsigned int c = UMN_MIRROR_CLASSIC;

	ck_assert_int_eq(umn_mirror_create(NULL, BASE, WIN, c, &m), -EINVAL);
	ck_assert_int_eq(umn_mirror_create(sm, BASE, 0, c, &m), -EINVAL);
	ck_assert_int_eq(umn_mirror_create(sm, BASE + 1, WIN, c, &m), -EINVAL);
	ck_assert_int_eq(umn_mirror_create(sm, BASE, WIN + 1, c, &m), -EINVAL);
	ck_assert_int_eq(umn_mirror_create(sm, BASE, WIN, 0, &m), -EINVAL);
	ck_assert_int_eq(
		umn_mirror_create(sm, BASE, WIN, c | UMN_MIRROR_INTERVAL, &m),
		-EINVAL);
	ck_assert_int_eq(umn_mirror_create(sm, BASE, WIN,
					   UMN_MIRROR_INTERVAL |
						   UMN_MIRROR_BREAK_COUNTER,
					   &m),
			 -EINVAL);
	ck_assert_int_eq(umn_mirror_create(sm, BASE, WIN, c | (1U << 20), &m),
			 -EINVAL);
	ck_assert_int_eq(
		umn_mirror_create(sm, UMN_SOFT_TASK_SIZE - PG(1), PG(2), c, &m),
		-EINVAL);
	ck_assert_int_eq(umn_mirror_create(sm, BASE, WIN, c, NULL), -EINVAL);
	ck_assert_ptr_null(m);

	map(BASE, PG(16), 0);
	m = mirror(c);
	ck_assert_int_eq(umn_mirror_fault(m, BASE - PG(1), false), -EINVAL);
	ck_assert_int_eq(umn_mirror_fault(m, BASE + WIN, false), -EINVAL);
	ck_assert_int_eq(umn_mirror_fault(NULL, BASE, false), -EINVAL);
	ck_assert_int_eq(umn_mirror_translate(m, BASE + WIN, &t), -EINVAL);
	ck_assert_int_eq(umn_mirror_translate(m, BASE, NULL), -EINVAL);
	memset(&t, 0, sizeof(t));
	t.base = BASE + PG(1);
	t.size = UMN_PAGE_SIZE;
	ck_assert_int_eq(umn_mirror_install(m, BASE, 0, &t), -EINVAL);
	t.base = BASE;
	t.size = 3 * UMN_PAGE_SIZE;
	ck_assert_int_eq(umn_mirror_install(m, BASE, 0, &t), -EINVAL);
	t.size = PMD;
	t.base = BASE + PG(1);
	ck_assert_int_eq(umn_mirror_install(m, BASE + PG(1), 0, &t), -EINVAL);
	ck_assert_int_eq(umn_mirror_translate(m, BASE, &t), -ENOENT);
	ck_assert_int_eq(umn_mirror_destroy(NULL), -EINVAL);
	ck_assert_int_eq(umn_mirror_destroy(m), 0);
}
END_TEST

/* The device TLB. */

static struct umn_devtlb *devtlb(unsigned int entries, unsigned int flags)
{
	struct umn_devtlb *t;

	ck_assert_int_eq(umn_devtlb_create(sm, entries, flags, &t), 0);
	return t;
}

START_TEST(devtlb_miss_fills_then_hits)
{
	struct umn_soft_translation tr;
	struct umn_devtlb_stats st;
	struct umn_devtlb *t;

	map(BASE, PG(16), 0);
	t = devtlb(8, 0);
	ck_assert_int_eq(umn_devtlb_check(t, BASE, &tr), -ENOENT);
	ck_assert_int_eq(umn_devtlb_translate(t, BASE, true, &tr), 0);
	ck_assert(tr.writable);
	assert_coherent(&tr, BASE);
	ck_assert_int_eq(umn_devtlb_check(t, BASE, &tr), 0);
	assert_coherent(&tr, BASE);
	ck_assert_int_eq(umn_devtlb_translate(t, BASE, false, &tr), 1);
	assert_coherent(&tr, BASE);
	ck_assert_int_eq(umn_devtlb_translate(t, BASE, true, &tr), 1);
	umn_devtlb_stats(t, &st);
	ck_assert_uint_eq(st.hits, 2);
	ck_assert_uint_eq(st.misses, 1);
	ck_assert_uint_eq(st.fills, 1);
	ck_assert_uint_eq(st.flushes, 0);
	ck_assert_int_eq(umn_devtlb_destroy(t), 0);
}
END_TEST

/*
 * What the devtlb caches at the start and at the end of a bracket, seen
 * by a watcher registered before it (so that the devtlb comes first in
 * end, had the primary called ->invalidate_range only from there).
 */
struct watch {
	struct umn_notifier n;
	struct umn_devtlb *t;
	unsigned long addr;
	int at_start, at_end;
};

static int watch_start(struct umn_notifier *n, const struct umn_range *range)
{
	struct watch *w = container_of(n, struct watch, n);
	struct umn_soft_translation tr;

	(void)range;
	if (w->t)
		w->at_start = umn_devtlb_check(w->t, w->addr, &tr);
	return 0;
}

static void watch_end(struct umn_notifier *n, const struct umn_range *range)
{
	struct watch *w = container_of(n, struct watch, n);
	struct umn_soft_translation tr;

	(void)range;
	if (w->t)
		w->at_end = umn_devtlb_check(w->t, w->addr, &tr);
}

static const struct umn_notifier_ops watch_ops = {
	.name = "watch",
	.invalidate_range_start = watch_start,
	.invalidate_range_end = watch_end,
};

START_TEST(devtlb_flushes_only_in_invalidate_range)
{
	struct umn_soft_translation tr;
	struct umn_devtlb_stats st;
	struct umn_devtlb *t;
	struct watch w;

	map(BASE, PG(16), 0);
	memset(&w, 0, sizeof(w));
	w.addr = BASE;
	w.at_start = w.at_end = 1;
	ck_assert_int_eq(
		umn_notifier_register(&w.n, &watch_ops, umn_soft_mm_umn(sm)),
		0);
	t = devtlb(8, 0);
	w.t = t;
	ck_assert_int_eq(umn_devtlb_translate(t, BASE, true, &tr), 0);
	ck_assert_int_eq(umn_devtlb_translate(t, BASE + PG(1), true, &tr), 0);
	umn_devtlb_stats(t, &st);
	ck_assert_uint_eq(st.flushes, 0);

	ck_assert_int_eq(umn_soft_munmap(sm, BASE, PG(1)), 0);
	ck_assert_int_eq(w.at_start, 0);     /* start: still cached */
	ck_assert_int_eq(w.at_end, -ENOENT); /* end: flushed already */
	ck_assert_int_eq(umn_devtlb_check(t, BASE, &tr), -ENOENT);
	ck_assert_int_eq(umn_devtlb_check(t, BASE + PG(1), &tr), 0);
	assert_coherent(&tr, BASE + PG(1));
	umn_devtlb_stats(t, &st);
	ck_assert_uint_ge(st.flushes, 1);
	ck_assert_uint_eq(st.flushed, 1);
	ck_assert_int_eq(umn_devtlb_translate(t, BASE, false, &tr), -EFAULT);
	w.t = NULL;
	ck_assert_int_eq(umn_devtlb_destroy(t), 0);
	ck_assert_int_eq(umn_notifier_unregister(&w.n), 0);
}
END_TEST

START_TEST(devtlb_drops_what_the_primary_protects_or_reclaims)
{
	struct umn_soft_translation tr;
	struct umn_devtlb *t;

	map(BASE, PG(16), 0);
	t = devtlb(8, 0);
	ck_assert_int_eq(umn_devtlb_translate(t, BASE, true, &tr), 0);
	ck_assert_int_eq(umn_soft_mprotect(sm, BASE, PG(1), UMN_SOFT_PROT_READ),
			 0);
	ck_assert_int_eq(umn_devtlb_check(t, BASE, &tr), -ENOENT);
	ck_assert_int_eq(umn_devtlb_translate(t, BASE, true, &tr), -EACCES);
	ck_assert_int_eq(umn_devtlb_translate(t, BASE, false, &tr), 0);
	ck_assert(!tr.writable);
	assert_coherent(&tr, BASE);
	/* A read-only entry does not serve a write. */
	ck_assert_int_eq(umn_devtlb_translate(t, BASE, true, &tr), -EACCES);

	ck_assert_int_eq(umn_devtlb_translate(t, BASE + PG(1), true, &tr), 0);
	ck_assert_int_eq(umn_soft_reclaim(sm, BASE + PG(1)), 0);
	ck_assert_int_eq(umn_devtlb_check(t, BASE + PG(1), &tr), -ENOENT);
	ck_assert_int_eq(umn_devtlb_translate(t, BASE + PG(1), false, &tr), 0);
	assert_coherent(&tr, BASE + PG(1));
	ck_assert_int_eq(umn_devtlb_destroy(t), 0);
}
END_TEST

START_TEST(devtlb_replaces_the_least_recently_used)
{
	struct umn_soft_translation tr;
	struct umn_devtlb_stats st;
	struct umn_devtlb *t;

	map(BASE, PG(16), 0);
	t = devtlb(2, 0);
	ck_assert_int_eq(umn_devtlb_translate(t, BASE, true, &tr), 0);
	ck_assert_int_eq(umn_devtlb_translate(t, BASE + PG(1), true, &tr), 0);
	ck_assert_int_eq(umn_devtlb_translate(t, BASE, true, &tr), 1);
	ck_assert_int_eq(umn_devtlb_translate(t, BASE + PG(2), true, &tr), 0);
	ck_assert_int_eq(umn_devtlb_check(t, BASE + PG(1), &tr), -ENOENT);
	ck_assert_int_eq(umn_devtlb_check(t, BASE, &tr), 0);
	ck_assert_int_eq(umn_devtlb_check(t, BASE + PG(2), &tr), 0);
	umn_devtlb_stats(t, &st);
	ck_assert_uint_eq(st.evictions, 1);
	ck_assert_int_eq(umn_devtlb_destroy(t), 0);
}
END_TEST

START_TEST(devtlb_caches_a_huge_page_whole)
{
	struct umn_soft_translation tr;
	struct umn_devtlb *t;

	map(BASE, 2 * PMD, UMN_SOFT_MAP_THP);
	t = devtlb(4, 0);
	ck_assert_int_eq(umn_devtlb_translate(t, BASE + PG(3), true, &tr), 0);
	ck_assert_uint_eq(tr.base, BASE);
	ck_assert_uint_eq(tr.size, PMD);
	ck_assert_uint_eq(tr.subpage, 3);
	assert_coherent(&tr, BASE + PG(3));
	ck_assert_int_eq(umn_devtlb_translate(t, BASE + PG(9), false, &tr), 1);
	ck_assert_uint_eq(tr.subpage, 9);
	assert_coherent(&tr, BASE + PG(9));

	ck_assert_int_eq(umn_soft_thp_split(sm, BASE), 0);
	ck_assert_int_eq(umn_devtlb_check(t, BASE + PG(9), &tr), -ENOENT);
	ck_assert_int_eq(umn_devtlb_translate(t, BASE + PG(9), false, &tr), 0);
	ck_assert_uint_eq(tr.size, UMN_PAGE_SIZE);
	assert_coherent(&tr, BASE + PG(9));
	ck_assert_int_eq(umn_devtlb_destroy(t), 0);
}
END_TEST

START_TEST(devtlb_break_flush_is_caught)
{
	struct umn_soft_translation tr;
	struct umn_devtlb *t;

	map(BASE, PG(16), 0);
	t = devtlb(8, 0);
	ck_assert_int_eq(umn_devtlb_translate(t, BASE, true, &tr), 0);
	ck_assert_int_eq(umn_soft_munmap(sm, BASE, PG(1)), 0);
	ck_assert_int_eq(umn_devtlb_check(t, BASE, &tr), -ENOENT);
	ck_assert_int_eq(umn_devtlb_destroy(t), 0);

	t = devtlb(8, UMN_DEVTLB_BREAK_FLUSH);
	ck_assert_int_eq(umn_devtlb_translate(t, BASE + PG(1), true, &tr), 0);
	ck_assert_int_eq(umn_soft_munmap(sm, BASE + PG(1), PG(1)), 0);
	ck_assert_int_eq(umn_devtlb_check(t, BASE + PG(1), &tr), 0);
	assert_stale(tr.frame, tr.subpage, tr.gen, BASE + PG(1));
	ck_assert_uint_ne(umn_soft_frame_gen(frames, tr.frame), tr.gen);
	ck_assert_int_eq(umn_devtlb_destroy(t), 0);
}
END_TEST

START_TEST(devtlb_release_flushes_everything)
{
	struct umn_soft_translation tr;
	struct umn_devtlb *t;

	map(BASE, PG(16), 0);
	t = devtlb(8, 0);
	ck_assert_int_eq(umn_devtlb_translate(t, BASE, true, &tr), 0);
	umn_soft_mm_destroy(sm);
	sm = NULL;
	ck_assert_int_eq(umn_devtlb_check(t, BASE, &tr), -ENOENT);
	ck_assert_int_eq(umn_devtlb_translate(t, BASE, false, &tr), -ESRCH);
	ck_assert_int_eq(umn_devtlb_destroy(t), 0);
}
END_TEST

START_TEST(devtlb_refuses_bad_input)
{
	struct umn_soft_translation tr;
	struct umn_devtlb *t = NULL;

	ck_assert_int_eq(umn_devtlb_create(NULL, 8, 0, &t), -EINVAL);
	ck_assert_int_eq(umn_devtlb_create(sm, 0, 0, &t), -EINVAL);
	ck_assert_int_eq(
		umn_devtlb_create(sm, UMN_DEVTLB_MAX_ENTRIES + 1, 0, &t),
		-EINVAL);
	ck_assert_int_eq(umn_devtlb_create(sm, 8, 1U << 20, &t), -EINVAL);
	ck_assert_int_eq(umn_devtlb_create(sm, 8, 0, NULL), -EINVAL);
	ck_assert_ptr_null(t);
	t = devtlb(8, 0);
	ck_assert_int_eq(
		umn_devtlb_translate(t, UMN_SOFT_TASK_SIZE, false, &tr),
		-EINVAL);
	ck_assert_int_eq(umn_devtlb_translate(NULL, BASE, false, &tr), -EINVAL);
	ck_assert_int_eq(umn_devtlb_translate(t, BASE, false, NULL), -EINVAL);
	ck_assert_int_eq(umn_devtlb_check(t, BASE, NULL), -EINVAL);
	ck_assert_int_eq(umn_devtlb_destroy(NULL), -EINVAL);
	ck_assert_int_eq(umn_devtlb_destroy(t), 0);
}
END_TEST

/* The registration cache. */

static struct umn_regcache_soft soft;

static struct umn_regcache *regcache(const struct umn_regcache_ops *ops,
				     unsigned int flags)
{
	struct umn_regcache *rc;

	soft.sm = sm;
	soft.frames = frames;
	ck_assert_int_eq(umn_regcache_create(umn_soft_mm_umn(sm), ops, &soft,
					     flags, &rc),
			 0);
	return rc;
}

static void assert_page(const struct umn_regcache_page *pg, unsigned long addr)
{
	ck_assert(coherent(pg->frame, pg->subpage, pg->gen, addr));
}

START_TEST(regcache_registers_pins_and_reuses)
{
	struct umn_regcache_handle *h, *h2, *h3;
	struct umn_regcache_stats st;
	struct umn_regcache_page pg;
	struct umn_regcache *rc;
	int i;

	map(BASE, PG(16), 0);
	rc = regcache(&umn_regcache_soft_ops, 0);
	ck_assert_int_eq(
		umn_regcache_register(rc, BASE + 100, PG(4) - 200, true, &h),
		0);
	ck_assert_uint_eq(h->addr, BASE);
	ck_assert_uint_eq(h->len, PG(4));
	ck_assert(h->write);
	for (i = 0; i < 4; i++)
		assert_page(&h->pages[i], BASE + PG(i));
	ck_assert(umn_regcache_valid(h));

	/* A covered range, for reading, reuses it. */
	ck_assert_int_eq(
		umn_regcache_register(rc, BASE + PG(1), PG(2), false, &h2), 0);
	ck_assert_ptr_eq(h2, h);
	ck_assert_int_eq(umn_regcache_lookup(rc, BASE, PG(4), true, &h3), 0);
	ck_assert_ptr_eq(h3, h);
	ck_assert_int_eq(umn_regcache_lookup(rc, BASE, PG(5), false, &h3),
			 -ENOENT);
	ck_assert_int_eq(umn_regcache_check(rc, BASE + PG(2), &pg), 0);
	assert_page(&pg, BASE + PG(2));
	ck_assert_int_eq(umn_regcache_check(rc, BASE + PG(4), &pg), -ENOENT);
	umn_regcache_stats(rc, &st);
	ck_assert_uint_eq(st.registrations, 1);
	ck_assert_uint_eq(st.hits, 2);
	ck_assert_uint_eq(st.pins, 4);

	for (i = 0; i < 3; i++)
		ck_assert_int_eq(umn_regcache_release(h), 0);
	ck_assert_int_eq(umn_regcache_release(h), -EINVAL);
	/* Idle but valid: still cached, still pinned. */
	umn_regcache_stats(rc, &st);
	ck_assert_uint_eq(st.unpins, 0);
	ck_assert_int_eq(umn_regcache_lookup(rc, BASE, PG(1), false, &h3), 0);
	ck_assert_ptr_eq(h3, h);
	ck_assert_int_eq(umn_regcache_release(h3), 0);
	ck_assert_int_eq(umn_regcache_destroy(rc), 0);
}
END_TEST

START_TEST(regcache_keeps_frames_pinned_until_the_last_release)
{
	struct umn_regcache_handle *h, *h2;
	struct umn_regcache_stats st;
	struct umn_regcache_page pg, pg0;
	struct umn_regcache *rc;

	map(BASE, PG(16), 0);
	rc = regcache(&umn_regcache_soft_ops, 0);
	ck_assert_int_eq(umn_regcache_register(rc, BASE, PG(4), true, &h), 0);
	pg0 = h->pages[0];
	ck_assert_int_eq(umn_soft_munmap(sm, BASE, PG(4)), 0);
	ck_assert(!umn_regcache_valid(h));
	ck_assert_int_eq(umn_regcache_lookup(rc, BASE, PG(1), false, &h2),
			 -ENOENT);
	ck_assert_int_eq(umn_regcache_check(rc, BASE, &pg), -ENOENT);
	/* Unmapped, but pinned: not freed while the device may use it. */
	ck_assert_uint_eq(umn_soft_frame_gen(frames, pg0.frame), pg0.gen);
	umn_regcache_stats(rc, &st);
	ck_assert_uint_eq(st.invalidations, 1);
	ck_assert_uint_eq(st.unpins, 0);

	ck_assert_int_eq(umn_regcache_release(h), 0);
	umn_regcache_stats(rc, &st);
	ck_assert_uint_eq(st.unpins, 4);
	ck_assert_uint_eq(st.reaped, 1);
	ck_assert_uint_ne(umn_soft_frame_gen(frames, pg0.frame), pg0.gen);
	ck_assert_int_eq(umn_regcache_destroy(rc), 0);
}
END_TEST

START_TEST(regcache_reaps_an_idle_invalidated_registration)
{
	struct umn_regcache_handle *h;
	struct umn_regcache_stats st;
	struct umn_regcache *rc;

	map(BASE, PG(16), 0);
	rc = regcache(&umn_regcache_soft_ops, 0);
	ck_assert_int_eq(umn_regcache_register(rc, BASE, PG(2), true, &h), 0);
	ck_assert_int_eq(umn_regcache_release(h), 0);
	ck_assert_int_eq(umn_soft_madvise_dontneed(sm, BASE, PG(1)), 0);
	ck_assert_int_eq(
		umn_regcache_lookup(rc, BASE + PG(1), PG(1), false, &h),
		-ENOENT);
	umn_regcache_stats(rc, &st);
	ck_assert_uint_eq(st.invalidations, 1);
	ck_assert_uint_eq(st.unpins, 0); /* deferred: not in the callback */
	ck_assert_int_eq(umn_regcache_reap(rc), 1);
	ck_assert_int_eq(umn_regcache_reap(rc), 0);
	umn_regcache_stats(rc, &st);
	ck_assert_uint_eq(st.unpins, 2);
	ck_assert_int_eq(umn_regcache_destroy(rc), 0);
}
END_TEST

START_TEST(regcache_pins_refuse_reclaim_and_migration)
{
	struct umn_regcache_handle *h;
	struct umn_regcache *rc;

	map(BASE, PG(16), 0);
	rc = regcache(&umn_regcache_soft_ops, 0);
	ck_assert_int_eq(umn_regcache_register(rc, BASE, PG(1), true, &h), 0);
	ck_assert_int_eq(umn_soft_reclaim(sm, BASE), -EBUSY);
	ck_assert_int_eq(umn_soft_migrate(sm, BASE), -EBUSY);
	ck_assert(umn_regcache_valid(h));
	assert_page(&h->pages[0], BASE);
	ck_assert_int_eq(umn_regcache_release(h), 0);
	ck_assert_int_eq(umn_regcache_destroy(rc), 0);
}
END_TEST

/* Pins, then lets the primary drop the range before the registration is
 * published: the collision register's read_retry must catch. */
static bool meddle;

static int meddling_pin(void *arg, unsigned long addr, unsigned long npages,
			bool write, struct umn_regcache_page *pages)
{
	int ret = umn_regcache_soft_ops.pin(arg, addr, npages, write, pages);

	if (!ret && meddle) {
		meddle = false;
		ck_assert_int_eq(
			umn_soft_madvise_dontneed(sm, addr, PG(npages)), 0);
	}
	return ret;
}

static void meddling_unpin(void *arg, unsigned long npages,
			   const struct umn_regcache_page *pages)
{
	umn_regcache_soft_ops.unpin(arg, npages, pages);
}

static const struct umn_regcache_ops meddling_ops = {
	.pin = meddling_pin,
	.unpin = meddling_unpin,
};

START_TEST(regcache_break_retry_is_caught)
{
	struct umn_regcache_handle *h;
	struct umn_regcache_stats st;
	struct umn_regcache_page pg;
	struct umn_regcache *rc;

	map(BASE, PG(16), 0);
	rc = regcache(&meddling_ops, 0);
	meddle = true;
	ck_assert_int_eq(umn_regcache_register(rc, BASE, PG(2), true, &h), 0);
	umn_regcache_stats(rc, &st);
	ck_assert_uint_eq(st.retries, 1);
	ck_assert_uint_eq(st.pins, 4);
	ck_assert_uint_eq(st.unpins, 2);
	assert_page(&h->pages[0], BASE);
	assert_page(&h->pages[1], BASE + PG(1));
	ck_assert_int_eq(umn_regcache_release(h), 0);
	ck_assert_int_eq(umn_regcache_destroy(rc), 0);

	rc = regcache(&meddling_ops, UMN_REGCACHE_BREAK_RETRY);
	meddle = true;
	ck_assert_int_eq(
		umn_regcache_register(rc, BASE + PG(4), PG(2), true, &h), 0);
	ck_assert(umn_regcache_valid(h));
	ck_assert_int_eq(umn_regcache_check(rc, BASE + PG(4), &pg), 0);
	assert_stale(pg.frame, pg.subpage, pg.gen, BASE + PG(4));
	ck_assert_int_eq(umn_regcache_release(h), 0);
	ck_assert_int_eq(umn_regcache_destroy(rc), 0);
}
END_TEST

START_TEST(regcache_outlives_the_address_space)
{
	struct umn_regcache_handle *h;
	struct umn_regcache_page pg0;
	struct umn_regcache *rc;

	map(BASE, PG(16), 0);
	rc = regcache(&umn_regcache_soft_ops, 0);
	ck_assert_int_eq(umn_regcache_register(rc, BASE, PG(2), true, &h), 0);
	pg0 = h->pages[0];
	umn_soft_mm_destroy(sm);
	sm = NULL;
	ck_assert(!umn_regcache_valid(h));
	ck_assert_uint_eq(umn_soft_frame_gen(frames, pg0.frame), pg0.gen);
	ck_assert_int_eq(umn_regcache_release(h), 0);
	ck_assert_uint_ne(umn_soft_frame_gen(frames, pg0.frame), pg0.gen);
	ck_assert_int_eq(umn_regcache_destroy(rc), 0);
}
END_TEST

START_TEST(regcache_refuses_bad_input)
{
	static const struct umn_regcache_ops no_pin = {
		.unpin = meddling_unpin,
	};
	struct umn_regcache_handle *h = NULL;
	struct umn_regcache_stats st;
	struct umn_regcache *rc = NULL;
	struct umn_mm *mm = umn_soft_mm_umn(sm);

	ck_assert_int_eq(umn_regcache_create(NULL, &umn_regcache_soft_ops,
					     &soft, 0, &rc),
			 -EINVAL);
	ck_assert_int_eq(umn_regcache_create(mm, NULL, &soft, 0, &rc), -EINVAL);
	ck_assert_int_eq(umn_regcache_create(mm, &no_pin, &soft, 0, &rc),
			 -EINVAL);
	ck_assert_int_eq(umn_regcache_create(mm, &umn_regcache_soft_ops, &soft,
					     1U << 20, &rc),
			 -EINVAL);
	ck_assert_int_eq(
		umn_regcache_create(mm, &umn_regcache_soft_ops, &soft, 0, NULL),
		-EINVAL);
	ck_assert_ptr_null(rc);

	map(BASE, PG(16), 0);
	rc = regcache(&umn_regcache_soft_ops, 0);
	ck_assert_int_eq(umn_regcache_register(rc, BASE, 0, true, &h), -EINVAL);
	ck_assert_int_eq(umn_regcache_register(rc, -PG(1), PG(2), true, &h),
			 -EINVAL);
	ck_assert_int_eq(umn_regcache_register(rc, BASE, PG(1), true, NULL),
			 -EINVAL);
	ck_assert_int_eq(umn_regcache_lookup(rc, BASE, 0, true, &h), -EINVAL);
	/* Nothing mapped there: the pin fails, nothing stays. */
	ck_assert_int_eq(
		umn_regcache_register(rc, BASE + PG(15), PG(2), true, &h),
		-EFAULT);
	ck_assert_ptr_null(h);
	umn_regcache_stats(rc, &st);
	ck_assert_uint_eq(st.pins, st.unpins);
	ck_assert_uint_eq(st.registrations, 0);
	ck_assert_int_eq(umn_regcache_release(NULL), -EINVAL);
	ck_assert(!umn_regcache_valid(NULL));

	ck_assert_int_eq(umn_regcache_register(rc, BASE, PG(1), true, &h), 0);
	ck_assert_int_eq(umn_regcache_destroy(rc), -EBUSY);
	ck_assert_int_eq(umn_regcache_release(h), 0);
	ck_assert_int_eq(umn_regcache_destroy(NULL), -EINVAL);
	ck_assert_int_eq(umn_regcache_destroy(rc), 0);
}
END_TEST

/*
 * The lock-free lookup against invalidations, on threads.  A remapper
 * munmaps a slot, then maps and faults it again: a new generation of its
 * frames.  Lookers look slots up (registering on a miss), check, release.
 *
 * The oracle: a handle that a lookup (or register) returns must not pin a
 * frame of a generation whose munmap had returned before the lookup
 * began, for that munmap invalidated every registration of the
 * generation before it returned.  The remapper records each frame's
 * generation after faulting the slot, and stores the slot's dead
 * generation (release) after munmap returns; a looker loads it (acquire)
 * before the lookup.  Also: a handle whose generation's munmap has
 * returned is no longer valid (umn_regcache_valid()).  A frame's generation is forgotten when the frame is
 * freed (the pool's free hook): 0 means "not recorded yet", the newest.
 */
#define RACE_SLOTS   8
#define RACE_LEN     (2 * UMN_PAGE_SIZE)
#define RACE_FRAMES  4096
#define RACE_LOOKERS 2

static struct {
	struct umn_regcache *rc;
	unsigned long gen_of[RACE_FRAMES];    /* by frame; atomic */
	unsigned long unmapped[RACE_SLOTS];   /* dead generation; atomic */
	int stop;			      /* atomic */
	long stale, hits, registered, failed; /* atomic */
} race;

static void race_free_hook(void *arg, unsigned long frame, unsigned long gen)
{
	(void)arg;
	(void)gen;
	if (frame < RACE_FRAMES)
		__atomic_store_n(&race.gen_of[frame], 0, __ATOMIC_RELEASE);
}

static void race_setup(void)
{
	struct umn_soft_frames_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.max_frames = RACE_FRAMES;
	cfg.free_hook = race_free_hook;
	memset(&race, 0, sizeof(race));
	ck_assert_int_eq(umn_soft_frames_create(&cfg, &frames), 0);
	ck_assert_int_eq(umn_soft_mm_create(frames, &sm), 0);
}

static unsigned long race_slot(unsigned int i)
{
	return BASE + i * 16 * UMN_PAGE_SIZE;
}

/* Map slot @i anew, its frames of generation @gen. */
static void race_map(unsigned int i, unsigned long gen)
{
	struct umn_soft_translation t;
	unsigned long a;

	map(race_slot(i), RACE_LEN, 0);
	for (a = race_slot(i); a < race_slot(i) + RACE_LEN; a += PG(1)) {
		ck_assert_int_eq(umn_soft_fault(sm, a, true), 0);
		ck_assert_int_eq(primary(a, &t), 0);
		ck_assert_uint_lt(t.frame, RACE_FRAMES);
		__atomic_store_n(&race.gen_of[t.frame], gen, __ATOMIC_RELEASE);
	}
}

static void *race_looker(void *arg)
{
	unsigned long seed = (unsigned long)arg, dead, gen;
	struct umn_regcache_handle *h;
	unsigned int i;
	int ret;

	while (!__atomic_load_n(&race.stop, __ATOMIC_RELAXED)) {
		seed = seed * 6364136223846793005UL + 1442695040888963407UL;
		i = (unsigned int)(seed >> 33) % RACE_SLOTS;
		/* Pairs with the remapper's store after munmap returned. */
		dead = __atomic_load_n(&race.unmapped[i], __ATOMIC_ACQUIRE);
		ret = umn_regcache_lookup(race.rc, race_slot(i), RACE_LEN, true,
					  &h);
		if (ret == -ENOENT) {
			ret = umn_regcache_register(race.rc, race_slot(i),
						    RACE_LEN, true, &h);
			if (ret) { /* -EFAULT: between munmap and mmap */
				__atomic_add_fetch(&race.failed, 1,
						   __ATOMIC_RELAXED);
				continue;
			}
			__atomic_add_fetch(&race.registered, 1,
					   __ATOMIC_RELAXED);
		} else if (!ret) {
			__atomic_add_fetch(&race.hits, 1, __ATOMIC_RELAXED);
		} else {
			__atomic_add_fetch(&race.stale, 1, __ATOMIC_RELAXED);
			continue;
		}
		gen = __atomic_load_n(&race.gen_of[h->pages[0].frame],
				      __ATOMIC_ACQUIRE);
		if (gen && gen <= dead)
			__atomic_add_fetch(&race.stale, 1, __ATOMIC_RELAXED);
		/* And a handle held across its generation's munmap says it
		 * is no longer valid once that munmap has returned.  (Now and
		 * then held while the remapper runs.) */
		if (!(seed & (15UL << 40)))
			sched_yield();
		dead = __atomic_load_n(&race.unmapped[i], __ATOMIC_ACQUIRE);
		if (gen && gen <= dead && umn_regcache_valid(h))
			__atomic_add_fetch(&race.stale, 1, __ATOMIC_RELAXED);
		ck_assert_int_eq(umn_regcache_release(h), 0);
	}
	return NULL;
}

/* Run lookers against the remapper for @seconds; return the stale
 * handles seen. */
static long race_run(unsigned int flags, double seconds)
{
	unsigned long gen = 0, mapped[RACE_SLOTS], seed = 42;
	pthread_t lookers[RACE_LOOKERS];
	struct umn_regcache_handle *h;
	struct umn_regcache_stats st;
	struct timespec t0, t;
	unsigned int i;
	long remaps = 0;

	race.rc = regcache(&umn_regcache_soft_ops, flags);
	for (i = 0; i < RACE_SLOTS; i++) {
		mapped[i] = ++gen;
		race_map(i, gen);
	}
	for (i = 0; i < RACE_LOOKERS; i++)
		ck_assert_int_eq(pthread_create(&lookers[i], NULL, race_looker,
						(void *)(unsigned long)(i + 1)),
				 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		seed = seed * 6364136223846793005UL + 1442695040888963407UL;
		i = (unsigned int)(seed >> 33) % RACE_SLOTS;
		ck_assert_int_eq(umn_soft_munmap(sm, race_slot(i), RACE_LEN),
				 0);
		/* Every registration of mapped[i] is invalid by now. */
		__atomic_store_n(&race.unmapped[i], mapped[i],
				 __ATOMIC_RELEASE);
		mapped[i] = ++gen;
		race_map(i, gen);
		/* Cached at once, so that the next munmap invalidates it. */
		ck_assert_int_eq(umn_regcache_register(race.rc, race_slot(i),
						       RACE_LEN, true, &h),
				 0);
		ck_assert_int_eq(umn_regcache_release(h), 0);
		remaps++;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((double)(t.tv_sec - t0.tv_sec) +
			 (double)(t.tv_nsec - t0.tv_nsec) / 1e9 <
		 seconds);
	__atomic_store_n(&race.stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < RACE_LOOKERS; i++)
		pthread_join(lookers[i], NULL);
	umn_regcache_stats(race.rc, &st);
	printf("regcache race%s: %ld remaps, %ld hits, %ld registered, "
	       "%ld failed, %lu invalidations, %lu retries, %ld stale\n",
	       flags ? " (break)" : "", remaps, race.hits, race.registered,
	       race.failed, st.invalidations, st.retries, race.stale);
	fflush(stdout);
	ck_assert_int_gt(remaps, 0);
	/* Every hit counted once, on whichever thread: a register that
	 * reused a registration is a hit too. */
	ck_assert_uint_eq(
		st.hits, (unsigned long)(race.hits + race.registered + remaps) -
				 st.registrations);
	ck_assert_int_eq(umn_regcache_destroy(race.rc), 0);
	return race.stale;
}

START_TEST(regcache_lookup_never_returns_an_invalidated_registration)
{
	ck_assert_int_eq(race_run(0, 0.5), 0);
	ck_assert_int_gt(race.hits, 0);
}
END_TEST

START_TEST(regcache_break_invalidate_is_caught)
{
	ck_assert_int_gt(race_run(UMN_REGCACHE_BREAK_INVALIDATE, 0.5), 0);
}
END_TEST

Suite *consumers_suite(void)
{
	Suite *s = suite_create("consumers");
	TCase *tc;

	tc = tcase_create("mirror");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, mirror_fault_installs_the_primary_translation,
			    0, 2);
	tcase_add_loop_test(
		tc, mirror_drops_what_the_primary_unmaps_protects_or_reclaims,
		0, 2);
	tcase_add_loop_test(tc, mirror_maps_a_huge_page_whole, 0, 2);
	tcase_add_loop_test(tc, mirror_splits_a_huge_page_into_pieces, 0, 2);
	tcase_add_loop_test(tc, mirror_break_retry_is_caught, 0, 2);
	tcase_add_test(tc, mirror_break_counter_is_caught);
	tcase_add_loop_test(tc, mirror_release_drops_everything, 0, 2);
	tcase_add_test(tc, mirror_refuses_bad_input);
	suite_add_tcase(s, tc);

	tc = tcase_create("devtlb");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, devtlb_miss_fills_then_hits);
	tcase_add_test(tc, devtlb_flushes_only_in_invalidate_range);
	tcase_add_test(tc, devtlb_drops_what_the_primary_protects_or_reclaims);
	tcase_add_test(tc, devtlb_replaces_the_least_recently_used);
	tcase_add_test(tc, devtlb_caches_a_huge_page_whole);
	tcase_add_test(tc, devtlb_break_flush_is_caught);
	tcase_add_test(tc, devtlb_release_flushes_everything);
	tcase_add_test(tc, devtlb_refuses_bad_input);
	suite_add_tcase(s, tc);

	tc = tcase_create("regcache");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, regcache_registers_pins_and_reuses);
	tcase_add_test(tc, regcache_keeps_frames_pinned_until_the_last_release);
	tcase_add_test(tc, regcache_reaps_an_idle_invalidated_registration);
	tcase_add_test(tc, regcache_pins_refuse_reclaim_and_migration);
	tcase_add_test(tc, regcache_break_retry_is_caught);
	tcase_add_test(tc, regcache_outlives_the_address_space);
	tcase_add_test(tc, regcache_refuses_bad_input);
	suite_add_tcase(s, tc);

	tc = tcase_create("regcache-race");
	tcase_add_checked_fixture(tc, race_setup, teardown);
	tcase_add_test(
		tc, regcache_lookup_never_returns_an_invalidated_registration);
	tcase_add_test(tc, regcache_break_invalidate_is_caught);
	suite_add_tcase(s, tc);
	return s;
}
