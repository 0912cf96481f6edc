// SPDX-License-Identifier: MIT
/*
 * tests/check_concurrency.c - everything at once, for a bounded time.
 *
 * Threads that never pause:
 *   - invalidators: toy_remap() of random ranges (the full bracket);
 *   - a registrar: registers and unregisters (or puts) classic notifiers;
 *   - a mirror thread: inserts and removes interval notifiers and faults
 *     pages into them with read_begin / read_retry.
 *
 * Counters prove the contract, and must all be zero at the end:
 *   - a callback that ran on a notifier after its unregister (or remove)
 *     returned;
 *   - a notifier whose starts and ends differ when unregister returns;
 *   - a mirror translation that differs from the primary's PTE (checked
 *     under the page-table lock: the stale-translation oracle).
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/internal.h"
#include "harness.h"

#define NPAGES	 64
#define NNOTES	 4
#define NMIRRORS 4

static struct toy toy;
static int stop;
static long errors_after_unregister, errors_unpaired, errors_stale;
static long ops_done;

struct counted {
	struct umn_notifier n;
	long starts, ends; /* atomic */
	int gone;	   /* atomic: unregister returned */
};

static struct counted notes[NNOTES];

static void bump(long *counter)
{
	__atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
}

static void check_alive(struct counted *c)
{
	if (__atomic_load_n(&c->gone, __ATOMIC_ACQUIRE))
		bump(&errors_after_unregister);
}

static int counted_start(struct umn_notifier *n, const struct umn_range *r)
{
	struct counted *c = container_of(n, struct counted, n);

	(void)r;
	check_alive(c);
	bump(&c->starts);
	return 0;
}

static void counted_end(struct umn_notifier *n, const struct umn_range *r)
{
	struct counted *c = container_of(n, struct counted, n);

	(void)r;
	check_alive(c);
	bump(&c->ends);
}

static void counted_inv(struct umn_notifier *n, struct umn_mm *mm,
			unsigned long start, unsigned long end)
{
	(void)mm, (void)start, (void)end;
	check_alive(container_of(n, struct counted, n));
}

static void counted_free(struct umn_notifier *n)
{
	struct counted *c = container_of(n, struct counted, n);

	if (c->starts != c->ends)
		bump(&errors_unpaired);
	__atomic_store_n(&c->gone, 1, __ATOMIC_RELEASE);
}

static const struct umn_notifier_ops counted_ops = {
	.name = "counted",
	.invalidate_range_start = counted_start,
	.invalidate_range_end = counted_end,
	.invalidate_range = counted_inv,
	.free_notifier = counted_free,
};

struct mirror {
	struct umn_interval_notifier sub;
	pthread_spinlock_t lock;
	unsigned long first, count;
	unsigned long shadow[NPAGES];
	int gone;
	int inserted;
};

static struct mirror mirrors[NMIRRORS];

static bool mirror_invalidate(struct umn_interval_notifier *sub,
			      const struct umn_range *range, unsigned long seq)
{
	struct mirror *m = container_of(sub, struct mirror, sub);
	unsigned long p;

	if (__atomic_load_n(&m->gone, __ATOMIC_ACQUIRE))
		bump(&errors_after_unregister);
	pthread_spin_lock(&m->lock);
	umn_interval_set_seq(sub, seq);
	for (p = m->first; p < m->first + m->count; p++)
		if (PG(p) >= range->start && PG(p) < range->end)
			m->shadow[p] = 0;
	pthread_spin_unlock(&m->lock);
	return true;
}

static const struct umn_interval_notifier_ops mirror_ops = {
	.name = "mirror",
	.invalidate = mirror_invalidate,
};

static unsigned long rnd(unsigned long *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static bool stopping(void)
{
	return __atomic_load_n(&stop, __ATOMIC_ACQUIRE);
}

static void *invalidator(void *arg)
{
	unsigned long s = (unsigned long)arg, first;

	while (!stopping()) {
		first = rnd(&s) % NPAGES;
		toy_remap(&toy, first, 1 + rnd(&s) % (NPAGES - first),
			  UMN_RANGE_BLOCKABLE);
		bump(&ops_done);
	}
	return NULL;
}

static void *registrar(void *arg)
{
	unsigned long s = (unsigned long)arg;
	struct counted *c;

	while (!stopping()) {
		c = &notes[rnd(&s) % NNOTES];
		if (!c->n.mm) {
			memset(c, 0, sizeof(*c));
			ck_assert_int_eq(umn_notifier_register(
						 &c->n, &counted_ops, toy.mm),
					 0);
		} else if (rnd(&s) % 2) {
			ck_assert_int_eq(umn_notifier_unregister(&c->n), 0);
			counted_free(&c->n);
		} else {
			ck_assert_int_eq(umn_notifier_put(&c->n), 0);
			umn_rcu_barrier();
			ck_assert_ptr_null(c->n.mm); /* freed */
		}
		bump(&ops_done);
	}
	return NULL;
}

static void mirror_fault(struct mirror *m, unsigned long page)
{
	unsigned long seq, frame;

	do {
		seq = umn_interval_read_begin(&m->sub);
		frame = toy_lookup(&toy, page);
		pthread_spin_lock(&m->lock);
		if (!umn_interval_read_retry(&m->sub, seq))
			break;
		pthread_spin_unlock(&m->lock);
	} while (true);
	m->shadow[page] = frame;
	pthread_spin_unlock(&m->lock);
}

static void mirror_check(struct mirror *m)
{
	unsigned long p;

	pthread_mutex_lock(&toy.ptl);
	pthread_spin_lock(&m->lock);
	for (p = m->first; p < m->first + m->count; p++)
		if (m->shadow[p] && m->shadow[p] != toy_lookup(&toy, p))
			bump(&errors_stale);
	pthread_spin_unlock(&m->lock);
	pthread_mutex_unlock(&toy.ptl);
}

/* Mirror thread k owns mirrors[2k] and mirrors[2k + 1]. */
static void *mirror_thread(void *arg)
{
	unsigned long k = (unsigned long)arg, s = 0x2545f4914f6cdd1dUL + k;
	struct mirror *m;
	int i;

	while (!stopping()) {
		m = &mirrors[2 * k + rnd(&s) % 2];
		if (!m->inserted) {
			memset(m, 0, sizeof(*m));
			pthread_spin_init(&m->lock, PTHREAD_PROCESS_PRIVATE);
			m->first = rnd(&s) % NPAGES;
			m->count = 1 + rnd(&s) % (NPAGES - m->first);
			ck_assert_int_eq(umn_interval_notifier_insert(
						 &m->sub, toy.mm, PG(m->first),
						 PG(m->count), &mirror_ops),
					 0);
			m->inserted = 1;
		} else if (rnd(&s) % 8 == 0) {
			ck_assert_int_eq(umn_interval_notifier_remove(&m->sub),
					 0);
			__atomic_store_n(&m->gone, 1, __ATOMIC_RELEASE);
			m->inserted = 0;
		} else {
			for (i = 0; i < 8; i++)
				mirror_fault(m, m->first + rnd(&s) % m->count);
			mirror_check(m);
		}
		bump(&ops_done);
	}
	return NULL;
}

START_TEST(everything_at_once)
{
	pthread_t t[5];
	struct timespec ts = { 1, 500 * 1000 * 1000 };
	struct counted *c;
	int i;

	toy_init(&toy, NPAGES, true);
	pthread_create(&t[0], NULL, invalidator, (void *)0x1234567UL);
	pthread_create(&t[1], NULL, invalidator, (void *)0x7654321UL);
	pthread_create(&t[2], NULL, registrar, (void *)0xabcdefUL);
	pthread_create(&t[3], NULL, mirror_thread, (void *)0UL);
	pthread_create(&t[4], NULL, mirror_thread, (void *)1UL);
	nanosleep(&ts, NULL);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (i = 0; i < 5; i++)
		pthread_join(t[i], NULL);

	ck_assert(umn__chain_is_valid(toy.mm));
	ck_assert(umn__intervals_are_valid(toy.mm));
	ck_assert_uint_eq(toy.mm->active, 0);
	for (i = 0; i < NMIRRORS; i++) {
		if (!mirrors[i].inserted)
			continue;
		mirror_check(&mirrors[i]);
		ck_assert_int_eq(umn_interval_notifier_remove(&mirrors[i].sub),
				 0);
	}
	for (i = 0; i < NNOTES; i++) {
		c = &notes[i];
		if (c->n.mm) {
			ck_assert_int_eq(umn_notifier_unregister(&c->n), 0);
			counted_free(&c->n);
		}
	}
	ck_assert_int_eq(errors_after_unregister, 0);
	ck_assert_int_eq(errors_unpaired, 0);
	ck_assert_int_eq(errors_stale, 0);
	ck_assert_int_gt(ops_done, 100);
	toy_destroy(&toy);
}
END_TEST

Suite *concurrency_suite(void)
{
	TCase *tc;
	Suite *s = one_case_suite("concurrency", 60, NULL, NULL, &tc);

	tcase_add_test(tc, everything_at_once);
	return s;
}
