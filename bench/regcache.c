// SPDX-License-Identifier: MIT
/*
 * bench/regcache.c - the registration cache (consumers/regcache.c) beside
 * libfabric's MR cache design, rebuilt here, over a soft mm.
 *
 *   hit		umn_regcache_lookup + umn_regcache_release of a
 *			cached registration, among N cached ones; on one
 *			thread, on two threads (each on its own
 *			registrations), and on two threads on the same
 *			registration (one shared use count: its cache line
 *			goes back and forth, whatever the design).  ns per
 *			operation of the whole: 1 / (sum of each thread's
 *			operations per ns).
 *   miss+register	register (pin 4 pages, publish) + release of a range
 *			not cached, N others cached.  The batch is unmapped,
 *			mapped and faulted again afterwards, untimed.
 *   invalidate		munmap of a range holding K one-page registrations,
 *			all idle: ns per registration invalidated (the
 *			munmap's time / K).  The unpin and free that follow
 *			(the next reap, the baseline's flush) are untimed.
 *			Beside it, "no-cache": the same munmap of the same
 *			pinned pages on an mm that no cache hears, also / K,
 *			the primary's own share.
 *
 * The baseline ("mutex-rbtree"), as libfabric's util MR cache
 * (prov/util/src/util_mr_cache.c): one global pthread mutex over a
 * red-black tree of entries keyed by range, each entry with a use count;
 * glibc's tsearch/tfind/tdelete are that red-black tree.  Entries never
 * overlap (the ranges here do not; libfabric merges overlapping ones), so
 * "overlaps" is "equal" to the tree, and tfind finds an overlapping entry
 * in O(log n).  It hears the mm as a libfabric memory monitor does: one
 * notifier over the whole address space, whose callback walks the tree
 * for the entries the range overlaps, under the mutex, takes them out and
 * puts the idle ones on a dead list that the next register flushes
 * (unpin, free).  Its pin is the same soft ops as the cache's; a
 * registration that collides with an invalidation (an mm-wide sequence,
 * as KVM's) pins again.
 */
#include <pthread.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>

#include <umn/interval.h>
#include <umn/regcache.h>
#include <umn/soft.h>

#include "bench.h"

#define PAGE	  UMN_PAGE_SIZE
#define REG_PAGES 4UL			   /* pages per cached registration */
#define POP_BASE  (1UL << 32)		   /* the N cached registrations */
#define MISS_BASE (POP_BASE + (1UL << 30)) /* miss+register's batch */
#define INV_BASE  (POP_BASE + (2UL << 30)) /* invalidate's range */
#define RW	  (UMN_SOFT_PROT_READ | UMN_SOFT_PROT_WRITE)

/* --- the baseline: one mutex over a red-black tree --- */

struct bent {
	unsigned long start, end; /* [start, end): the tree's key */
	bool write;
	bool in_tree;		/* under base.lock */
	unsigned long users;	/* under base.lock */
	struct bent *next_dead; /* on base.dead */
	struct umn_regcache_page pages[];
};

struct base {
	pthread_mutex_t lock; /* guards root, dead, seq, each entry */
	void *root;	      /* tsearch tree of struct bent * */
	struct bent *dead;    /* out of the tree, idle: the next flush's */
	unsigned long seq;    /* invalidations so far */
	struct umn_interval_notifier monitor; /* the whole address space */
	struct umn_regcache_soft *soft;
};

/* Overlapping ranges compare equal: the tree's entries never overlap. */
static int bent_cmp(const void *a, const void *b)
{
	const struct bent *x = a, *y = b;

	if (x->end <= y->start)
		return -1;
	return x->start >= y->end;
}

static bool base_invalidate(struct umn_interval_notifier *sub,
			    const struct umn_range *range, unsigned long seq)
{
	struct base *b =
		(struct base *)((char *)sub -
				__builtin_offsetof(struct base, monitor));
	struct bent key = { .start = range->start, .end = range->end };
	struct bent *e;
	void *p;

	pthread_mutex_lock(&b->lock);
	umn_interval_set_seq(sub, seq);
	b->seq++;
	while ((p = tfind(&key, &b->root, bent_cmp))) {
		e = *(struct bent **)p;
		tdelete(e, &b->root, bent_cmp);
		e->in_tree = false;
		if (!e->users) {
			e->next_dead = b->dead;
			b->dead = e;
		}
	}
	pthread_mutex_unlock(&b->lock);
	return true;
}

static const struct umn_interval_notifier_ops base_ops = {
	.name = "bench-mutex-rbtree",
	.invalidate = base_invalidate,
};

static void base_free(struct base *b, struct bent *e)
{
	umn_regcache_soft_ops.unpin(b->soft, (e->end - e->start) / PAGE,
				    e->pages);
	free(e);
}

static void base_init(struct base *b, struct umn_soft_mm *sm,
		      struct umn_regcache_soft *soft)
{
	*b = (struct base){ .lock = PTHREAD_MUTEX_INITIALIZER, .soft = soft };
	if (umn_interval_notifier_insert(&b->monitor, umn_soft_mm_umn(sm), 0,
					 UMN_SOFT_TASK_SIZE, &base_ops))
		bench_die("regcache", "baseline monitor");
}

/* Unpin and free the dead entries (libfabric: ofi_mr_cache_flush). */
static void base_flush(struct base *b)
{
	struct bent *e;

	pthread_mutex_lock(&b->lock);
	e = b->dead;
	b->dead = NULL;
	pthread_mutex_unlock(&b->lock);
	while (e) {
		struct bent *next = e->next_dead;

		base_free(b, e);
		e = next;
	}
}

static struct bent *base_lookup(struct base *b, unsigned long start,
				unsigned long len, bool write)
{
	struct bent key = { .start = start, .end = start + len }, *e = NULL;
	void *p;

	pthread_mutex_lock(&b->lock);
	p = tfind(&key, &b->root, bent_cmp);
	if (p) {
		e = *(struct bent **)p;
		if (e->start <= key.start && key.end <= e->end &&
		    (e->write || !write))
			e->users++;
		else
			e = NULL;
	}
	pthread_mutex_unlock(&b->lock);
	return e;
}

static void base_release(struct base *b, struct bent *e)
{
	bool last;

	pthread_mutex_lock(&b->lock);
	last = !--e->users && !e->in_tree;
	pthread_mutex_unlock(&b->lock);
	if (last)
		base_free(b, e);
}

static struct bent *base_register(struct base *b, unsigned long start,
				  unsigned long len, bool write)
{
	unsigned long n = len / PAGE, seq;
	struct bent *e;

	base_flush(b);
	e = base_lookup(b, start, len, write);
	if (e)
		return e;
	e = calloc(1, sizeof(*e) + n * sizeof(e->pages[0]));
	if (!e)
		bench_die("regcache", "calloc");
	*e = (struct bent){ start, start + len, write, true, 1, NULL };
	for (;;) {
		pthread_mutex_lock(&b->lock);
		seq = b->seq;
		pthread_mutex_unlock(&b->lock);
		if (umn_regcache_soft_ops.pin(b->soft, start, n, write,
					      e->pages))
			bench_die("regcache", "baseline pin");
		pthread_mutex_lock(&b->lock);
		if (b->seq == seq)
			break;
		pthread_mutex_unlock(&b->lock);
		umn_regcache_soft_ops.unpin(b->soft, n, e->pages);
	}
	if (*(struct bent **)tsearch(e, &b->root, bent_cmp) != e)
		bench_die("regcache", "baseline insert (an overlap)");
	pthread_mutex_unlock(&b->lock);
	return e;
}

static void base_destroy(struct base *b)
{
	struct bent *e;

	umn_interval_notifier_remove(&b->monitor);
	base_flush(b);
	while (b->root) {
		e = *(struct bent **)b->root;
		tdelete(e, &b->root, bent_cmp);
		base_free(b, e);
	}
}

/* --- the set-up: one soft mm per variant over one frame pool --- */

enum { UMN, BASE, NONE, VARIANTS };
static const char *const variant[VARIANTS] = { "umn", "mutex-rbtree",
					       "no-cache" };

struct side {
	struct umn_soft_mm *sm;
	struct umn_regcache_soft soft;
	struct umn_regcache *rc; /* UMN */
	struct base base;	 /* BASE */
};

static void map_fault(struct umn_soft_mm *sm, unsigned long addr,
		      unsigned long len)
{
	unsigned long a;

	if (umn_soft_mmap(sm, addr, len, RW, UMN_SOFT_MAP_FIXED, &a))
		bench_die("regcache", "umn_soft_mmap");
	for (a = addr; a < addr + len; a += PAGE)
		if (umn_soft_fault(sm, a, true))
			bench_die("regcache", "umn_soft_fault");
}

/* Register and release [addr, +len) in @s's cache (untimed). */
static void cache_one(struct side *s, int v, unsigned long addr,
		      unsigned long len)
{
	struct umn_regcache_handle *h;

	if (v == UMN) {
		if (umn_regcache_register(s->rc, addr, len, true, &h))
			bench_die("regcache", "umn_regcache_register");
		umn_regcache_release(h);
	} else {
		base_release(&s->base,
			     base_register(&s->base, addr, len, true));
	}
}

/* --- hit --- */

struct hitter {
	struct side *s;
	int v;
	unsigned long first, step, count; /* registrations it cycles over */
	pthread_barrier_t *go;
	double ns; /* in: how long to run; out: ns per op */
};

static void *hit_thread(void *arg)
{
	struct hitter *t = arg;
	struct umn_regcache_handle *h;
	unsigned long k = 0, addr;
	double t0, now;
	long ops = 0;

	pthread_barrier_wait(t->go);
	t0 = bench_now_ns();
	do {
		/* Batches of 256 between two readings of the clock. */
		for (int i = 0; i < 256; i++) {
			addr = POP_BASE +
			       (t->first + k * t->step) * REG_PAGES * PAGE;
			k = k + 1 == t->count ? 0 : k + 1;
			if (t->v == UMN) {
				if (umn_regcache_lookup(t->s->rc, addr,
							REG_PAGES * PAGE, true,
							&h))
					bench_die(
						"regcache",
						"umn_regcache_lookup (a miss)");
				umn_regcache_release(h);
			} else {
				struct bent *e =
					base_lookup(&t->s->base, addr,
						    REG_PAGES * PAGE, true);

				if (!e)
					bench_die("regcache",
						  "baseline lookup (a miss)");
				base_release(&t->s->base, e);
			}
		}
		ops += 256;
		now = bench_now_ns();
	} while (now - t0 < t->ns);
	t->ns = (now - t0) / (double)ops;
	return NULL;
}

enum { ONE, TWO, SAME, HITS };
/* No comma in a parameter: it is a CSV field. */
static const char *const hit_param[HITS] = { "threads=1", "threads=2",
					     "threads=2:same-reg" };

/* ns per op of @mode's threads together. */
static double run_hit(struct side *s, int v, int mode, unsigned long n,
		      double ns)
{
	int threads = mode == ONE ? 1 : 2;
	struct hitter t[2];
	pthread_barrier_t go;
	pthread_t id[2];
	double total = 0;

	if (pthread_barrier_init(&go, NULL, (unsigned int)threads))
		exit(1);
	for (int i = 0; i < threads; i++) {
		/* Each thread on its own registrations (at most 16),
		 * spread over the N; the same one for SAME. */
		unsigned long count = n / 2 < 16 ? n / 2 : 16;

		t[i] = (struct hitter){ s,	   v,	  (unsigned long)i,
					n / count, count, &go,
					ns };
		if (mode == SAME)
			t[i] = (struct hitter){ s, v, 0, 0, 1, &go, ns };
		if (pthread_create(&id[i], NULL, hit_thread, &t[i]))
			bench_die("regcache", "pthread_create");
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(id[i], NULL);
		total += 1.0 / t[i].ns;
	}
	pthread_barrier_destroy(&go);
	return 1.0 / total;
}

/* --- miss+register --- */

static double run_miss(struct side *s, int v, unsigned long batch)
{
	double t0, ns;

	t0 = bench_now_ns();
	for (unsigned long i = 0; i < batch; i++)
		cache_one(s, v, MISS_BASE + i * REG_PAGES * PAGE,
			  REG_PAGES * PAGE);
	ns = (bench_now_ns() - t0) / (double)batch;
	/* Untimed: drop the batch, map it again for the next run. */
	if (umn_soft_munmap(s->sm, MISS_BASE, batch * REG_PAGES * PAGE))
		bench_die("regcache", "umn_soft_munmap");
	if (v == UMN)
		umn_regcache_reap(s->rc);
	else
		base_flush(&s->base);
	map_fault(s->sm, MISS_BASE, batch * REG_PAGES * PAGE);
	return ns;
}

/* --- invalidate --- */

/* ns per registration of the munmap of @k pages holding @k one-page
 * registrations (for NONE: pinned by no cache), @reps times. */
static double run_invalidate(struct side *s, int v, unsigned long k, int reps)
{
	struct umn_regcache_page *pins = NULL;
	double t0, sum = 0;

	if (v == NONE && !(pins = calloc(k, sizeof(*pins))))
		bench_die("regcache", "calloc");
	for (int r = 0; r < reps; r++) {
		map_fault(s->sm, INV_BASE, k * PAGE);
		for (unsigned long i = 0; i < k; i++) {
			if (v == NONE) {
				if (umn_regcache_soft_ops.pin(
					    &s->soft, INV_BASE + i * PAGE, 1,
					    true, &pins[i]))
					bench_die("regcache", "pin");
			} else {
				cache_one(s, v, INV_BASE + i * PAGE, PAGE);
			}
		}
		t0 = bench_now_ns();
		if (umn_soft_munmap(s->sm, INV_BASE, k * PAGE))
			bench_die("regcache", "umn_soft_munmap");
		sum += bench_now_ns() - t0;
		if (v == UMN)
			umn_regcache_reap(s->rc);
		else if (v == BASE)
			base_flush(&s->base);
		else
			umn_regcache_soft_ops.unpin(&s->soft, k, pins);
	}
	free(pins);
	return sum / reps / (double)k;
}

static void sides_create(struct side *side, struct umn_soft_frames *frames,
			 unsigned long n, unsigned long batch)
{
	for (int v = 0; v < VARIANTS; v++) {
		struct side *s = &side[v];

		if (umn_soft_mm_create(frames, &s->sm))
			bench_die("regcache", "soft mm");
		s->soft = (struct umn_regcache_soft){ s->sm, frames };
		if (v == UMN && umn_regcache_create(umn_soft_mm_umn(s->sm),
						    &umn_regcache_soft_ops,
						    &s->soft, 0, &s->rc))
			bench_die("regcache", "umn_regcache_create");
		if (v == BASE)
			base_init(&s->base, s->sm, &s->soft);
		if (v == NONE)
			continue;
		map_fault(s->sm, POP_BASE, n * REG_PAGES * PAGE);
		map_fault(s->sm, MISS_BASE, batch * REG_PAGES * PAGE);
		for (unsigned long i = 0; i < n; i++)
			cache_one(s, v, POP_BASE + i * REG_PAGES * PAGE,
				  REG_PAGES * PAGE);
	}
}

static void sides_destroy(struct side *side)
{
	if (umn_regcache_destroy(side[UMN].rc))
		bench_die("regcache", "umn_regcache_destroy");
	base_destroy(&side[BASE].base);
	for (int v = 0; v < VARIANTS; v++)
		umn_soft_mm_destroy(side[v].sm);
}

void bench_regcache(void)
{
	const int runs = bench_quick ? 5 : 11;
	const unsigned long batch = bench_quick ? 128 : 512;
	const double hit_ns = bench_quick ? 30e6 : 200e6; /* per case */
	static const unsigned long ns[] = { 16, 1024 };	  /* cached */
	static const unsigned long ks[] = { 1, 16, 256 };
	double hit[HITS][2][11], miss[2][11], inv[3][VARIANTS][11];
	struct umn_soft_frames *frames;
	struct side side[VARIANTS];
	char param[48];

	if (umn_soft_frames_create(&(struct umn_soft_frames_config){ 0 },
				   &frames))
		bench_die("regcache", "frames");
	for (unsigned int c = 0; c < 2; c++) {
		unsigned long n = ns[c];

		sides_create(side, frames, n, batch);
		/* Interleaved: each run measures every variant, in a
		 * rotated order. */
		for (int r = 0; r < runs; r++) {
			for (int j = 0; j < 2; j++) {
				int v = (r + j) % 2;

				for (int m = 0; m < HITS; m++)
					hit[m][v][r] = run_hit(&side[v], v, m,
							       n, hit_ns);
				miss[v][r] = run_miss(&side[v], v, batch);
			}
		}
		for (int m = 0; m < HITS; m++)
			for (int v = 0; v < 2; v++) {
				snprintf(param, sizeof(param), "hit:%s:N=%lu",
					 hit_param[m], n);
				bench_report("regcache", variant[v], param,
					     "ns_per_op", hit[m][v], runs);
			}
		for (int v = 0; v < 2; v++) {
			snprintf(param, sizeof(param), "miss+register:N=%lu",
				 n);
			bench_report("regcache", variant[v], param, "ns_per_op",
				     miss[v], runs);
		}
		if (c == 0) {
			sides_destroy(side);
			continue;
		}
		/* Invalidations with the N = 1024 cached. */
		for (int r = 0; r < runs; r++)
			for (int j = 0; j < VARIANTS; j++) {
				int v = (r + j) % VARIANTS;

				for (unsigned int i = 0; i < 3; i++)
					inv[i][v][r] = run_invalidate(
						&side[v], v, ks[i],
						ks[i] == 256  ? 2
						: bench_quick ? 10
							      : 40);
			}
		for (unsigned int i = 0; i < 3; i++)
			for (int v = 0; v < VARIANTS; v++) {
				snprintf(param, sizeof(param),
					 "invalidate:K=%lu:N=%lu", ks[i], n);
				bench_report("regcache", variant[v], param,
					     "ns_per_reg", inv[i][v], runs);
			}
		sides_destroy(side);
	}
	if (umn_soft_frames_destroy(frames))
		bench_die("regcache", "umn_soft_frames_destroy");
}
