// SPDX-License-Identifier: MIT
/*
 * tests/check_lifetime.c - notifier lifetime across threads: the tests that
 * mutation testing showed missing (each kills a mutant that the other
 * suites let live: ->release for a put notifier, mm_release without its
 * grace period, unregister racing mm_release, the aging callbacks mixed
 * up, a put notifier freed after one grace period).
 */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../core/internal.h"
#include "harness.h"

static struct toy toy;
static struct recorder rec;
/* The thread in umn_mm_release, and the one in unregister (below). */
static struct sleepcheck_waiter releaser, unregisterer;
static int release_returned, unregister_returned;

static void setup(void)
{
	memset(&releaser, 0, sizeof(releaser));
	memset(&unregisterer, 0, sizeof(unregisterer));
	release_returned = unregister_returned = 0;
	toy_init(&toy, 64, true);
	rec_init(&rec);
}
static void reg(struct rec_notifier *r, int id,
		const struct umn_notifier_ops *ops)
{
	rec_register(r, id, ops, &rec, toy.mm);
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
static void *release_mm(void *arg)
{
	(void)arg;
	sleepcheck_watch_me(&releaser);
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
	toy_open_bracket(&toy, &range, 0, 1, UMN_EVENT_UNMAP);
	pthread_create(&t, NULL, release_mm, NULL);
	/* It called ->release at once, and waits for our bracket. */
	await_waiting(&releaser, &release_returned, "urcu_bp_synchronize_rcu");
	ck_assert_str_eq(rec_string(&rec), "S1R1");
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

	sleepcheck_watch_me(&unregisterer);
	ck_assert_int_eq(umn_notifier_unregister(&r->n), 0);
	__atomic_store_n(&unregister_returned, 1, __ATOMIC_RELEASE);
	return NULL;
}

START_TEST(unregister_during_mm_release_still_released_once)
{
	struct rec_notifier a, b;
	struct umn_range range;
	pthread_t t1, t2;

	reg(&a, 1, &rec_ops);
	reg(&b, 2, &rec_ops);
	toy_open_bracket(&toy, &range, 0, 1, UMN_EVENT_UNMAP);
	pthread_create(&t1, NULL, release_mm, NULL);
	/* mm_release hid a and b, and waits for our bracket ... */
	await_waiting(&releaser, &release_returned, "urcu_bp_synchronize_rcu");
	ck_assert_int_eq(__atomic_load_n(&a.n._state, __ATOMIC_ACQUIRE),
			 UMN__NOTIFIER_HIDDEN);
	/* ... and unregister waits for mm_release, not calling ->release. */
	pthread_create(&t2, NULL, unregister_it, &a);
	await_waiting(&unregisterer, &unregister_returned, "pthread_cond_wait");
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

/* ---- aims at G: a put notifier is not freed while a walker may be on it.
 * Its free keeps the memory (freed at the end) but points its link at a
 * trap, a notifier on no chain whose callback counts: a walker still on
 * the freed notifier steps into the trap; a callback on the freed one sees
 * its mark. ---- */
#define NPUT	   64
#define PUT_ROUNDS 12
#define LIVE	   0x11fe11feu
#define DEAD	   0xdeadu
struct marked {
	struct umn_notifier n;
	unsigned int mark;
	struct marked *next_dead;
};
static int g_stop, g_walkers_ready;
static unsigned long g_walked, g_dead_met;
static struct marked *g_dead;
static pthread_mutex_t g_dead_lock = PTHREAD_MUTEX_INITIALIZER;
static int trap_young(struct umn_notifier *n, struct umn_mm *mm,
		      unsigned long s, unsigned long e)
{
	(void)n, (void)mm, (void)s, (void)e;
	__atomic_add_fetch(&g_dead_met, 1, __ATOMIC_RELAXED);
	return 0;
}
static const struct umn_notifier_ops trap_ops = { .name = "trap",
						  .test_young = trap_young };
static struct umn_notifier trap = { .ops = &trap_ops,
				    ._gen_removed = ULONG_MAX,
				    ._state = UMN__NOTIFIER_LINKED };
static void mark_dead(struct umn_notifier *n)
{
	struct marked *m = container_of(n, struct marked, n);

	__atomic_store_n(&m->mark, DEAD, __ATOMIC_RELEASE);
	__atomic_store_n(&n->_next, &trap, __ATOMIC_RELEASE);
	pthread_mutex_lock(&g_dead_lock);
	m->next_dead = g_dead;
	g_dead = m;
	pthread_mutex_unlock(&g_dead_lock);
}
static int marked_young(struct umn_notifier *n, struct umn_mm *mm,
			unsigned long s, unsigned long e)
{
	struct marked *m = container_of(n, struct marked, n);

	(void)mm, (void)s, (void)e;
	if (__atomic_load_n(&m->mark, __ATOMIC_ACQUIRE) != LIVE)
		__atomic_add_fetch(&g_dead_met, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&g_walked, 1, __ATOMIC_RELAXED);
	return 0;
}
static void *walker(void *arg)
{
	(void)arg;
	umn_test_young(toy.mm, 0, PG(1)); /* a reader of RCU from now on */
	__atomic_add_fetch(&g_walkers_ready, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&g_stop, __ATOMIC_ACQUIRE))
		umn_test_young(toy.mm, 0, PG(1));
	return NULL;
}

START_TEST(put_free_waits_for_chain_walkers)
{
	static const struct umn_notifier_ops ops = { .name = "p",
						     .test_young = marked_young,
						     .free_notifier =
							     mark_dead };
	struct marked *ns[NPUT];
	pthread_t w[2];
	int i, round;

	for (i = 0; i < 2; i++)
		pthread_create(&w[i], NULL, walker, NULL);
	/* The walkers walk before the first notifier comes and goes. */
	while (__atomic_load_n(&g_walkers_ready, __ATOMIC_ACQUIRE) < 2)
		sched_yield();
	/* More rounds, up to ten times as many, while the walkers, off the
	 * CPU on a loaded machine, have not met the floor's worth yet. */
	for (round = 0;
	     round < PUT_ROUNDS ||
	     (round < 10 * PUT_ROUNDS &&
	      __atomic_load_n(&g_walked, __ATOMIC_RELAXED) < NPUT * 10);
	     round++) {
		for (i = 0; i < NPUT; i++) {
			ns[i] = calloc(1, sizeof(*ns[i]));
			ns[i]->mark = LIVE;
			ck_assert_int_eq(
				umn_notifier_register(&ns[i]->n, &ops, toy.mm),
				0);
		}
		for (i = 0; i < NPUT; i++)
			ck_assert_int_eq(umn_notifier_put(&ns[i]->n), 0);
	}
	__atomic_store_n(&g_stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < 2; i++)
		pthread_join(w[i], NULL);
	umn_rcu_barrier();
	ck_assert_msg(!g_dead_met, "%lu calls reached a freed notifier",
		      g_dead_met);
	/* A floor of work: the walkers met many notifiers. */
	ck_assert_msg(g_walked >= NPUT * 10, "the walkers met %lu notifiers",
		      g_walked);
	while (g_dead) {
		struct marked *m = g_dead;

		g_dead = m->next_dead;
		free(m);
	}
	toy_destroy(&toy);
}
END_TEST

Suite *lifetime_suite(void)
{
	TCase *tc;
	Suite *s = one_case_suite("lifetime", 60, setup, NULL, &tc);

	tcase_add_test(tc, put_notifier_gets_no_release_from_mm_release);
	tcase_add_test(tc, mm_release_returns_after_open_bracket);
	tcase_add_test(tc, unregister_during_mm_release_still_released_once);
	tcase_add_test(tc, each_young_call_reaches_its_own_callback);
	tcase_add_test(tc, put_free_waits_for_chain_walkers);
	return s;
}
