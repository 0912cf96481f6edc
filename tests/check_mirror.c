// SPDX-License-Identifier: MIT
/*
 * tests/check_mirror.c - the mirror (consumers/mirror.c) in both its
 * variants, classic and interval notifier, against the oracle of
 * tests/consumers.h: faults install the primary's translation, what the
 * primary unmaps, protects, reclaims or splits goes, and each break of
 * the seq protocol (the read_retry, the counter) is caught.
 */
#include <errno.h>
#include <string.h>
#include <umn/mirror.h>
#include <umn-test/breaks.h>

#include "consumers.h"

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

/*
 * @race in a mirror of @flags is refused (-EAGAIN, one retry, nothing
 * installed); with @brk (a break of the protocol) added, it installs a
 * translation of a freed frame, which the oracle catches.
 */
static void assert_race_caught(unsigned int flags, unsigned int brk,
			       int (*race)(struct umn_mirror *, unsigned long))
{
	struct umn_soft_translation t;
	struct umn_mirror_stats st;
	struct umn_mirror *m;

	map(BASE, PG(16), 0);
	m = mirror(flags);
	ck_assert_int_eq(race(m, BASE), -EAGAIN);
	ck_assert_int_eq(umn_mirror_translate(m, BASE, &t), -ENOENT);
	umn_mirror_stats(m, &st);
	ck_assert_uint_eq(st.retries, 1);
	ck_assert_int_eq(umn_mirror_destroy(m), 0);

	m = mirror(flags | brk);
	ck_assert_int_eq(race(m, BASE + PG(1)), 0);
	ck_assert_int_eq(umn_mirror_translate(m, BASE + PG(1), &t), 0);
	assert_freed(&t, BASE + PG(1));
	ck_assert_int_eq(umn_mirror_destroy(m), 0);
}

START_TEST(mirror_break_retry_is_caught)
{
	assert_race_caught(variant[_i], UMN_MIRROR_BREAK_RETRY, seq_race);
}
END_TEST

START_TEST(mirror_break_counter_is_caught)
{
	assert_race_caught(UMN_MIRROR_CLASSIC, UMN_MIRROR_BREAK_COUNTER,
			   counter_race);
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

TCase *mirror_tcase(void)
{
	TCase *tc = tcase_create("mirror");

	tcase_add_checked_fixture(tc, consumers_setup, consumers_teardown);
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
	return tc;
}
