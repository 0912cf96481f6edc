// SPDX-License-Identifier: MIT
/*
 * tests/check_notifier.c - classic notifiers against docs/CONTRACT.md:
 * bracketing and pairing (also across -EAGAIN), invalidate_range between
 * start and end, lifetime (no callback after unregister, release exactly
 * once, put), young and change_pte by range.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>

#include "../core/internal.h"
#include "harness.h"

static struct toy toy;
static struct recorder rec;

static void setup(void)
{
	toy_init(&toy, 64, true);
	rec_init(&rec);
}

static void reg(struct rec_notifier *r, int id,
		const struct umn_notifier_ops *ops)
{
	rec_register(r, id, ops, &rec, toy.mm);
}

/* Contract 2: start, then invalidate_range under the PTL, then end. */
START_TEST(bracket_reaches_every_notifier_in_order)
{
	struct rec_notifier a, b;

	reg(&a, 1, &rec_ops);
	reg(&b, 2, &rec_ops);
	ck_assert_int_eq(toy_remap(&toy, 4, 2, UMN_RANGE_BLOCKABLE), 0);
	/* newest first, as Linux's hlist_add_head */
	ck_assert_str_eq(rec_string(&rec), "S2S1I2I1E2E1");
	ck_assert_uint_eq(rec.ev[0].start, PG(4));
	ck_assert_uint_eq(rec.ev[0].end, PG(6));
	ck_assert_int_eq(rec.ev[0].event, UMN_EVENT_CLEAR);
	ck_assert_uint_eq(rec.ev[2].start, PG(4));
	ck_assert_uint_eq(rec.ev[5].end, PG(6));
	ck_assert_int_eq(umn_notifier_unregister(&a.n), 0);
	ck_assert_int_eq(umn_notifier_unregister(&b.n), 0);
	toy_destroy(&toy);
}
END_TEST

/* umn_invalidate_range_end also calls ->invalidate_range; _only_end not. */
START_TEST(end_calls_invalidate_range_only_end_does_not)
{
	struct rec_notifier a;
	struct umn_range range;

	reg(&a, 1, &rec_ops);
	toy_open_bracket(&toy, &range, 1, 1, UMN_EVENT_UNMAP);
	umn_invalidate_range_end(&range);
	ck_assert_str_eq(rec_string(&rec), "S1I1E1");
	ck_assert_int_eq(umn_invalidate_range_start(&range), 0);
	umn_invalidate_range_only_end(&range);
	ck_assert_str_eq(rec_string(&rec), "S1I1E1S1E1");
	ck_assert_int_eq(umn_notifier_unregister(&a.n), 0);
	toy_destroy(&toy);
}
END_TEST

/*
 * Contract 2, pairing across -EAGAIN: the notifiers whose start ran get
 * their end; the one that refused and those after it get nothing; the
 * primary is told.
 */
START_TEST(eagain_pairs_every_start_that_ran)
{
	struct rec_notifier a, failing, c;
	struct umn_range range;

	reg(&a, 1, &rec_ops);
	reg(&failing, 2, &rec_may_fail_ops);
	reg(&c, 3, &rec_ops);
	failing.start_ret = -EAGAIN;
	umn_range_init(&range, toy.mm, PG(0), PG(8), UMN_EVENT_UNMAP, 0, NULL);
	ck_assert_int_eq(umn_invalidate_range_start(&range), -EAGAIN);
	ck_assert_str_eq(rec_string(&rec), "S3S2E3");
	/* Nothing is left open: the next bracket works normally. */
	failing.start_ret = 0;
	ck_assert_int_eq(toy_remap(&toy, 0, 1, 0), 0);
	ck_assert_str_eq(rec_string(&rec), "S3S2E3S3S2S1I3I2I1E3E1");
	ck_assert(umn__intervals_are_valid(toy.mm));
	ck_assert_int_eq(umn_notifier_unregister(&a.n), 0);
	ck_assert_int_eq(umn_notifier_unregister(&failing.n), 0);
	ck_assert_int_eq(umn_notifier_unregister(&c.n), 0);
	toy_destroy(&toy);
}
END_TEST

/* A start that may fail cannot come with an end: refused at register. */
START_TEST(may_fail_start_with_end_is_refused)
{
	struct umn_notifier_ops ops = rec_ops;
	struct rec_notifier a;

	memset(&a, 0, sizeof(a));
	ops.flags = UMN_NOTIFIER_START_MAY_FAIL;
	ck_assert_int_eq(umn_notifier_register(&a.n, &ops, toy.mm), -EINVAL);
	ck_assert_ptr_null(a.n.mm);
	ck_assert_ptr_null(toy.mm->chain);
	toy_destroy(&toy);
}
END_TEST

/* Contract 5: no callback after unregister returns; release once. */
START_TEST(unregister_stops_callbacks_and_releases_once)
{
	struct rec_notifier a, b;

	reg(&a, 1, &rec_ops);
	reg(&b, 2, &rec_ops);
	ck_assert_int_eq(umn_notifier_unregister(&a.n), 0);
	ck_assert_str_eq(rec_string(&rec), "R1");
	ck_assert_int_eq(toy_remap(&toy, 0, 1, UMN_RANGE_BLOCKABLE), 0);
	ck_assert_str_eq(rec_string(&rec), "R1S2I2E2");
	ck_assert_int_eq(umn_notifier_unregister_no_release(&b.n), 0);
	ck_assert_int_eq(toy_remap(&toy, 0, 1, UMN_RANGE_BLOCKABLE), 0);
	ck_assert_str_eq(rec_string(&rec), "R1S2I2E2");
	ck_assert_ptr_null(toy.mm->chain);
	/* Unregistered twice: refused, nothing changes. */
	ck_assert_int_eq(umn_notifier_unregister(&a.n), -EINVAL);
	/* The notifier can be registered again. */
	reg(&a, 1, &rec_ops);
	ck_assert_int_eq(umn_notifier_unregister(&a.n), 0);
	ck_assert_int_eq(rec_count(&rec, 'R', 1), 2);
	toy_destroy(&toy);
}
END_TEST

/* Contract 5: teardown calls release once; unregister after it does not. */
START_TEST(mm_release_calls_release_once)
{
	struct rec_notifier a, b;
	struct rec_notifier late;

	reg(&a, 1, &rec_ops);
	reg(&b, 2, &rec_ops);
	ck_assert_int_eq(umn_mm_release(toy.mm), 0);
	ck_assert_str_eq(rec_string(&rec), "R2R1");
	/* After release no callback runs. */
	ck_assert_int_eq(toy_remap(&toy, 0, 1, UMN_RANGE_BLOCKABLE), 0);
	ck_assert_str_eq(rec_string(&rec), "R2R1");
	ck_assert_int_eq(umn_mm_release(toy.mm), -EALREADY);
	memset(&late, 0, sizeof(late));
	ck_assert_int_eq(umn_notifier_register(&late.n, &rec_ops, toy.mm),
			 -ESRCH);
	ck_assert(umn__chain_is_valid(toy.mm));
	ck_assert_int_eq(umn_notifier_unregister(&a.n), 0);
	ck_assert_int_eq(umn_notifier_unregister(&b.n), 0);
	ck_assert_str_eq(rec_string(&rec), "R2R1");
	umn_mm_put(toy.mm);
}
END_TEST

/*
 * Contract 2 from the other side: a notifier registered between a start
 * and its end gets no end for a start it did not see.
 */
struct mid {
	struct rec_notifier late;
	pthread_t thread;
	int registered;
	struct sleepcheck_waiter sw;
};

static void *register_late(void *arg)
{
	struct mid *m = arg;

	sleepcheck_watch_me(&m->sw);

	ck_assert_int_eq(umn_notifier_register(&m->late.n, &rec_ops, toy.mm),
			 0);
	__atomic_store_n(&m->registered, 1, __ATOMIC_RELEASE);
	return NULL;
}

START_TEST(register_during_bracket_waits_and_is_not_ended)
{
	struct rec_notifier a;
	struct umn_range range;
	struct mid m;

	reg(&a, 1, &rec_ops);
	memset(&m, 0, sizeof(m));
	m.late.id = 2;
	m.late.rec = &rec;
	toy_open_bracket(&toy, &range, 0, 1, UMN_EVENT_UNMAP);
	pthread_create(&m.thread, NULL, register_late, &m);
	/* Register must not return while our bracket is open. */
	await_waiting(&m.sw, &m.registered, "urcu_bp_synchronize_rcu");
	umn_invalidate_range_only_end(&range);
	pthread_join(m.thread, NULL);
	ck_assert_str_eq(rec_string(&rec), "S1E1");
	ck_assert_int_eq(toy_remap(&toy, 0, 1, UMN_RANGE_BLOCKABLE), 0);
	ck_assert_str_eq(rec_string(&rec), "S1E1S2S1I2I1E2E1");
	ck_assert_int_eq(umn_notifier_unregister(&a.n), 0);
	ck_assert_int_eq(umn_notifier_unregister(&m.late.n), 0);
	toy_destroy(&toy);
}
END_TEST

/*
 * And a notifier unregistered between a start and its end still gets its
 * end: unregister calls ->release at once (as Linux: the secondary must
 * drop its translations while it still hears every bracket), then waits
 * for the bracket before it returns.
 */
struct leaving {
	struct rec_notifier r;
	int returned;
	struct sleepcheck_waiter sw;
};

static void *unregister_now(void *arg)
{
	struct leaving *l = arg;

	sleepcheck_watch_me(&l->sw);

	ck_assert_int_eq(umn_notifier_unregister(&l->r.n), 0);
	__atomic_store_n(&l->returned, 1, __ATOMIC_RELEASE);
	return NULL;
}

START_TEST(unregister_during_bracket_gets_its_end_first)
{
	struct umn_range range;
	struct leaving l;
	pthread_t thread;

	memset(&l, 0, sizeof(l));
	reg(&l.r, 1, &rec_ops);
	toy_open_bracket(&toy, &range, 0, 1, UMN_EVENT_UNMAP);
	pthread_create(&thread, NULL, unregister_now, &l);
	/* ->release at once, then it waits for our bracket. */
	await_waiting(&l.sw, &l.returned, "urcu_bp_synchronize_rcu");
	ck_assert_str_eq(rec_string(&rec), "S1R1");
	umn_invalidate_range_only_end(&range);
	pthread_join(thread, NULL);
	ck_assert_str_eq(rec_string(&rec), "S1R1E1");
	toy_destroy(&toy);
}
END_TEST

/* Unregister never leaves the secondary blind: a bracket that begins
 * after unregister has begun but before ->release finished still reaches
 * the notifier (the reviewer's H1). */
static int release_saw_bracket_begin;

static void *remap_thread(void *arg)
{
	(void)arg;
	ck_assert_int_eq(toy_remap(&toy, 2, 1, UMN_RANGE_BLOCKABLE), 0);
	return NULL;
}

static void slow_release(struct umn_notifier *n, struct umn_mm *mm)
{
	pthread_t t;

	(void)mm;
	rec_add(&rec, 'R', 1, 0, 0, 0);
	/* A primary unmaps while we are releasing: we must hear it. */
	pthread_create(&t, NULL, remap_thread, NULL);
	pthread_join(t, NULL);
	release_saw_bracket_begin = rec_count(&rec, 'S', 1);
	(void)n;
}

START_TEST(unregister_is_never_blind)
{
	struct umn_notifier_ops ops = rec_ops;
	struct rec_notifier a;

	ops.release = slow_release;
	memset(&a, 0, sizeof(a));
	a.id = 1;
	a.rec = &rec;
	ck_assert_int_eq(umn_notifier_register(&a.n, &ops, toy.mm), 0);
	ck_assert_int_eq(umn_notifier_unregister(&a.n), 0);
	ck_assert_int_eq(release_saw_bracket_begin, 1);
	ck_assert_str_eq(rec_string(&rec), "R1S1I1E1");
	toy_destroy(&toy);
}
END_TEST

/* put from ->release during unregister: refused, the notifier stays the
 * unregister's to finish (the reviewer's M2). */
static int put_from_release_ret;

static void release_puts(struct umn_notifier *n, struct umn_mm *mm)
{
	(void)mm;
	put_from_release_ret = umn_notifier_put(n);
}

START_TEST(put_from_release_during_unregister_is_busy)
{
	struct umn_notifier_ops ops = rec_ops;
	struct rec_notifier a;

	ops.release = release_puts;
	memset(&a, 0, sizeof(a));
	a.rec = &rec;
	ck_assert_int_eq(umn_notifier_register(&a.n, &ops, toy.mm), 0);
	ck_assert_int_eq(umn_notifier_unregister(&a.n), 0);
	ck_assert_int_eq(put_from_release_ret, -EBUSY);
	ck_assert_ptr_null(a.n.mm);
	umn_rcu_barrier();
	ck_assert_int_eq(a.freed, 0);
	toy_destroy(&toy);
}
END_TEST

/*
 * A notifier hidden between start and invalidate_range still gets its
 * invalidate_range: its TLB must be flushed before the frames go (the
 * reviewer's M1).
 */
static void *put_now(void *arg)
{
	ck_assert_int_eq(umn_notifier_put(arg), 0);
	return NULL;
}

START_TEST(invalidate_range_reaches_notifier_hidden_mid_bracket)
{
	struct rec_notifier a;
	struct umn_range range;
	pthread_t t;

	reg(&a, 1, &rec_ops);
	toy_open_bracket(&toy, &range, 0, 1, UMN_EVENT_UNMAP);
	pthread_create(&t, NULL, put_now, &a.n);
	pthread_join(t, NULL); /* a is hidden now */
	umn_invalidate_range(toy.mm, range.start, range.end);
	umn_invalidate_range_only_end(&range);
	ck_assert_str_eq(rec_string(&rec), "S1I1E1");
	umn_rcu_barrier();
	ck_assert_int_eq(a.freed, 1);
	toy_destroy(&toy);
}
END_TEST

/* umn_notifier_put: no wait, callbacks stop, free after a grace period. */
static struct rec_notifier put_self;

static void put_in_release(struct umn_notifier *n, struct umn_mm *mm)
{
	(void)mm;
	rec_add(&rec, 'R', 9, 0, 0, 0);
	ck_assert_int_eq(umn_notifier_put(n), 0);
}

START_TEST(put_is_deferred_and_safe_from_release)
{
	struct umn_notifier_ops ops = rec_ops;
	struct rec_notifier a;

	reg(&a, 1, &rec_ops);
	ck_assert_int_eq(umn_notifier_put(&a.n), 0);
	ck_assert_int_eq(toy_remap(&toy, 0, 1, UMN_RANGE_BLOCKABLE), 0);
	ck_assert_str_eq(rec_string(&rec), "");
	umn_rcu_barrier();
	ck_assert_int_eq(a.freed, 1);
	ck_assert_ptr_null(a.n.mm);
	ck_assert_int_eq(rec_count(&rec, 'R', 1), 0);

	ops.release = put_in_release;
	memset(&put_self, 0, sizeof(put_self));
	put_self.id = 9;
	put_self.rec = &rec;
	ck_assert_int_eq(umn_notifier_register(&put_self.n, &ops, toy.mm), 0);
	ck_assert_int_eq(umn_mm_release(toy.mm), 0);
	umn_rcu_barrier();
	ck_assert_int_eq(put_self.freed, 1);
	ck_assert_str_eq(rec_string(&rec), "R9");
	ck_assert_ptr_null(toy.mm->chain);
	umn_mm_put(toy.mm);
}
END_TEST

/* Contract 6: aging by range; the answers are OR-ed. */
START_TEST(young_calls_take_ranges)
{
	struct rec_notifier a, b;

	reg(&a, 1, &rec_ops);
	reg(&b, 2, &rec_ops);
	ck_assert_int_eq(umn_clear_flush_young(toy.mm, PG(2), PG(4)), 0);
	b.young = 1;
	ck_assert_int_eq(umn_clear_young(toy.mm, PG(2), PG(4)), 1);
	a.young = 7;
	b.young = 0;
	ck_assert_int_eq(umn_test_young(toy.mm, 0, PG(512)), 1);
	ck_assert_str_eq(rec_string(&rec), "Y2Y1Y2Y1Y2Y1");
	ck_assert_uint_eq(rec.ev[4].start, 0);
	ck_assert_uint_eq(rec.ev[4].end, PG(512));
	ck_assert_int_eq(umn_test_young(toy.mm, PG(2), PG(2)), -EINVAL);
	ck_assert_int_eq(umn_notifier_unregister(&a.n), 0);
	ck_assert_int_eq(umn_notifier_unregister(&b.n), 0);
	toy_destroy(&toy);
}
END_TEST

START_TEST(change_pte_inside_a_bracket)
{
	struct rec_notifier a;
	struct umn_range range;

	reg(&a, 1, &rec_ops);
	toy_open_bracket(&toy, &range, 3, 1, UMN_EVENT_CLEAR);
	umn_change_pte(toy.mm, PG(3) + 123, 0xabc);
	umn_invalidate_range_end(&range);
	ck_assert_str_eq(rec_string(&rec), "S1P1I1E1");
	ck_assert_uint_eq(rec.ev[1].start, PG(3));
	ck_assert_uint_eq(rec.ev[1].end, 0xabc);
	ck_assert_int_eq(umn_notifier_unregister(&a.n), 0);
	toy_destroy(&toy);
}
END_TEST

/* The fast path: no notifier, no work; the first one takes lock_all. */
START_TEST(first_notifier_takes_lock_all_once)
{
	struct rec_notifier a, b;

	umn__mm_reenable_fast_path(toy.mm); /* as a release build creates it */
	ck_assert(!umn_mm_has_notifiers(toy.mm));
	ck_assert_int_eq(toy_remap(&toy, 0, 1, UMN_RANGE_BLOCKABLE), 0);
	ck_assert_int_eq(toy.lock_all_calls, 0);
	reg(&a, 1, &rec_ops);
	ck_assert_int_eq(toy.lock_all_calls, 1);
	ck_assert(umn_mm_has_notifiers(toy.mm));
	reg(&b, 2, &rec_ops);
	ck_assert_int_eq(toy.lock_all_calls, 1);
	ck_assert_int_eq(umn_notifier_unregister(&a.n), 0);
	ck_assert_int_eq(umn_notifier_unregister(&b.n), 0);
	toy_destroy(&toy);
}
END_TEST

/* The chain validator is an oracle: it fails on a broken chain. */
START_TEST(chain_validator_catches_corruption)
{
	struct rec_notifier a;

	reg(&a, 1, &rec_ops);
	a.n._gen_removed = 0;
	ck_assert(!umn__chain_is_valid(toy.mm));
	a.n._gen_removed = ~0UL;
	a.n._state = 77;
	ck_assert(!umn__chain_is_valid(toy.mm));
	a.n._state = UMN__NOTIFIER_LINKED;
	ck_assert(umn__chain_is_valid(toy.mm));
	ck_assert_int_eq(umn_notifier_unregister(&a.n), 0);
	toy_destroy(&toy);
}
END_TEST

Suite *notifier_suite(void)
{
	TCase *tc;
	Suite *s = one_case_suite("notifier", 30, setup, NULL, &tc);

	tcase_add_test(tc, bracket_reaches_every_notifier_in_order);
	tcase_add_test(tc, end_calls_invalidate_range_only_end_does_not);
	tcase_add_test(tc, eagain_pairs_every_start_that_ran);
	tcase_add_test(tc, may_fail_start_with_end_is_refused);
	tcase_add_test(tc, unregister_stops_callbacks_and_releases_once);
	tcase_add_test(tc, mm_release_calls_release_once);
	tcase_add_test(tc, register_during_bracket_waits_and_is_not_ended);
	tcase_add_test(tc, unregister_during_bracket_gets_its_end_first);
	tcase_add_test(tc, unregister_is_never_blind);
	tcase_add_test(tc, put_from_release_during_unregister_is_busy);
	tcase_add_test(tc,
		       invalidate_range_reaches_notifier_hidden_mid_bracket);
	tcase_add_test(tc, put_is_deferred_and_safe_from_release);
	tcase_add_test(tc, young_calls_take_ranges);
	tcase_add_test(tc, change_pte_inside_a_bracket);
	tcase_add_test(tc, first_notifier_takes_lock_all_once);
	tcase_add_test(tc, chain_validator_catches_corruption);
	return s;
}
