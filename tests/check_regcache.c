// SPDX-License-Identifier: MIT
/*
 * tests/check_regcache.c - the registration cache (consumers/regcache.c)
 * over a soft mm, against the oracle of tests/consumers.h: it registers,
 * pins and reuses, keeps frames pinned until the last release, reaps what
 * was invalidated, finds every covering registration whatever the order
 * they came in, and whatever rebuilds of its index run beside a lookup;
 * a missing read_retry (the break) is caught; on
 * threads, its lock-free lookup never returns a registration invalidated
 * before the lookup began, and a missing invalidation (the break) is
 * caught.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <umn/regcache.h>
#include <umn-test/breaks.h>
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

#include "consumers.h"
#include "../consumers/regcache_index.h"

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

/* @h, which holds @first as its first page, is no longer valid but still
 * pins its frames: they are freed when it is released. */
static void assert_freed_on_release(struct umn_regcache_handle *h,
				    const struct umn_regcache_page *first)
{
	ck_assert(!umn_regcache_valid(h));
	ck_assert_uint_eq(umn_soft_frame_gen(frames, first->frame), first->gen);
	ck_assert_int_eq(umn_regcache_release(h), 0);
	ck_assert_uint_ne(umn_soft_frame_gen(frames, first->frame), first->gen);
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
	ck_assert_int_eq(umn_regcache_lookup(rc, BASE, PG(1), false, &h2),
			 -ENOENT);
	ck_assert_int_eq(umn_regcache_check(rc, BASE, &pg), -ENOENT);
	umn_regcache_stats(rc, &st);
	ck_assert_uint_eq(st.invalidations, 1);
	ck_assert_uint_eq(st.unpins, 0);
	/* Unmapped, but pinned: not freed while the device may use it. */
	assert_freed_on_release(h, &pg0);
	umn_regcache_stats(rc, &st);
	ck_assert_uint_eq(st.unpins, 4);
	ck_assert_uint_eq(st.reaped, 1);
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

/* An invalidation only marks and queues (no lock in the callback): the
 * next release, even of another registration that stays valid, and the
 * next register frees what it left, as if the invalidation had done its
 * whole part itself. */
START_TEST(regcache_frees_what_an_invalidation_queued_at_the_next_call)
{
	struct umn_regcache_handle *h;
	struct umn_regcache_page a, b;
	struct umn_regcache *rc;

	map(BASE, PG(16), 0);
	rc = regcache(&umn_regcache_soft_ops, 0);
	ck_assert_int_eq(umn_regcache_register(rc, BASE, PG(2), true, &h), 0);
	a = h->pages[0];
	ck_assert_int_eq(umn_regcache_release(h), 0);
	ck_assert_int_eq(
		umn_regcache_register(rc, BASE + PG(4), PG(2), true, &h), 0);
	b = h->pages[0];
	ck_assert_int_eq(umn_regcache_release(h), 0);
	ck_assert_int_eq(
		umn_regcache_register(rc, BASE + PG(8), PG(2), true, &h), 0);
	ck_assert_int_eq(umn_regcache_release(h), 0);

	/* Unmapped: still pinned until the cache's next call. */
	ck_assert_int_eq(umn_soft_munmap(sm, BASE, PG(2)), 0);
	ck_assert_uint_eq(umn_soft_frame_gen(frames, a.frame), a.gen);
	/* A hit and its release, of a registration still valid. */
	ck_assert_int_eq(
		umn_regcache_lookup(rc, BASE + PG(8), PG(1), false, &h), 0);
	ck_assert_int_eq(umn_regcache_release(h), 0);
	ck_assert_uint_ne(umn_soft_frame_gen(frames, a.frame), a.gen);

	/* The same for a register that misses. */
	ck_assert_int_eq(umn_soft_munmap(sm, BASE + PG(4), PG(2)), 0);
	ck_assert_uint_eq(umn_soft_frame_gen(frames, b.frame), b.gen);
	ck_assert_int_eq(
		umn_regcache_register(rc, BASE + PG(12), PG(2), true, &h), 0);
	ck_assert_uint_ne(umn_soft_frame_gen(frames, b.frame), b.gen);
	ck_assert_int_eq(umn_regcache_release(h), 0);
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

/* A registration whose register collided was queued by that invalidation
 * while unpublished; published alive after the retry, it must be queued
 * again by the next one (the queue's flag was cleared), and freed. */
START_TEST(regcache_collided_then_unmapped_is_freed)
{
	struct umn_regcache_handle *h;
	struct umn_regcache_stats st;
	struct umn_regcache_page a;
	struct umn_regcache *rc;

	map(BASE, PG(16), 0);
	rc = regcache(&meddling_ops, 0);
	meddle = true;
	ck_assert_int_eq(umn_regcache_register(rc, BASE, PG(2), true, &h), 0);
	a = h->pages[0];
	ck_assert_int_eq(umn_regcache_release(h), 0);
	umn_regcache_stats(rc, &st);
	ck_assert_uint_eq(st.retries, 1);
	ck_assert_int_eq(umn_soft_munmap(sm, BASE, PG(2)), 0);
	ck_assert_int_eq(
		umn_regcache_register(rc, BASE + PG(4), PG(2), true, &h), 0);
	ck_assert_int_eq(umn_regcache_release(h), 0);
	ck_assert_uint_ne(umn_soft_frame_gen(frames, a.frame), a.gen);
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
	assert_freed_on_release(h, &pg0);
	ck_assert_int_eq(umn_regcache_destroy(rc), 0);
}
END_TEST

/*
 * Whatever the order: ranges that nest and overlap, registered in a
 * scrambled order (a large one after the small ones it spans, and before),
 * some invalidated on the way, wide ones among narrow ones, a lookup
 * finds a valid registration
 * covering a range exactly when the model has one.  Hundreds of them, so
 * that the index is rebuilt many times over (regcache_index.h) with
 * registrations added among older ones and cleared ones dropped.
 */
#define SPAN_PAGES 384
#define SPAN_REGS  700

struct span_model {
	struct umn_regcache_handle *h; /* NULL once invalidated */
	unsigned long s, e;	       /* pages */
};

static unsigned long span_rand(unsigned long *seed, unsigned long n)
{
	*seed = *seed * 6364136223846793005UL + 1442695040888963407UL;
	return (*seed >> 33) % n;
}

static void span_check(struct umn_regcache *rc, const struct span_model *m,
		       int n)
{
	struct umn_regcache_handle *h;
	unsigned long a, len;
	bool want, known;
	int i, ret;

	for (a = 0; a < SPAN_PAGES; a++) {
		for (len = 1; len <= 40 && a + len <= SPAN_PAGES;
		     len += len < 4 ? 1 : 12) {
			for (want = false, i = 0; i < n && !want; i++)
				want = m[i].h && m[i].s <= a &&
				       m[i].e >= a + len;
			ret = umn_regcache_lookup(rc, BASE + PG(a), PG(len),
						  true, &h);
			ck_assert_msg(want ? ret == 0 : ret == -ENOENT,
				      "pages [%lu, %lu): lookup %d, model %d",
				      a, a + len, ret, want);
			if (ret)
				continue;
			for (known = false, i = 0; i < n && !known; i++)
				known = m[i].h == h;
			ck_assert(known && h->addr <= BASE + PG(a) &&
				  h->addr + h->len >= BASE + PG(a + len));
			ck_assert_int_eq(umn_regcache_release(h), 0);
		}
	}
}

/* Register pages [@s, @s + @len) into the model: a new entry unless it
 * was a hit on one the model has. */
static void span_register(struct umn_regcache *rc, struct span_model *m, int *n,
			  unsigned long s, unsigned long len)
{
	struct umn_regcache_handle *h;
	int j;

	ck_assert_int_eq(
		umn_regcache_register(rc, BASE + PG(s), PG(len), true, &h), 0);
	for (j = 0; j < *n && m[j].h != h; j++)
		;
	if (j == *n)
		m[(*n)++] = (struct span_model){ h, s, s + len };
	ck_assert_int_eq(umn_regcache_release(h), 0);
}

START_TEST(regcache_finds_every_covering_registration)
{
	static struct span_model m[SPAN_REGS];
	unsigned long seed = 42, s, len, p;
	struct umn_regcache *rc;
	int n = 0, i, j;

	map(BASE, PG(SPAN_PAGES), 0);
	rc = regcache(&umn_regcache_soft_ops, 0);
	/* One-page ones on the even pages, then six-page ones over three of
	 * them each (each covers odd pages that none before it does), then
	 * enough elsewhere that all are sorted in among each other. */
	for (s = 0; s < 200; s += 2)
		span_register(rc, m, &n, s, 1);
	for (s = 190; s < 200; s -= 10)
		span_register(rc, m, &n, s, 6);
	for (s = 220; s < SPAN_PAGES; s++)
		span_register(rc, m, &n, s, 1);
	span_check(rc, m, n);
	/* Then at random, some invalidated on the way. */
	for (i = 0; n < SPAN_REGS - 1; i++) {
		/* Now and then one wider than the recent slots' filter
		 * marks granule by granule (regcache_index.h). */
		len = i % 50 == 45 ? 80 : 1 + span_rand(&seed, i % 5 ? 4 : 48);
		s = span_rand(&seed, SPAN_PAGES - len + 1);
		span_register(rc, m, &n, s, len);
		if (i % 40 == 39) { /* every registration of a page */
			p = span_rand(&seed, SPAN_PAGES);
			ck_assert_int_eq(
				umn_soft_munmap(sm, BASE + PG(p), PG(1)), 0);
			map(BASE + PG(p), PG(1), 0);
			for (j = 0; j < n; j++)
				if (m[j].s <= p && m[j].e > p)
					m[j].h = NULL;
		}
		if (i % 50 == 49)
			span_check(rc, m, n);
	}
	span_check(rc, m, n);
	ck_assert_int_eq(umn_regcache_destroy(rc), 0);
}
END_TEST

/*
 * Lookups on threads while registrations come and go below them, so that
 * the index is rebuilt again and again, the stable registrations' slots
 * moving each time: a lookup of a stable page always finds its own
 * registration, whatever index it started in.  (A rebuild that rewrote an
 * index some lookup still reads, before its grace period, would send it
 * into a half-written array.)  The stable ones are added among the
 * churn, so that merges move some from the young tier to the settled one
 * under the lookups (published in the wrong order, the tiers hide them).
 * More threads than the machine's two CPUs, so that a lookup is
 * preempted in the middle now and then.
 */
#define REBUILD_CHURN	512  /* pages [0, 512) come and go */
#define REBUILD_STABLE	2048 /* 2 pages each, [600, 4696), stay registered */
#define REBUILD_LOOKERS 4

static struct {
	struct umn_regcache *rc;
	struct umn_regcache_handle *stable[REBUILD_STABLE];
	unsigned long nstable; /* registered so far; atomic */
	int stop;	       /* atomic */
	long wrong, found;     /* atomic */
} rebuild;

/* The next stable registration, if any is left. */
static int rebuild_add_stable(void)
{
	unsigned long i = rebuild.nstable;
	struct umn_regcache_handle *h;

	if (i == REBUILD_STABLE)
		return 0;
	if (umn_regcache_register(rebuild.rc, BASE + PG(600 + 2 * i), PG(2),
				  true, &h) ||
	    umn_regcache_release(h))
		return -1;
	rebuild.stable[i] = h;
	/* Pairs with the lookers' acquire: stable[i] comes first. */
	__atomic_store_n(&rebuild.nstable, i + 1, __ATOMIC_RELEASE);
	return 0;
}

static void *rebuild_looker(void *arg)
{
	unsigned long seed = (unsigned long)arg, j, k, n = 0;
	struct umn_regcache_handle *h;
	int ret;

	while (!__atomic_load_n(&rebuild.stop, __ATOMIC_RELAXED)) {
		/* valgrind runs one thread at a time and switches mostly
		 * inside a lookup's read-side section: a grace period then
		 * waited seconds for a switch outside them all. */
		n++;
		if (RUNNING_ON_VALGRIND && !(n % 64))
			sched_yield();
		/* Every other lookup, two churn pages: not found, or found
		 * in a registration that covers them.  The churn lives in the
		 * young tier, which every 64th registration rebuilds, and
		 * no hint answers for two pages: the search reads it. */
		if (n % 2) {
			j = span_rand(&seed, REBUILD_CHURN - 1);
			ret = umn_regcache_lookup(rebuild.rc, BASE + PG(j),
						  PG(2), true, &h);
			if (ret ? ret != -ENOENT
				: h->addr > BASE + PG(j) ||
					    h->addr + h->len <
						    BASE + PG(j + 2) ||
					    umn_regcache_release(h))
				__atomic_fetch_add(&rebuild.wrong, 1,
						   __ATOMIC_RELAXED);
			continue;
		}
		/* Its first page, which the hints find, or its second, which
		 * only the index's search does; every other time one of the
		 * newest 64, most of them in the young tier. */
		k = __atomic_load_n(&rebuild.nstable, __ATOMIC_ACQUIRE);
		j = n % 4 == 0 && k > 64 ? 2 * (k - 64) + span_rand(&seed, 128)
					 : span_rand(&seed, 2 * k);
		if (umn_regcache_lookup(rebuild.rc, BASE + PG(600 + j), PG(1),
					true, &h)) {
			__atomic_fetch_add(&rebuild.wrong, 1, __ATOMIC_RELAXED);
			continue;
		}
		if (h != rebuild.stable[j / 2])
			__atomic_fetch_add(&rebuild.wrong, 1, __ATOMIC_RELAXED);
		else
			__atomic_fetch_add(&rebuild.found, 1, __ATOMIC_RELAXED);
		umn_regcache_release(h);
	}
	return NULL;
}

START_TEST(regcache_lookups_survive_rebuilds)
{
	pthread_t t[REBUILD_LOOKERS];
	struct umn_regcache_handle *h;
	unsigned long seed = 7, q, k, failed = 0;
	struct timespec t0, t1;
	int i, rounds = 0;

	map(BASE, PG(REBUILD_CHURN), 0);
	map(BASE + PG(600), PG(2 * REBUILD_STABLE), 0);
	rebuild.rc = regcache(&umn_regcache_soft_ops, 0);
	for (i = 0; i < 8; i++)
		ck_assert_int_eq(rebuild_add_stable(), 0);
	for (i = 0; i < REBUILD_LOOKERS; i++)
		ck_assert_int_eq(pthread_create(&t[i], NULL, rebuild_looker,
						(void *)(unsigned long)(i + 1)),
				 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		/* Some of the churn pages, scattered, then all of them
		 * invalidated and freed: rebuilds, and a compaction.
		 * Failures are counted, not asserted one by one: each
		 * ck_assert writes to Check's pipe, and under valgrind each
		 * system call hands the turn to the lookers. */
		for (k = span_rand(&seed, REBUILD_CHURN); k; k--) {
			q = span_rand(&seed, REBUILD_CHURN);
			if (umn_regcache_register(rebuild.rc, BASE + PG(q),
						  PG(1), true, &h) ||
			    umn_regcache_release(h) ||
			    (k % 32 == 0 && rebuild_add_stable()))
				failed++;
		}
		ck_assert_int_eq(failed, 0);
		ck_assert_int_eq(umn_soft_munmap(sm, BASE, PG(REBUILD_CHURN)),
				 0);
		map(BASE, PG(REBUILD_CHURN), 0);
		ck_assert_int_ge(umn_regcache_reap(rebuild.rc), 0);
		rounds++;
		clock_gettime(CLOCK_MONOTONIC, &t1);
	} while (t1.tv_sec - t0.tv_sec < 2 || rounds < 3);
	__atomic_store_n(&rebuild.stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < REBUILD_LOOKERS; i++)
		pthread_join(t[i], NULL);
	ck_assert_msg(!rebuild.wrong,
		      "%ld lookups went wrong (%ld of a stable registration "
		      "right) during %d rounds of rebuilds",
		      rebuild.wrong, rebuild.found, rounds);
	ck_assert_int_gt(rebuild.found, 0);
	ck_assert_int_eq(umn_regcache_destroy(rebuild.rc), 0);
}
END_TEST

/*
 * The index alone (consumers/regcache_index.h): whichever way a rebuild
 * merges (old slots copied in runs between the few added among them, or
 * slot by slot when many are), and a merge of two tiers, give the slots
 * sorted by start with each maxend the exact greatest end of it and all
 * before it, which the search's scan back relies on.  Pages as
 * addresses; fake registrations (the index only stores them).
 */
static struct index *idx_of(size_t cap)
{
	struct index *ix = umn__regidx_alloc(cap);

	ck_assert_ptr_nonnull(ix);
	return ix;
}

/* @ix's recent slots, then @n more [start[i], end[i]), merged into a new
 * index (@old freed). */
static struct index *idx_add(struct index *old, const unsigned long *start,
			     const unsigned long *end, size_t n)
{
	static char regs[4096];
	struct index *ix = idx_of(old->n + old->nrecent + n + RECENT);

	for (size_t i = 0; i < n; i++) {
		struct slot sl = { .end = end[i],
				   .start = start[i],
				   .r = (struct reg *)&regs[start[i] % 4096] };

		if (old->nrecent == RECENT) {
			umn__regidx_rebuild(ix, old, NULL);
			free(old);
			old = ix;
			ix = idx_of(old->n + n + RECENT);
		}
		umn__regidx_add_recent(old, &sl);
	}
	umn__regidx_rebuild(ix, old, NULL);
	free(old);
	return ix;
}

static void idx_check(const struct index *ix, size_t n)
{
	unsigned long maxend = 0;

	ck_assert_uint_eq(ix->n, n);
	for (size_t k = 0; k < ix->n; k++) {
		if (ix->s[k].end > maxend)
			maxend = ix->s[k].end;
		ck_assert_msg(!k || ix->key[0][k - 1] <= ix->key[0][k],
			      "slot %zu out of order", k);
		ck_assert_msg(ix->s[k].maxend == maxend,
			      "slot %zu [%lu, %lu): maxend %lu, not %lu", k,
			      ix->key[0][k], ix->s[k].end, ix->s[k].maxend,
			      maxend);
	}
}

START_TEST(regcache_index_maxend_is_exact)
{
	unsigned long start[256], end[256];
	struct index *a, *b, *m;
	size_t i;

	/* 256 one-page slots on the even pages. */
	for (i = 0; i < 256; i++)
		start[i] = 2 * i, end[i] = 2 * i + 1;
	a = idx_add(idx_of(0), start, end, 256);
	idx_check(a, 256);
	/* One among them, spanning 45 (the runs), then 64 among them (slot
	 * by slot), each spanning a few. */
	start[0] = 11, end[0] = 101;
	a = idx_add(a, start, end, 1);
	idx_check(a, 257);
	for (i = 0; i < 64; i++)
		start[i] = 8 * i + 3, end[i] = 8 * i + 12;
	a = idx_add(a, start, end, 64);
	idx_check(a, 321);
	/* A young tier, among and beyond the settled one, merged into it. */
	for (i = 0; i < 40; i++)
		start[i] = 13 * i + 1, end[i] = 13 * i + 30;
	b = idx_add(idx_of(0), start, end, 40);
	m = idx_of(a->n + b->n);
	umn__regidx_merge(m, a, b);
	idx_check(m, 361);
	free(a);
	free(b);
	free(m);
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
			 seconds &&
		 !(flags && __atomic_load_n(&race.stale, __ATOMIC_RELAXED)));
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

/* Up to 10 s, ending at the first stale hit: under valgrind, which runs
 * one thread at a time, the lookers may not run at all for a while. */
START_TEST(regcache_break_invalidate_is_caught)
{
	ck_assert_int_gt(race_run(UMN_REGCACHE_BREAK_INVALIDATE, 10), 0);
}
END_TEST

TCase *regcache_tcase(void)
{
	TCase *tc = tcase_create("regcache");

	tcase_add_checked_fixture(tc, consumers_setup, consumers_teardown);
	tcase_add_test(tc, regcache_registers_pins_and_reuses);
	tcase_add_test(tc, regcache_keeps_frames_pinned_until_the_last_release);
	tcase_add_test(tc, regcache_reaps_an_idle_invalidated_registration);
	tcase_add_test(
		tc,
		regcache_frees_what_an_invalidation_queued_at_the_next_call);
	tcase_add_test(tc, regcache_pins_refuse_reclaim_and_migration);
	tcase_add_test(tc, regcache_break_retry_is_caught);
	tcase_add_test(tc, regcache_collided_then_unmapped_is_freed);
	tcase_add_test(tc, regcache_outlives_the_address_space);
	tcase_add_test(tc, regcache_refuses_bad_input);
	tcase_add_test(tc, regcache_finds_every_covering_registration);
	tcase_add_test(tc, regcache_lookups_survive_rebuilds);
	tcase_add_test(tc, regcache_index_maxend_is_exact);
	return tc;
}

TCase *regcache_race_tcase(void)
{
	TCase *tc = tcase_create("regcache-race");

	tcase_add_checked_fixture(tc, race_setup, consumers_teardown);
	tcase_add_test(
		tc, regcache_lookup_never_returns_an_invalidated_registration);
	tcase_add_test(tc, regcache_break_invalidate_is_caught);
	return tc;
}
