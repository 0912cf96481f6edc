// SPDX-License-Identifier: MIT
/*
 * tests/check_interval.c - interval notifiers against docs/CONTRACT.md,
 * rule 4 (collision-retry) and rule 5 (deferred insert and remove).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "../core/internal.h"
#include "harness.h"
#include "sleepcheck.h"

/* A minimal mirror: one shadow PTE per page of its interval. */
struct mirror {
	struct umn_interval_notifier sub;
	pthread_spinlock_t lock; /* the secondary's lock */
	unsigned long first, count;
	unsigned long shadow[64];
	int invalidations;
	bool refuse_nonblocking;
	bool skip_retry_check; /* a mutant: breaks contract 4 */
};

static struct toy toy;

static struct mirror *of_sub(struct umn_interval_notifier *sub)
{
	return container_of(sub, struct mirror, sub);
}

static bool mirror_invalidate(struct umn_interval_notifier *sub,
			      const struct umn_range *range,
			      unsigned long cur_seq)
{
	struct mirror *m = of_sub(sub);
	unsigned long p;

	if (!umn_range_blockable(range) && m->refuse_nonblocking)
		return false;
	pthread_spin_lock(&m->lock);
	umn_interval_set_seq(sub, cur_seq);
	for (p = 0; p < m->count; p++)
		if (PG(m->first + p) >= range->start &&
		    PG(m->first + p) < range->end)
			m->shadow[p] = 0;
	m->invalidations++;
	pthread_spin_unlock(&m->lock);
	return true;
}

static const struct umn_interval_notifier_ops mirror_ops = {
	.name = "mirror",
	.invalidate = mirror_invalidate,
};

static void mirror_insert(struct mirror *m, unsigned long first,
			  unsigned long count)
{
	memset(m, 0, sizeof(*m));
	pthread_spin_init(&m->lock, PTHREAD_PROCESS_PRIVATE);
	m->first = first;
	m->count = count;
	ck_assert_int_eq(umn_interval_notifier_insert(&m->sub, toy.mm,
						      PG(first), PG(count),
						      &mirror_ops),
			 0);
}

/* The fault side of contract 4.  Returns how many retries it took. */
static int mirror_fault(struct mirror *m, unsigned long page)
{
	unsigned long seq, frame;
	int retries = 0;

	for (;;) {
		seq = umn_interval_read_begin(&m->sub);
		frame = toy_lookup(&toy, page);
		pthread_spin_lock(&m->lock);
		if (!m->skip_retry_check &&
		    umn_interval_read_retry(&m->sub, seq)) {
			pthread_spin_unlock(&m->lock);
			retries++;
			continue;
		}
		m->shadow[page - m->first] = frame;
		pthread_spin_unlock(&m->lock);
		return retries;
	}
}

/* The coherence oracle: every shadow PTE is absent or the primary's. */
static int mirror_stale(struct mirror *m)
{
	unsigned long p;
	int stale = 0;

	pthread_mutex_lock(&toy.ptl);
	pthread_spin_lock(&m->lock);
	for (p = 0; p < m->count; p++)
		stale += m->shadow[p] &&
			 m->shadow[p] != toy_lookup(&toy, m->first + p);
	pthread_spin_unlock(&m->lock);
	pthread_mutex_unlock(&toy.ptl);
	return stale;
}

/*
 * No fast path: these tests open a bracket by hand, without the toy's mmap
 * lock, and insert the first interval inside it (lock_all would wait for
 * this very thread).
 */
static void setup(void)
{
	toy_init(&toy, 64, false);
}

START_TEST(read_retry_true_only_for_overlapping_invalidation)
{
	struct mirror m;
	unsigned long seq;

	mirror_insert(&m, 8, 8);
	seq = umn_interval_read_begin(&m.sub);
	ck_assert(!umn_interval_read_retry(&m.sub, seq));
	ck_assert_int_eq(toy_remap(&toy, 0, 8, UMN_RANGE_BLOCKABLE), 0);
	ck_assert_int_eq(toy_remap(&toy, 16, 4, UMN_RANGE_BLOCKABLE), 0);
	ck_assert(!umn_interval_read_retry(&m.sub, seq));
	ck_assert(!umn_interval_check_retry(&m.sub, seq));
	ck_assert_int_eq(m.invalidations, 0);
	ck_assert_int_eq(toy_remap(&toy, 15, 1, UMN_RANGE_BLOCKABLE), 0);
	ck_assert(umn_interval_read_retry(&m.sub, seq));
	ck_assert(umn_interval_check_retry(&m.sub, seq));
	ck_assert_int_eq(m.invalidations, 1);
	seq = umn_interval_read_begin(&m.sub);
	ck_assert(!umn_interval_read_retry(&m.sub, seq));
	ck_assert_int_eq(umn_interval_notifier_remove(&m.sub), 0);
	toy_destroy(&toy);
}
END_TEST

/* The race of contract 4, played step by step: the oracle catches the
 * mutant that skips read_retry, and the protocol passes. */
static void collide(struct mirror *m)
{
	unsigned long seq, frame;

	seq = umn_interval_read_begin(&m->sub);
	frame = toy_lookup(&toy, 9);
	ck_assert_int_eq(toy_remap(&toy, 9, 1, UMN_RANGE_BLOCKABLE), 0);
	pthread_spin_lock(&m->lock);
	if (m->skip_retry_check || !umn_interval_read_retry(&m->sub, seq))
		m->shadow[1] = frame;
	pthread_spin_unlock(&m->lock);
}

START_TEST(oracle_catches_a_fault_that_skips_read_retry)
{
	struct mirror m;

	mirror_insert(&m, 8, 8);
	ck_assert_int_eq(toy_remap(&toy, 8, 8, UMN_RANGE_BLOCKABLE), 0);
	collide(&m);
	ck_assert_int_eq(mirror_stale(&m), 0);
	m.skip_retry_check = true;
	collide(&m);
	ck_assert_int_eq(mirror_stale(&m), 1);
	ck_assert_int_eq(umn_interval_notifier_remove(&m.sub), 0);
	toy_destroy(&toy);
}
END_TEST

/* read_begin waits while its interval is being invalidated. */
struct waiter {
	struct mirror *m;
	unsigned long page;
	int done;
	struct sleepcheck_waiter sw;
};

static void *fault_thread(void *arg)
{
	struct waiter *w = arg;

	sleepcheck_watch_me(&w->sw);
	mirror_fault(w->m, w->page);
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* The thread of @w waits for the bracket's end (a bracket ends by a
 * broadcast on its mm's wait queue). */
static void expect_waiting(struct waiter *w)
{
	await_waiting(&w->sw, &w->done, "pthread_cond_wait");
}

START_TEST(read_begin_waits_for_end)
{
	struct umn_range range;
	struct mirror m;
	struct waiter w;
	pthread_t t;

	mirror_insert(&m, 8, 8);
	toy_open_bracket(&toy, &range, 10, 1, UMN_EVENT_UNMAP);
	/* The page table changes inside the bracket. */
	__atomic_store_n(&toy.pte[10], 777, __ATOMIC_RELEASE);
	w = (struct waiter){ .m = &m, .page = 10 };
	pthread_create(&t, NULL, fault_thread, &w);
	expect_waiting(&w);
	umn_invalidate_range_end(&range);
	pthread_join(t, NULL);
	ck_assert_uint_eq(m.shadow[2], 777);
	ck_assert_int_eq(mirror_stale(&m), 0);
	ck_assert_int_eq(umn_interval_notifier_remove(&m.sub), 0);
	toy_destroy(&toy);
}
END_TEST

/*
 * Contract 5: an insert during an invalidation takes effect when the last
 * active invalidation ends, and the new interval's read_begin waits until
 * then (it did not hear that invalidation).
 */
START_TEST(insert_during_invalidation_is_deferred)
{
	struct umn_range range;
	struct mirror a, b;
	struct waiter w;
	pthread_t t;

	mirror_insert(&a, 0, 4);
	/* Hits a: the seq is odd. */
	toy_open_bracket(&toy, &range, 0, 16, UMN_EVENT_UNMAP);
	mirror_insert(&b, 8, 4);
	ck_assert_uint_eq(b.sub._state, UMN__INTERVAL_INSERTING);
	ck_assert(umn__itree_empty(&toy.mm->itree) == false);
	ck_assert(umn__intervals_are_valid(toy.mm));
	w = (struct waiter){ .m = &b, .page = 9 };
	pthread_create(&t, NULL, fault_thread, &w);
	expect_waiting(&w);
	umn_invalidate_range_end(&range);
	pthread_join(t, NULL);
	ck_assert_uint_eq(b.sub._state, UMN__INTERVAL_IN_TREE);
	ck_assert_int_eq(b.invalidations, 0);
	ck_assert_int_eq(toy_remap(&toy, 8, 1, UMN_RANGE_BLOCKABLE), 0);
	ck_assert_int_eq(b.invalidations, 1);
	ck_assert(umn__intervals_are_valid(toy.mm));
	ck_assert_int_eq(umn_interval_notifier_remove(&a.sub), 0);
	ck_assert_int_eq(umn_interval_notifier_remove(&b.sub), 0);
	toy_destroy(&toy);
}
END_TEST

/* Same, when the active invalidation overlapped no interval. */
START_TEST(insert_during_quiet_invalidation_waits_too)
{
	struct umn_range range;
	struct mirror b;
	struct waiter w;
	pthread_t t;

	/* No interval yet: seq stays even. */
	toy_open_bracket(&toy, &range, 8, 4, UMN_EVENT_UNMAP);
	ck_assert_uint_eq(toy.mm->invalidate_seq & 1, 0);
	mirror_insert(&b, 8, 4);
	ck_assert_uint_eq(b.sub._state, UMN__INTERVAL_IN_TREE);
	w = (struct waiter){ .m = &b, .page = 9 };
	pthread_create(&t, NULL, fault_thread, &w);
	expect_waiting(&w);
	umn_invalidate_range_end(&range);
	pthread_join(t, NULL);
	ck_assert_int_eq(umn_interval_notifier_remove(&b.sub), 0);
	toy_destroy(&toy);
}
END_TEST

/* Contract 5: remove during an invalidation waits for its end; after it
 * returns no ->invalidate of it runs. */
static void *remove_thread(void *arg)
{
	struct waiter *w = arg;

	sleepcheck_watch_me(&w->sw);
	ck_assert_int_eq(umn_interval_notifier_remove(&w->m->sub), 0);
	__atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

START_TEST(remove_during_invalidation_waits_for_end)
{
	struct umn_range range;
	struct mirror a;
	struct waiter w;
	pthread_t t;

	mirror_insert(&a, 0, 4);
	toy_open_bracket(&toy, &range, 0, 4, UMN_EVENT_UNMAP);
	w = (struct waiter){ .m = &a, .page = 0 };
	pthread_create(&t, NULL, remove_thread, &w);
	expect_waiting(&w);
	ck_assert(umn__intervals_are_valid(toy.mm));
	umn_invalidate_range_end(&range);
	pthread_join(t, NULL);
	ck_assert(umn__itree_empty(&toy.mm->itree));
	ck_assert_int_eq(toy_remap(&toy, 0, 4, UMN_RANGE_BLOCKABLE), 0);
	ck_assert_int_eq(a.invalidations, 1);
	toy_destroy(&toy);
}
END_TEST

START_TEST(remove_of_a_deferred_insert_is_immediate)
{
	struct umn_range range;
	struct mirror a, b;
	struct waiter w;
	pthread_t t;

	mirror_insert(&a, 0, 4);
	toy_open_bracket(&toy, &range, 0, 4, UMN_EVENT_UNMAP);
	mirror_insert(&b, 8, 4);
	/* Another thread: this one is inside the bracket (refused). */
	ck_assert_int_eq(umn_interval_notifier_remove(&b.sub), -EDEADLK);
	w = (struct waiter){ .m = &b, .page = 0 };
	pthread_create(&t, NULL, remove_thread, &w);
	pthread_join(t, NULL);
	ck_assert_int_eq(w.done, 1);
	ck_assert_ptr_null(toy.mm->deferred);
	umn_invalidate_range_end(&range);
	ck_assert(umn__intervals_are_valid(toy.mm));
	ck_assert_int_eq(umn_interval_notifier_remove(&a.sub), 0);
	ck_assert(umn__itree_empty(&toy.mm->itree));
	toy_destroy(&toy);
}
END_TEST

/* The primary's own thread, inside a bracket that is invalidating the
 * interval, cannot wait for that bracket (the reviewer's M4). */
START_TEST(remove_inside_own_bracket_is_refused)
{
	struct umn_range range;
	struct mirror a;

	mirror_insert(&a, 0, 4);
	toy_open_bracket(&toy, &range, 0, 4, UMN_EVENT_UNMAP);
	ck_assert_int_eq(umn_interval_notifier_remove(&a.sub), -EDEADLK);
	ck_assert_uint_eq(a.sub._state, UMN__INTERVAL_IN_TREE);
	umn_invalidate_range_end(&range);
	ck_assert_int_eq(umn_interval_notifier_remove(&a.sub), 0);
	toy_destroy(&toy);
}
END_TEST

/* A non-blockable range an interval cannot serve: -EAGAIN, nothing left
 * active, and the classic notifiers are not called. */
START_TEST(interval_refuses_nonblocking_range)
{
	struct recorder rec;
	struct rec_notifier r;
	struct mirror a;

	rec_init(&rec);
	memset(&r, 0, sizeof(r));
	r.id = 1;
	r.rec = &rec;
	ck_assert_int_eq(umn_notifier_register(&r.n, &rec_ops, toy.mm), 0);
	mirror_insert(&a, 0, 4);
	a.refuse_nonblocking = true;
	ck_assert_int_eq(toy_remap(&toy, 0, 1, 0), -EAGAIN);
	ck_assert_str_eq(rec_string(&rec), "");
	ck_assert_uint_eq(toy.mm->active, 0);
	ck_assert_uint_eq(toy.mm->invalidate_seq & 1, 0);
	ck_assert_int_eq(toy_remap(&toy, 0, 1, UMN_RANGE_BLOCKABLE), 0);
	ck_assert_str_eq(rec_string(&rec), "S1I1E1");
	ck_assert_int_eq(umn_interval_notifier_remove(&a.sub), 0);
	ck_assert_int_eq(umn_notifier_unregister(&r.n), 0);
	toy_destroy(&toy);
}
END_TEST

/*
 * read_begin on an interval not being invalidated takes no lock and writes
 * nothing shared: with the mm's lock held by this very thread it returns
 * (it would deadlock otherwise), and the mm and the interval are unchanged
 * byte for byte.
 */
START_TEST(read_begin_fast_path_takes_no_lock_writes_nothing)
{
	struct umn_interval_notifier before_sub;
	struct umn_mm before_mm;
	struct mirror a;
	unsigned long seq;

	mirror_insert(&a, 0, 4);
	ck_assert_int_eq(toy_remap(&toy, 0, 4, UMN_RANGE_BLOCKABLE), 0);
	pthread_mutex_lock(&toy.mm->lock);
	memcpy(&before_mm, toy.mm, sizeof(before_mm));
	memcpy(&before_sub, &a.sub, sizeof(before_sub));
	seq = umn_interval_read_begin(&a.sub);
	ck_assert(!umn_interval_read_retry(&a.sub, seq));
	ck_assert_int_eq(memcmp(&before_mm, toy.mm, sizeof(before_mm)), 0);
	ck_assert_int_eq(memcmp(&before_sub, &a.sub, sizeof(before_sub)), 0);
	pthread_mutex_unlock(&toy.mm->lock);
	ck_assert_int_eq(umn_interval_notifier_remove(&a.sub), 0);
	toy_destroy(&toy);
}
END_TEST

/*
 * A bracket whose range no interval overlaps takes no lock (the lock-free
 * filter of core/interval.c), even with intervals elsewhere; one that
 * overlaps does, which shows the count can fail.
 */
static unsigned long locks_of_bracket(unsigned long start, unsigned long end)
{
	unsigned long before = sleepcheck_mutex_locks, locks;
	struct umn_range range;
	int ret;

	/* No ck_assert in between: Check takes a lock to record one. */
	umn_range_init(&range, toy.mm, start, end, UMN_EVENT_UNMAP,
		       UMN_RANGE_BLOCKABLE, NULL);
	ret = umn_invalidate_range_start(&range);
	if (!ret)
		umn_invalidate_range_end(&range);
	locks = sleepcheck_mutex_locks - before;
	ck_assert_int_eq(ret, 0);
	return locks;
}

START_TEST(start_without_overlap_takes_no_lock)
{
	struct mirror a, b;

	mirror_insert(&a, 0, 4);
	mirror_insert(&b, 1 << 20, 4); /* 4 GiB up: a wide gap between */
	ck_assert_uint_eq(locks_of_bracket(PG(4096), PG(4100)), 0);
	ck_assert_uint_eq(locks_of_bracket(PG(1 << 18), PG(1 << 19)), 0);
	ck_assert_uint_gt(locks_of_bracket(PG(2), PG(3)), 0);
	ck_assert_uint_gt(locks_of_bracket(PG(4096), PG((1 << 20) + 1)), 0);
	ck_assert_int_eq(a.invalidations, 1);
	ck_assert_int_eq(b.invalidations, 1);
	ck_assert(umn__intervals_are_valid(toy.mm));
	ck_assert_int_eq(umn_interval_notifier_remove(&a.sub), 0);
	ck_assert_int_eq(umn_interval_notifier_remove(&b.sub), 0);
	ck_assert_uint_eq(locks_of_bracket(PG(0), PG(4)), 0);
	toy_destroy(&toy);
}
END_TEST

/* The whole address space, and an interval at the very top. */
START_TEST(interval_at_the_top_of_the_address_space)
{
	struct umn_interval_notifier top;
	struct mirror a;

	memset(&top, 0, sizeof(top));
	mirror_insert(&a, 0, 1);
	ck_assert_int_eq(umn_interval_notifier_insert(&top, toy.mm,
						      ~0UL - PG(1) + 1, PG(1),
						      &mirror_ops),
			 0);
	ck_assert_uint_eq(umn_interval_notifier_end(&top), 0);
	ck_assert_uint_eq(umn_interval_notifier_start(&top), ~0UL - PG(1) + 1);
	ck_assert_int_eq(umn_interval_notifier_remove(&top), 0);
	ck_assert_int_eq(umn_interval_notifier_remove(&a.sub), 0);
	toy_destroy(&toy);
}
END_TEST

Suite *interval_suite(void)
{
	TCase *tc;
	Suite *s = one_case_suite("interval", 30, setup, NULL, &tc);

	tcase_add_test(tc, read_retry_true_only_for_overlapping_invalidation);
	tcase_add_test(tc, oracle_catches_a_fault_that_skips_read_retry);
	tcase_add_test(tc, read_begin_waits_for_end);
	tcase_add_test(tc, insert_during_invalidation_is_deferred);
	tcase_add_test(tc, insert_during_quiet_invalidation_waits_too);
	tcase_add_test(tc, remove_during_invalidation_waits_for_end);
	tcase_add_test(tc, remove_of_a_deferred_insert_is_immediate);
	tcase_add_test(tc, remove_inside_own_bracket_is_refused);
	tcase_add_test(tc, interval_refuses_nonblocking_range);
	tcase_add_test(tc, read_begin_fast_path_takes_no_lock_writes_nothing);
	tcase_add_test(tc, interval_at_the_top_of_the_address_space);
	tcase_add_test(tc, start_without_overlap_takes_no_lock);
	return s;
}
