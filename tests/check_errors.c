// SPDX-License-Identifier: MIT
/*
 * tests/check_errors.c - every row of docs/errors.md: bad input gives the
 * documented negative errno and leaves everything as it was.
 */
#include <errno.h>
#include <string.h>

#include "../core/internal.h"
#include "harness.h"
#include "sleepcheck.h"

static struct toy toy;
static struct recorder rec;

static void setup(void)
{
	toy_init(&toy, 16, true);
	rec_init(&rec);
}

static long refs(void)
{
	return atomic_load(&toy.mm->refs);
}

/* Nothing registered, nothing inserted, nothing in flight. */
static void assert_untouched(long refs_before)
{
	ck_assert_int_eq(refs(), refs_before);
	ck_assert_ptr_null(toy.mm->chain);
	ck_assert(umn__itree_empty(&toy.mm->itree));
	ck_assert_uint_eq(toy.mm->active, 0);
	ck_assert(umn__chain_is_valid(toy.mm));
	ck_assert(umn__intervals_are_valid(toy.mm));
}

static void lock_only(struct umn_mm *mm, void *priv)
{
	(void)mm, (void)priv;
}

START_TEST(mm_create_errors)
{
	static const struct umn_mm_ops half = { .lock_all = lock_only };
	struct umn_mm *mm = NULL;

	ck_assert_int_eq(umn_mm_create(NULL, NULL, NULL), -EINVAL);
	ck_assert_int_eq(umn_mm_create(&half, NULL, &mm), -EINVAL);
	ck_assert_ptr_null(mm);
	sleepcheck_fail_calloc = 1;
	ck_assert_int_eq(umn_mm_create(NULL, NULL, &mm), -ENOMEM);
	ck_assert_ptr_null(mm);
	ck_assert_int_eq(umn_mm_create(NULL, NULL, &mm), 0);
	ck_assert(umn_mm_has_notifiers(mm)); /* no ops: no fast path */
	umn_mm_put(mm);
	toy_destroy(&toy);
}
END_TEST

START_TEST(mm_release_errors)
{
	ck_assert_int_eq(umn_mm_release(NULL), -EINVAL);
	ck_assert_int_eq(umn_mm_release(toy.mm), 0);
	ck_assert_int_eq(umn_mm_release(toy.mm), -EALREADY);
	umn_mm_put(toy.mm);
}
END_TEST

START_TEST(register_errors)
{
	struct umn_notifier_ops bad_flags = rec_ops, fail_with_end = rec_ops;
	struct rec_notifier a;
	long before = refs();

	memset(&a, 0, sizeof(a));
	bad_flags.flags = 0x80;
	fail_with_end.flags = UMN_NOTIFIER_START_MAY_FAIL;
	ck_assert_int_eq(umn_notifier_register(NULL, &rec_ops, toy.mm),
			 -EINVAL);
	ck_assert_int_eq(umn_notifier_register(&a.n, NULL, toy.mm), -EINVAL);
	ck_assert_int_eq(umn_notifier_register(&a.n, &rec_ops, NULL), -EINVAL);
	ck_assert_int_eq(umn_notifier_register(&a.n, &bad_flags, toy.mm),
			 -EINVAL);
	ck_assert_int_eq(umn_notifier_register(&a.n, &fail_with_end, toy.mm),
			 -EINVAL);
	assert_untouched(before);

	a.rec = &rec;
	ck_assert_int_eq(umn_notifier_register(&a.n, &rec_ops, toy.mm), 0);
	ck_assert_int_eq(umn_notifier_register(&a.n, &rec_ops, toy.mm), -EBUSY);
	ck_assert_int_eq(refs(), before + 1);
	ck_assert_int_eq(umn_notifier_unregister(&a.n), 0);
	assert_untouched(before);

	ck_assert_int_eq(umn_mm_release(toy.mm), 0);
	ck_assert_int_eq(umn_notifier_register(&a.n, &rec_ops, toy.mm), -ESRCH);
	ck_assert_int_eq(refs(), before);
	umn_mm_put(toy.mm);
}
END_TEST

START_TEST(unregister_and_put_errors)
{
	struct umn_notifier_ops no_free = rec_ops;
	struct rec_notifier a;
	long before = refs();

	memset(&a, 0, sizeof(a));
	a.rec = &rec;
	no_free.free_notifier = NULL;
	ck_assert_int_eq(umn_notifier_unregister(NULL), -EINVAL);
	ck_assert_int_eq(umn_notifier_unregister_no_release(NULL), -EINVAL);
	ck_assert_int_eq(umn_notifier_put(NULL), -EINVAL);
	ck_assert_int_eq(umn_notifier_unregister(&a.n), -EINVAL);
	ck_assert_int_eq(umn_notifier_unregister_no_release(&a.n), -EINVAL);
	ck_assert_int_eq(umn_notifier_put(&a.n), -EINVAL);

	ck_assert_int_eq(umn_notifier_register(&a.n, &no_free, toy.mm), 0);
	ck_assert_int_eq(umn_notifier_put(&a.n), -EINVAL);
	ck_assert_int_eq(toy_remap(&toy, 0, 1, UMN_RANGE_BLOCKABLE), 0);
	ck_assert_str_eq(rec_string(&rec), "S0I0E0"); /* still registered */
	ck_assert_int_eq(umn_notifier_unregister(&a.n), 0);
	assert_untouched(before);
	toy_destroy(&toy);
}
END_TEST

static bool nop_invalidate(struct umn_interval_notifier *sub,
			   const struct umn_range *range, unsigned long seq)
{
	(void)range;
	umn_interval_set_seq(sub, seq);
	return true;
}

START_TEST(interval_insert_and_remove_errors)
{
	static const struct umn_interval_notifier_ops ops = {
		.invalidate = nop_invalidate
	};
	static const struct umn_interval_notifier_ops no_invalidate = { 0 };
	struct umn_interval_notifier sub;
	long before = refs();

	memset(&sub, 0, sizeof(sub));
	ck_assert_int_eq(umn_interval_notifier_insert(NULL, toy.mm, 0, 1, &ops),
			 -EINVAL);
	ck_assert_int_eq(umn_interval_notifier_insert(&sub, NULL, 0, 1, &ops),
			 -EINVAL);
	ck_assert_int_eq(umn_interval_notifier_insert(&sub, toy.mm, 0, 1, NULL),
			 -EINVAL);
	ck_assert_int_eq(umn_interval_notifier_insert(&sub, toy.mm, 0, 1,
						      &no_invalidate),
			 -EINVAL);
	ck_assert_int_eq(umn_interval_notifier_insert(&sub, toy.mm, 0, 0, &ops),
			 -EINVAL);
	ck_assert_int_eq(
		umn_interval_notifier_insert(&sub, toy.mm, ~0UL, 2, &ops),
		-EOVERFLOW);
	ck_assert_int_eq(umn_interval_notifier_insert(&sub, toy.mm, PG(2),
						      ~0UL - PG(1), &ops),
			 -EOVERFLOW);
	ck_assert_int_eq(umn_interval_notifier_remove(NULL), -EINVAL);
	ck_assert_int_eq(umn_interval_notifier_remove(&sub), -EINVAL);
	assert_untouched(before);

	ck_assert_int_eq(
		umn_interval_notifier_insert(&sub, toy.mm, 0, PG(1), &ops), 0);
	ck_assert_int_eq(
		umn_interval_notifier_insert(&sub, toy.mm, 0, PG(1), &ops),
		-EBUSY);
	ck_assert(umn__intervals_are_valid(toy.mm));
	ck_assert_int_eq(umn_interval_notifier_remove(&sub), 0);
	ck_assert_int_eq(umn_interval_notifier_remove(&sub), -EINVAL);
	assert_untouched(before);
	toy_destroy(&toy);
}
END_TEST

START_TEST(range_errors)
{
	static const struct {
		unsigned long start, end;
		int event;
		unsigned int flags;
	} bad[] = {
		{ 1, PG(1), UMN_EVENT_UNMAP, 0 },     /* start unaligned */
		{ 0, PG(1) + 1, UMN_EVENT_UNMAP, 0 }, /* end unaligned */
		{ PG(1), PG(1), UMN_EVENT_UNMAP, 0 }, /* empty */
		{ PG(2), PG(1), UMN_EVENT_UNMAP, 0 }, /* backwards */
		{ PG(1), 0, UMN_EVENT_UNMAP, 0 },     /* wraps */
		{ 0, PG(1), UMN_EVENT_COUNT, 0 },     /* no such event */
		{ 0, PG(1), -1, 0 },		      /* no such event */
		{ 0, PG(1), UMN_EVENT_UNMAP, 0x10 },  /* no such flag */
	};
	struct rec_notifier a;
	struct umn_range range;
	unsigned int i;

	memset(&a, 0, sizeof(a));
	a.rec = &rec;
	ck_assert_int_eq(umn_notifier_register(&a.n, &rec_ops, toy.mm), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		umn_range_init(&range, toy.mm, bad[i].start, bad[i].end,
			       (enum umn_event)bad[i].event, bad[i].flags,
			       NULL);
		ck_assert_int_eq(umn_invalidate_range_start(&range), -EINVAL);
	}
	ck_assert_int_eq(umn_clear_flush_young(toy.mm, 1, PG(1)), -EINVAL);
	ck_assert_int_eq(umn_clear_young(toy.mm, PG(1), 0), -EINVAL);
	ck_assert_int_eq(umn_test_young(toy.mm, 0, 0), -EINVAL);
	ck_assert_str_eq(rec_string(&rec), ""); /* nobody was called */
	ck_assert_uint_eq(toy.mm->active, 0);
	ck_assert_int_eq(umn_notifier_unregister_no_release(&a.n), 0);
	toy_destroy(&toy);
}
END_TEST

Suite *errors_suite(void)
{
	TCase *tc;
	Suite *s = one_case_suite("errors", 30, setup, NULL, &tc);

	tcase_add_test(tc, mm_create_errors);
	tcase_add_test(tc, mm_release_errors);
	tcase_add_test(tc, register_errors);
	tcase_add_test(tc, unregister_and_put_errors);
	tcase_add_test(tc, interval_insert_and_remove_errors);
	tcase_add_test(tc, range_errors);
	return s;
}
