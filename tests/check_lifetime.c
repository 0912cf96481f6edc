// SPDX-License-Identifier: MIT
/*
 * tests/check_lifetime.c - notifier lifetime across threads: the tests that
 * mutation testing showed missing (each kills a mutant that the other
 * suites let live: ->release for a put notifier, mm_release without its
 * grace period, unregister racing mm_release, the aging callbacks mixed
 * up, a put notifier freed after one grace period).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../core/internal.h"
#include "harness.h"

static struct toy toy;
static struct recorder rec;

static void setup(void)
{
	toy_init(&toy, 64, true);
	rec_init(&rec);
}
static void teardown(void)
{
}

static void reg(struct rec_notifier *r, int id,
		const struct umn_notifier_ops *ops)
{
	rec_register(r, id, ops, &rec, toy.mm);
}

static void msleep(int ms)
{
	usleep(ms * 1000);
}

/* ---- kills 12: a put notifier still on the chain gets no ->release ---- */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int gate_entered, gate_open;

static void gate_free(struct umn_notifier *n)
{
	(void)n;
	pthread_mutex_lock(&gate_lock);
	gate_entered = 1;
	pthread_cond_broadcast(&gate_cond);
	while (!gate_open)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
}

START_TEST(put_notifier_gets_no_release_from_mm_release)
{
	static const struct umn_notifier_ops gate_ops = { .name = "gate",
							  .free_notifier =
								  gate_free };
	struct umn_notifier z;
	struct rec_notifier a;

	/* Park the call_rcu helper thread inside z's ->free_notifier. */
	memset(&z, 0, sizeof(z));
	ck_assert_int_eq(umn_notifier_register(&z, &gate_ops, toy.mm), 0);
	ck_assert_int_eq(umn_notifier_put(&z), 0);
	pthread_mutex_lock(&gate_lock);
	while (!gate_entered)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
	/* a is put: hidden but, with the helper parked, still on the chain. */
	reg(&a, 1, &rec_ops);
	ck_assert_int_eq(umn_notifier_put(&a.n), 0);
	ck_assert_ptr_eq(toy.mm->chain, &a.n);
	ck_assert_int_eq(umn_mm_release(toy.mm), 0);
	ck_assert_int_eq(rec_count(&rec, 'R', 1), 0);
	pthread_mutex_lock(&gate_lock);
	gate_open = 1;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
	umn_rcu_barrier();
	ck_assert_int_eq(a.freed, 1);
	ck_assert_int_eq(rec_count(&rec, 'R', 1), 0);
	umn_mm_put(toy.mm);
}
END_TEST

/* ---- kills D: mm_release calls ->release at once (never blind), but
 * returns only when the bracket open on another thread has ended ---- */
static int release_returned;

static void *release_mm(void *arg)
{
	(void)arg;
	ck_assert_int_eq(umn_mm_release(toy.mm), 0);
	__atomic_store_n(&release_returned, 1, __ATOMIC_RELEASE);
	return NULL;
}

START_TEST(mm_release_returns_after_open_bracket)
{
	struct rec_notifier a;
	struct umn_range range;
	pthread_t t;

	reg(&a, 1, &rec_ops);
	umn_range_init(&range, toy.mm, PG(0), PG(1), UMN_EVENT_UNMAP,
		       UMN_RANGE_BLOCKABLE, NULL);
	ck_assert_int_eq(umn_invalidate_range_start(&range), 0);
	pthread_create(&t, NULL, release_mm, NULL);
	while (rec_count(&rec, 'R', 1) == 0)
		msleep(1);
	msleep(100);
	ck_assert_int_eq(__atomic_load_n(&release_returned, __ATOMIC_ACQUIRE),
			 0);
	umn_invalidate_range_only_end(&range);
	pthread_join(t, NULL);
	ck_assert_str_eq(rec_string(&rec), "S1R1E1");
	/* After it returned, nothing reaches a. */
	ck_assert_int_eq(toy_remap(&toy, 0, 1, UMN_RANGE_BLOCKABLE), 0);
	ck_assert_int_eq(umn_notifier_unregister(&a.n), 0);
	ck_assert_str_eq(rec_string(&rec), "S1R1E1");
	umn_mm_put(toy.mm);
}
END_TEST

/* ---- kills F: unregister racing mm_release: ->release exactly once ---- */
static void *unregister_it(void *arg)
{
	struct rec_notifier *r = arg;

	ck_assert_int_eq(umn_notifier_unregister(&r->n), 0);
	return NULL;
}

START_TEST(unregister_during_mm_release_still_released_once)
{
	struct rec_notifier a, b;
	struct umn_range range;
	pthread_t t1, t2;

	reg(&a, 1, &rec_ops);
	reg(&b, 2, &rec_ops);
	umn_range_init(&range, toy.mm, PG(0), PG(1), UMN_EVENT_UNMAP,
		       UMN_RANGE_BLOCKABLE, NULL);
	ck_assert_int_eq(umn_invalidate_range_start(&range), 0);
	pthread_create(&t1, NULL, release_mm, NULL);
	while (__atomic_load_n(&a.n._state, __ATOMIC_ACQUIRE) !=
	       UMN__NOTIFIER_HIDDEN)
		msleep(1);
	pthread_create(&t2, NULL, unregister_it, &a);
	msleep(100);
	umn_invalidate_range_only_end(&range);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	ck_assert_int_eq(rec_count(&rec, 'R', 1), 1);
	ck_assert_int_eq(rec_count(&rec, 'R', 2), 1);
	ck_assert_int_eq(umn_notifier_unregister(&b.n), 0);
	ck_assert_int_eq(rec_count(&rec, 'R', 2), 1);
	umn_mm_put(toy.mm);
}
END_TEST

/* ---- kills J: each aging call reaches its own callback ---- */
static int young_f(struct umn_notifier *n, struct umn_mm *mm, unsigned long s,
		   unsigned long e)
{
	(void)mm;
	rec_add(container_of(n, struct rec_notifier, n)->rec, 'F', 1, s, e, 0);
	return 0;
}
static int young_c(struct umn_notifier *n, struct umn_mm *mm, unsigned long s,
		   unsigned long e)
{
	(void)mm;
	rec_add(container_of(n, struct rec_notifier, n)->rec, 'C', 1, s, e, 0);
	return 0;
}
static int young_t(struct umn_notifier *n, struct umn_mm *mm, unsigned long s,
		   unsigned long e)
{
	(void)mm;
	rec_add(container_of(n, struct rec_notifier, n)->rec, 'T', 1, s, e, 1);
	return 1;
}

START_TEST(each_young_call_reaches_its_own_callback)
{
	static const struct umn_notifier_ops ops = { .name = "ages",
						     .clear_flush_young =
							     young_f,
						     .clear_young = young_c,
						     .test_young = young_t };
	static const struct umn_notifier_ops only_test = { .name = "t",
							   .test_young =
								   young_t };
	struct rec_notifier a, b;

	reg(&a, 1, &ops);
	ck_assert_int_eq(umn_clear_flush_young(toy.mm, 0, PG(1)), 0);
	ck_assert_int_eq(umn_clear_young(toy.mm, 0, PG(1)), 0);
	ck_assert_int_eq(umn_test_young(toy.mm, 0, PG(1)), 1);
	ck_assert_str_eq(rec_string(&rec), "F1C1T1");
	ck_assert_int_eq(umn_notifier_unregister(&a.n), 0);
	rec_init(&rec);
	reg(&b, 1, &only_test);
	ck_assert_int_eq(umn_clear_young(toy.mm, 0, PG(1)), 0);
	ck_assert_int_eq(umn_clear_flush_young(toy.mm, 0, PG(1)), 0);
	ck_assert_str_eq(rec_string(&rec), "");
	ck_assert_int_eq(umn_notifier_unregister(&b.n), 0);
	toy_destroy(&toy);
}
END_TEST

/* ---- aims at G: a put notifier is not freed while a walker may be on it ---- */
#define NPUT 64
static int g_stop;
static void poison_free(struct umn_notifier *n)
{
	memset(n, 0xa5, sizeof(*n));
	free(n);
}
static void *walker(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&g_stop, __ATOMIC_ACQUIRE))
		umn_test_young(toy.mm, 0, PG(1));
	return NULL;
}

START_TEST(put_free_waits_for_chain_walkers)
{
	static const struct umn_notifier_ops ops = { .name = "p",
						     .free_notifier =
							     poison_free };
	struct umn_notifier *ns[NPUT];
	pthread_t w[2];
	time_t end = time(NULL) + 6;
	int i;

	for (i = 0; i < 2; i++)
		pthread_create(&w[i], NULL, walker, NULL);
	while (time(NULL) < end) {
		for (i = 0; i < NPUT; i++) {
			ns[i] = calloc(1, sizeof(*ns[i]));
			ck_assert_int_eq(
				umn_notifier_register(ns[i], &ops, toy.mm), 0);
		}
		for (i = 0; i < NPUT; i++)
			ck_assert_int_eq(umn_notifier_put(ns[i]), 0);
	}
	__atomic_store_n(&g_stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < 2; i++)
		pthread_join(w[i], NULL);
	umn_rcu_barrier();
	toy_destroy(&toy);
}
END_TEST

Suite *lifetime_suite(void)
{
	Suite *s = suite_create("lifetime");
	TCase *tc = tcase_create("lifetime");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, put_notifier_gets_no_release_from_mm_release);
	tcase_add_test(tc, mm_release_returns_after_open_bracket);
	tcase_add_test(tc, unregister_during_mm_release_still_released_once);
	tcase_add_test(tc, each_young_call_reaches_its_own_callback);
	tcase_add_test(tc, put_free_waits_for_chain_walkers);
	suite_add_tcase(s, tc);
	return s;
}
