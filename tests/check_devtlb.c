// SPDX-License-Identifier: MIT
/*
 * tests/check_devtlb.c - the device TLB (consumers/devtlb.c) against the
 * oracle of tests/consumers.h: a miss fills, a hit serves, it flushes in
 * ->invalidate_range only, replaces the least recently used entry, and a
 * missing flush (the break) is caught.
 */
#include <errno.h>
#include <string.h>
#include <umn/devtlb.h>
#include <umn-test/breaks.h>

#include "consumers.h"

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
	assert_freed(&tr, BASE + PG(1));
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

TCase *devtlb_tcase(void)
{
	TCase *tc = tcase_create("devtlb");

	tcase_add_checked_fixture(tc, consumers_setup, consumers_teardown);
	tcase_add_test(tc, devtlb_miss_fills_then_hits);
	tcase_add_test(tc, devtlb_flushes_only_in_invalidate_range);
	tcase_add_test(tc, devtlb_drops_what_the_primary_protects_or_reclaims);
	tcase_add_test(tc, devtlb_replaces_the_least_recently_used);
	tcase_add_test(tc, devtlb_caches_a_huge_page_whole);
	tcase_add_test(tc, devtlb_break_flush_is_caught);
	tcase_add_test(tc, devtlb_release_flushes_everything);
	tcase_add_test(tc, devtlb_refuses_bad_input);
	return tc;
}
