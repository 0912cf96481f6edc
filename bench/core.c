// SPDX-License-Identifier: MIT
/*
 * bench/core.c - the core's benchmarks: nohit, dispatch and readside.
 *
 *   nohit	start+end on an mm with no notifier, and with 1e5 intervals
 *		none of which overlaps; baseline: an empty out-of-line call.
 *   dispatch	start+end on an mm with N interval notifiers, the range
 *		hitting 0, 1 or 16; baseline: a linear list of notifiers that
 *		each filter the range (Linux before 5.5).
 *   readside	read_begin + read_retry, uncontended, on 1 and 2 threads;
 *		baseline: Linux's design, read_begin under the mm's
 *		spinlock (pthread_spin_lock here).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <umn/interval.h>
#include <umn/mm.h>
#include <umn/soft.h>

#include "bench.h"

#define PAGE UMN_PAGE_SIZE

/* --- nohit and dispatch --- */

static bool sink_invalidate(struct umn_interval_notifier *sub,
			    const struct umn_range *range, unsigned long seq)
{
	(void)range;
	umn_interval_set_seq(sub, seq);
	return true;
}

const struct umn_interval_notifier_ops bench_sink_ops = {
	.name = "bench",
	.invalidate = sink_invalidate,
};

__attribute__((noinline)) static void empty_call(unsigned long start)
{
	__asm__ volatile("" : : "r"(start) : "memory");
}

double bench_time_brackets(struct umn_mm *mm, unsigned long start,
			   unsigned long len, long iters)
{
	struct umn_range range;
	double t0 = bench_now_ns();

	for (long i = 0; i < iters; i++) {
		umn_range_init(&range, mm, start, start + len, UMN_EVENT_UNMAP,
			       UMN_RANGE_BLOCKABLE, NULL);
		umn_invalidate_range_start(&range);
		umn_invalidate_range_end(&range);
	}
	return (bench_now_ns() - t0) / (double)iters;
}

static double time_empty(long iters)
{
	double t0 = bench_now_ns();

	for (long i = 0; i < iters; i++)
		empty_call((unsigned long)i);
	return (bench_now_ns() - t0) / (double)iters;
}

/* The baseline of dispatch: every notifier filters the range itself. */
struct list_notifier {
	struct list_notifier *next;
	unsigned long start, last, seq;
};

static double time_list(struct list_notifier *head, unsigned long start,
			unsigned long len, long iters)
{
	double t0 = bench_now_ns();

	for (long i = 0; i < iters; i++)
		for (struct list_notifier *n = head; n; n = n->next)
			if (n->start < start + len && start <= n->last)
				__atomic_store_n(&n->seq, n->seq + 2,
						 __ATOMIC_RELAXED);
	return (bench_now_ns() - t0) / (double)iters;
}

/* N intervals of one page, 16 pages apart, from 1 GiB. */
/*
 * @n one-page intervals 64 KiB apart from 1 GiB.  @scattered: the i-th
 * lowest interval is placed at a scattered slot of the array, as separate
 * allocations would be; else at slot i, which lays a tree path's nodes at
 * power-of-two strides (see docs/PERFORMANCE.md, dispatch).
 */
static struct umn_interval_notifier *insert_many(struct umn_mm *mm, long n,
						 struct list_notifier **list,
						 bool scattered)
{
	struct umn_interval_notifier *subs = calloc((size_t)n, sizeof(*subs));
	struct list_notifier *l = list ? calloc((size_t)n, sizeof(*l)) : NULL;

	for (long i = 0; i < n; i++) {
		long k = scattered ? (long)((unsigned long)i * 2654435761UL %
					    (unsigned long)n)
				   : i;
		unsigned long a = (1UL << 30) + (unsigned long)i * 16 * PAGE;

		if (umn_interval_notifier_insert(&subs[k], mm, a, PAGE,
						 &bench_sink_ops)) {
			fprintf(stderr, "umn-bench: insert failed\n");
			exit(1);
		}
		if (l) {
			l[i] = (struct list_notifier){ i ? &l[i - 1] : NULL, a,
						       a + PAGE - 1, 0 };
			*list = &l[i];
		}
	}
	return subs;
}

static void remove_many(struct umn_interval_notifier *subs, long n)
{
	for (long i = 0; i < n; i++)
		umn_interval_notifier_remove(&subs[i]);
	free(subs);
}

void bench_nohit(void)
{
	const int runs = bench_quick ? 5 : 11;
	const long iters = bench_quick ? 200000 : 2000000, n = 100000;
	double a[11], b[11], c[11];
	struct umn_soft_frames *frames;
	struct umn_interval_notifier *subs;
	struct umn_soft_mm *sm;
	struct umn_mm *mm;

	/* A primary with lock_all (the soft MMU): its fast path is on until
	 * the first notifier arrives. */
	if (umn_soft_frames_create(&(struct umn_soft_frames_config){ 0 },
				   &frames) ||
	    umn_soft_mm_create(frames, &sm))
		exit(1);
	mm = umn_soft_mm_umn(sm);
	for (int r = 0; r < runs; r++) {
		a[r] = time_empty(iters);
		b[r] = bench_time_brackets(mm, 1UL << 40, PAGE, iters);
	}
	bench_report("nohit", "empty-call", "0-intervals", "ns_per_op", a,
		     runs);
	bench_report("nohit", "umn", "0-intervals", "ns_per_op", b, runs);
	/* 1e5 one-page intervals 64 KiB apart from 1 GiB; the range far
	 * from them (1 TiB), then in a gap between two of them, where the
	 * lock-free filter's fine level is full and the tree decides. */
	subs = insert_many(mm, n, NULL, true);
	for (int r = 0; r < runs; r++) {
		a[r] = time_empty(iters);
		b[r] = bench_time_brackets(mm, 1UL << 40, PAGE, iters);
		c[r] = bench_time_brackets(mm, (1UL << 30) + 8 * PAGE, PAGE,
					   iters);
	}
	bench_report("nohit", "empty-call", "1e5-intervals", "ns_per_op", a,
		     runs);
	bench_report("nohit", "umn", "1e5-intervals", "ns_per_op", b, runs);
	bench_report("nohit", "umn", "1e5-intervals-gap", "ns_per_op", c, runs);
	remove_many(subs, n);
	umn_soft_mm_destroy(sm);
	umn_soft_frames_destroy(frames);
}

void bench_dispatch(void)
{
	static const long sizes[] = { 10, 100, 1000, 10000, 100000, 1000000 };
	static const int hits[] = { 0, 1, 16 };
	const int runs = bench_quick ? 3 : 7;
	double u[7], l[7], a[7];
	char param[32];

	for (unsigned int s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		long n = sizes[s];
		long iters = n >= 100000 ? (bench_quick ? 200 : 2000) : 100000;
		struct list_notifier *list = NULL;
		struct umn_interval_notifier *subs, *arr;
		struct umn_mm *mm, *mm_arr;

		if (bench_quick && n > 100000)
			continue;
		if (umn_mm_create(NULL, NULL, &mm) ||
		    umn_mm_create(NULL, NULL, &mm_arr))
			exit(1);
		subs = insert_many(mm, n, &list, true);
		arr = insert_many(mm_arr, n, NULL, false);
		for (unsigned int h = 0; h < 3; h++) {
			/* hits[h] intervals: 16 pages apart from 1 GiB;
			 * no hit: far below. */
			unsigned long start = hits[h] ? 1UL << 30 : 1UL << 29;
			unsigned long len =
				hits[h] ? (unsigned long)hits[h] * 16 * PAGE
					: PAGE;

			if (n < hits[h])
				continue;
			for (int r = 0; r < runs; r++) {
				u[r] = bench_time_brackets(mm, start, len,
							   iters);
				a[r] = bench_time_brackets(mm_arr, start, len,
							   iters);
				l[r] = time_list(list, start, len,
						 n >= 100000 ? iters / 10 + 1
							     : iters);
			}
			snprintf(param, sizeof(param), "N=%ld:hit=%d", n,
				 hits[h]);
			bench_report("dispatch", "umn", param, "ns_per_op", u,
				     runs);
			bench_report("dispatch", "umn-array-layout", param,
				     "ns_per_op", a, runs);
			bench_report("dispatch", "linear-list", param,
				     "ns_per_op", l, runs);
		}
		remove_many(subs, n);
		remove_many(arr, n);
		free(list ? list - (n - 1) : NULL);
		umn_mm_put(mm);
		umn_mm_put(mm_arr);
	}
}

/* --- readside --- */

struct reader {
	struct umn_interval_notifier *sub;
	pthread_spinlock_t *lock; /* Linux's design: read_begin under it */
	unsigned long *seq;
	long iters;
	double ns;
};

static void *read_umn(void *arg)
{
	struct reader *r = arg;
	unsigned long bad = 0;
	double t0 = bench_now_ns();

	for (long i = 0; i < r->iters; i++) {
		unsigned long seq = umn_interval_read_begin(r->sub);

		bad += umn_interval_read_retry(r->sub, seq);
	}
	r->ns = (bench_now_ns() - t0) / (double)r->iters;
	return (void *)bad;
}

static void *read_locked(void *arg)
{
	struct reader *r = arg;
	unsigned long bad = 0;
	double t0 = bench_now_ns();

	for (long i = 0; i < r->iters; i++) {
		unsigned long seq;

		/* mmu_interval_read_begin(): the interval's seq, and whether
		 * the mm is invalidating it, under the mm's spinlock. */
		pthread_spin_lock(r->lock);
		seq = *r->seq;
		bad += seq & 1;
		pthread_spin_unlock(r->lock);
		bad += __atomic_load_n(r->seq, __ATOMIC_ACQUIRE) != seq;
	}
	r->ns = (bench_now_ns() - t0) / (double)r->iters;
	return (void *)bad;
}

/* Operations per ns of @threads readers together, as ns per op. */
static double run_readers(void *(*fn)(void *), struct reader *rs, int threads)
{
	pthread_t t[2];
	double total = 0;

	for (int i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, fn, &rs[i]);
	for (int i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		total += 1.0 / rs[i].ns;
	}
	return 1.0 / total; /* ns per op of the whole */
}

void bench_readside(void)
{
	const int runs = bench_quick ? 5 : 11;
	const long iters = bench_quick ? 2000000 : 20000000;
	struct umn_interval_notifier subs[2] = { 0 };
	pthread_spinlock_t lock;
	unsigned long seq = 2;
	double v[4][11];
	struct umn_mm *mm;

	if (umn_mm_create(NULL, NULL, &mm) ||
	    pthread_spin_init(&lock, PTHREAD_PROCESS_PRIVATE))
		exit(1);
	for (int i = 0; i < 2; i++)
		umn_interval_notifier_insert(&subs[i], mm,
					     (1UL << 30) + (unsigned long)i *
								   (1UL << 30),
					     PAGE, &bench_sink_ops);
	for (int r = 0; r < runs; r++) {
		struct reader rs[2] = { { &subs[0], &lock, &seq, iters, 0 },
					{ &subs[1], &lock, &seq, iters, 0 } };

		v[0][r] = run_readers(read_umn, rs, 1);
		v[1][r] = run_readers(read_locked, rs, 1);
		v[2][r] = run_readers(read_umn, rs, 2);
		v[3][r] = run_readers(read_locked, rs, 2);
	}
	bench_report("readside", "umn", "threads=1", "ns_per_op", v[0], runs);
	bench_report("readside", "linux-design", "threads=1", "ns_per_op", v[1],
		     runs);
	bench_report("readside", "umn", "threads=2", "ns_per_op", v[2], runs);
	bench_report("readside", "linux-design", "threads=2", "ns_per_op", v[3],
		     runs);
	for (int i = 0; i < 2; i++)
		umn_interval_notifier_remove(&subs[i]);
	umn_mm_put(mm);
	pthread_spin_destroy(&lock);
}
