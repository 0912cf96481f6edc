// SPDX-License-Identifier: MIT
/*
 * tests/proc/regcache_stress.c - threads allocate (malloc and mmap),
 * register, look up, change and free buffers of random sizes while a
 * churner unmaps its own memory and maps into the holes the others left;
 * every handle a lookup or a register returns is checked against pagemap.
 *
 * What makes a difference unambiguous (a stale registration, not a race):
 *  - each thread looks up only memory it owns now, and checks only those
 *    pages, even when the handle covers more;
 *  - no thread changes memory that another owns: the churner maps into
 *    holes with MAP_FIXED_NOREPLACE (never over a mapping), replaces only
 *    its own mappings, and the allocators give back only free pages;
 *  - the comparison reads pagemap after the lookup, with the handle held,
 *    and the pin holds a reference on every page (regcache_pin.c): a
 *    registered frame can be neither freed nor reused, so a frame that
 *    differs is one the kernel no longer maps there;
 *  - the thread that changes a buffer is the one that looks it up next:
 *    with a source that runs start before the kernel acts (the hooks),
 *    the registration is invalid before the change returns.
 * With userfaultfd alone, the event of a change reaches umn after the
 * kernel acted; a lookup that the owner makes before the monitor thread
 * dispatched it may hit the old registration.  That window is measured
 * and printed, not failed.  With the sources switched off (break-stop),
 * the oracle must find stale hits.
 *
 * The cache is replaced (under a rwlock the workers read-hold around each
 * step) when it holds too many registrations: freed small blocks stay
 * mapped, and their registrations stay valid and cached.
 *
 * With --cache ucx, the same workload goes through UCX's rcache instead
 * (ucx_rcache.c), which hears the process through UCM's hooks: a lookup
 * and a register are both ucs_rcache_get(), which registers on a miss, and
 * every region it returns is checked the same way.  UCM tells the rcache
 * once, before the kernel acts; when the rcache's lock is busy (another
 * thread is in a get) the range is queued until the next miss, and a hit
 * before then returns the old region.  Its stale hits are measured and
 * printed, not failed.  It holds at most LIVE_MAX regions (it evicts idle
 * ones), so it is never replaced.
 */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "regcache_test.h"
#include "ucx_rcache.h"

#define SLOTS	  8    /* buffers per thread */
#define MAX_PAGES 32   /* largest mapped buffer */
#define HOLES	  64   /* recently unmapped ranges */
#define LIVE_MAX  1024 /* registrations before the cache is replaced */
#define REPORTS	  8    /* stale hits described in full */

enum kind { EMPTY, MAPPED, MALLOCED };

struct buf {
	enum kind kind;
	unsigned long addr, len; /* the bytes owned, checked */
	void *mem;		 /* MALLOCED: what to free */
	const char *last;	 /* the last change, for the report */
};

struct worker {
	pthread_t thread;
	int id;
	bool churner;
	unsigned int seed;
	struct buf buf[SLOTS];
	unsigned long steps, lookups, hits, registers, checked, stale_hits,
		stale_pages, errors;
};

static struct {
	pthread_rwlock_t lock;	 /* read: using rc; write: replacing it;
				    writers first (a replacement must not
				    starve) */
	struct umn_regcache *rc; /* under lock */
	pthread_mutex_t holes_lock;
	unsigned long holes[HOLES][2]; /* [addr, len); under holes_lock */
	unsigned int nholes;
	int stop;
	int reports;
	bool use_malloc;
	unsigned long recycles;
} S = {
	.lock = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP,
	.holes_lock = PTHREAD_MUTEX_INITIALIZER,
};

static unsigned int rnd(struct worker *w, unsigned int n)
{
	return (unsigned int)rand_r(&w->seed) % n;
}

static void push_hole(unsigned long addr, unsigned long len)
{
	pthread_mutex_lock(&S.holes_lock);
	S.holes[S.nholes % HOLES][0] = addr;
	S.holes[S.nholes % HOLES][1] = len;
	S.nholes++;
	pthread_mutex_unlock(&S.holes_lock);
}

static bool pop_hole(struct worker *w, unsigned long *addr, unsigned long *len)
{
	unsigned int i;
	bool ok;

	pthread_mutex_lock(&S.holes_lock);
	ok = S.nholes > 0;
	if (ok) {
		i = (S.nholes - 1 -
		     rnd(w, S.nholes < HOLES ? S.nholes : HOLES)) %
		    HOLES;
		*addr = S.holes[i][0];
		*len = S.holes[i][1];
	}
	pthread_mutex_unlock(&S.holes_lock);
	return ok;
}

#if TSAN
/* TSan's dynamic annotations (libtsan exports them). */
void AnnotateIgnoreWritesBegin(const char *file, int line);
void AnnotateIgnoreWritesEnd(const char *file, int line);
#endif

/*
 * Each buffer has one owner, but its address was another thread's buffer
 * before an munmap and an mmap: TSan sees no order through the kernel and
 * would call the first write a race.
 */
static void fill(struct buf *b, int byte)
{
#if TSAN
	AnnotateIgnoreWritesBegin(__FILE__, __LINE__);
#endif
	memset((void *)b->addr, byte, b->len);
#if TSAN
	AnnotateIgnoreWritesEnd(__FILE__, __LINE__);
#endif
}

static void report(struct worker *w, struct buf *b,
		   const struct umn_regcache_handle *h, const char *how)
{
	unsigned long a, now = 0;

	if (__atomic_fetch_add(&S.reports, 1, __ATOMIC_RELAXED) >= REPORTS)
		return;
	for (a = b->addr & ~(PAGE - 1); a < b->addr + b->len; a += PAGE) {
		now = pfn_now(a);
		if (h->pages[(a - h->addr) / PAGE].frame != now)
			break;
	}
	if (a >= b->addr + b->len)
		a = b->addr & ~(PAGE - 1);
	printf("stale %s: thread %d, %s buffer [%#lx, +%#lx) after %s: "
	       "registration [%#lx, +%#lx) holds frame %#lx at %#lx, the "
	       "kernel maps %#lx\n",
	       how, w->id, b->kind == MAPPED ? "mapped" : "malloc'd", b->addr,
	       b->len, b->last, h->addr, h->len,
	       h->pages[(a - h->addr) / PAGE].frame, a, now);
}

/* Check a handle that a lookup or a register just returned. */
static void check_handle(struct worker *w, struct buf *b,
			 const struct umn_regcache_handle *h, const char *how)
{
	unsigned long n = stale_pages(h, b->addr, b->len);

	w->checked++;
	if (!n)
		return;
	w->stale_hits++;
	w->stale_pages += n;
	report(w, b, h, how);
}

/* UCX: a get, which registers on a miss; check what it returns. */
static void ucx_step(struct worker *w, struct buf *b, bool lookup)
{
	const struct umn_regcache_handle *h;
	bool hit;

	if (lookup)
		w->lookups++;
	else
		w->registers++;
	if (ucx_rcache_get(b->addr, b->len, &h, &hit)) {
		if (!w->errors++)
			printf("thread %d: ucs_rcache_get [%#lx, +%#lx) "
			       "failed\n",
			       w->id, b->addr, b->len);
		return;
	}
	if (lookup && hit)
		w->hits++;
	check_handle(w, b, h, hit ? "lookup hit" : "register");
	ucx_rcache_put(h);
}

static void do_lookup(struct worker *w, struct buf *b)
{
	struct umn_regcache_handle *h;

	if (stress_ucx) {
		ucx_step(w, b, true);
		return;
	}
	w->lookups++;
	if (umn_regcache_lookup(S.rc, b->addr, b->len, true, &h))
		return;
	w->hits++;
	check_handle(w, b, h, "lookup hit");
	umn_regcache_release(h);
}

static void do_register(struct worker *w, struct buf *b)
{
	struct umn_regcache_handle *h;
	int ret;

	if (stress_ucx) {
		ucx_step(w, b, false);
		return;
	}
	w->registers++;
	ret = umn_regcache_register(S.rc, b->addr, b->len, true, &h);
	if (ret) {
		if (!w->errors++)
			printf("thread %d: register [%#lx, +%#lx): %s\n", w->id,
			       b->addr, b->len, strerror(-ret));
		return;
	}
	check_handle(w, b, h, "register");
	umn_regcache_release(h);
}

static bool map_buf(struct worker *w, struct buf *b, unsigned long len,
		    bool into_hole)
{
	unsigned long hole = 0, hole_len;
	void *p = MAP_FAILED;

	/* Into a hole another thread left, never over a mapping. */
	if (into_hole && pop_hole(w, &hole, &hole_len)) {
		if (len > hole_len)
			len = hole_len;
		p = mmap((void *)hole, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1,
			 0);
		if (p != MAP_FAILED && p != (void *)hole) {
			munmap(p, len); /* a kernel without NOREPLACE */
			p = MAP_FAILED;
		}
	}
	if (p == MAP_FAILED)
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return false;
	b->kind = MAPPED;
	b->addr = (unsigned long)p;
	b->len = len;
	b->last = p == (void *)hole ? "mmap into a hole" : "mmap";
	return true;
}

static bool malloc_buf(struct worker *w, struct buf *b)
{
	size_t size = rnd(w, 2) ? 1 + rnd(w, 16 << 10)
				: (64 << 10) + rnd(w, 192 << 10);

	b->mem = malloc(size);
	if (!b->mem)
		return false;
	b->kind = MALLOCED;
	b->addr = (unsigned long)b->mem;
	b->len = size;
	b->last = "malloc";
	return true;
}

static void alloc_buf(struct worker *w, struct buf *b)
{
	bool ok;

	if (S.use_malloc && !w->churner && rnd(w, 2))
		ok = malloc_buf(w, b);
	else
		ok = map_buf(w, b, (1 + rnd(w, MAX_PAGES)) * PAGE,
			     w->churner || !rnd(w, 4));
	if (!ok)
		return;
	fill(b, w->id);
	do_register(w, b);
}

static void free_buf(struct worker *w, struct buf *b)
{
	struct umn_regcache_handle *h = NULL;
	const struct umn_regcache_handle *uh = NULL;
	bool hit;

	/* Sometimes the "device" still holds the registration: it stays
	 * pinned, and is released after the memory is gone. */
	if (rnd(w, 4) == 0) {
		if (stress_ucx) {
			if (ucx_rcache_get(b->addr, b->len, &uh, &hit))
				uh = NULL;
		} else if (umn_regcache_lookup(S.rc, b->addr, b->len, true,
					       &h)) {
			h = NULL;
		}
	}
	if (b->kind == MAPPED) {
		munmap((void *)b->addr, b->len);
		push_hole(b->addr, b->len);
	} else {
		free(b->mem);
	}
	b->kind = EMPTY;
	if (h)
		umn_regcache_release(h);
	if (uh)
		ucx_rcache_put(uh);
}

/* Change the memory behind a buffer, at the same address when it can. */
static void change_buf(struct worker *w, struct buf *b)
{
	unsigned long off, n, len = b->len;
	void *p;

	if (b->kind == MALLOCED) {
		switch (rnd(w, 2)) {
		case 0: /* often the same address again */
			free(b->mem);
			b->mem = malloc(len);
			b->last = "free and malloc";
			break;
		default:
			p = realloc(b->mem, len + rnd(w, 128 << 10));
			if (!p)
				return;
			b->mem = p;
			b->last = "realloc";
			break;
		}
		if (!b->mem) {
			b->kind = EMPTY;
			return;
		}
		b->addr = (unsigned long)b->mem;
		fill(b, w->id);
		return;
	}
	n = len / PAGE;
	off = rnd(w, (unsigned int)n) * PAGE;
	switch (rnd(w, 4)) {
	case 0: /* replace part of it in place */
		mmap((void *)(b->addr + off), len - off, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		b->last = "mmap MAP_FIXED over it";
		break;
	case 1: /* unmap, and map the same address again if still free */
		munmap((void *)b->addr, len);
		b->kind = EMPTY;
		p = mmap((void *)b->addr, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1,
			 0);
		if (p == MAP_FAILED) {
			push_hole(b->addr, len);
			return;
		}
		b->kind = MAPPED;
		b->addr = (unsigned long)p;
		b->last = "munmap and mmap at the same address";
		break;
	case 2:
		madvise((void *)(b->addr + off), len - off, MADV_DONTNEED);
		b->last = "madvise DONTNEED";
		break;
	default: /* grow or shrink; the kernel may move it */
		n = 1 + rnd(w, MAX_PAGES);
		p = mremap((void *)b->addr, len, n * PAGE, MREMAP_MAYMOVE);
		if (p == MAP_FAILED)
			return;
		if ((unsigned long)p != b->addr)
			push_hole(b->addr, len);
		b->addr = (unsigned long)p;
		b->len = n * PAGE;
		b->last = "mremap";
		break;
	}
	fill(b, w->id);
}

static void step(struct worker *w)
{
	struct buf *b = &w->buf[rnd(w, SLOTS)];
	unsigned int r = rnd(w, 100);

	if (b->kind == EMPTY) {
		alloc_buf(w, b);
		return;
	}
	if (w->churner) {
		/* Mostly unmaps and maps into holes. */
		if (r < 30)
			do_lookup(w, b);
		else if (r < 50) {
			change_buf(w, b);
			if (b->kind != EMPTY) /* only memory it owns */
				do_lookup(w, b);
		} else
			free_buf(w, b);
		return;
	}
	if (r < 55) {
		do_lookup(w, b);
	} else if (r < 65) {
		do_register(w, b);
	} else if (r < 85) {
		change_buf(w, b);
		if (b->kind != EMPTY)
			do_lookup(w, b);
	} else {
		free_buf(w, b);
	}
}

/* Replace the cache when it holds too many registrations. */
static void maybe_recycle(void)
{
	struct umn_regcache_stats st;
	struct umn_regcache *rc;

	if (stress_ucx)
		return;
	umn_regcache_stats(S.rc, &st);
	if (st.registrations - st.reaped < LIVE_MAX)
		return;
	pthread_rwlock_unlock(&S.lock);
	pthread_rwlock_wrlock(&S.lock);
	umn_regcache_stats(S.rc, &st);
	if (st.registrations - st.reaped >= LIVE_MAX &&
	    !umn_regcache_create(umn_proc_mm(), &ref_ops, NULL, 0, &rc)) {
		if (umn_regcache_destroy(S.rc)) {
			umn_regcache_destroy(rc);
		} else {
			S.rc = rc;
			S.recycles++;
		}
	}
	pthread_rwlock_unlock(&S.lock);
	pthread_rwlock_rdlock(&S.lock);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	int i;

	while (!__atomic_load_n(&S.stop, __ATOMIC_RELAXED)) {
		pthread_rwlock_rdlock(&S.lock);
		for (i = 0; i < 64; i++, w->steps++)
			step(w);
		maybe_recycle();
		pthread_rwlock_unlock(&S.lock);
	}
	return NULL;
}

/*
 * After the run, every source settled (umn_proc_uffd_sync): look up every
 * buffer still owned.  A stale hit now is not the window of userfaultfd
 * but an event that never came.  Then free the buffers.
 */
static unsigned long settle_and_free(struct worker *w, int n)
{
	unsigned long stale = 0;
	struct buf *b;
	int i, j;

	uffd_settle();
	for (i = 0; i < n; i++) {
		for (j = 0; j < SLOTS; j++) {
			b = &w[i].buf[j];
			if (b->kind == EMPTY)
				continue;
			stale -= w[i].stale_hits;
			do_lookup(&w[i], b);
			stale += w[i].stale_hits;
			free_buf(&w[i], b);
		}
	}
	return stale;
}

/* Start the cache under test: umn's over @o's sources, or UCX's. */
static const char *start_cache(const struct opts *o)
{
	const char *why;

	if (!stress_ucx) {
		S.rc = start_regcache(o->sources, 0);
		return sources_name(umn_proc_sources());
	}
	/* Under TSan, libucs (not instrumented) and UCM's patched libc
	 * entry points run the stress, then the process dies of SIGSEGV
	 * around ucs_rcache_destroy() (measured): the sanitizer's, not
	 * UCX's, so no figure from there.  Under ASan it runs, with
	 * mapped buffers only as umn's stress. */
	if (TSAN)
		skip("--cache ucx: TSan build: libucs is not instrumented and "
		     "the process crashes (SIGSEGV) at ucs_rcache_destroy "
		     "under TSan; run it in the release, debug or ASan build");
	if (ucx_rcache_open(LIVE_MAX, &why))
		skip("--cache ucx: %s", why);
	return ucx_rcache_hook_mode();
}

int test_stress(const struct opts *o, bool break_stop)
{
	struct worker *w, sum = { 0 };
	struct umn_proc_stats ps;
	struct timespec t0, t1;
	unsigned long settled;
	unsigned int seed;
	double secs;
	int i, n = o->threads + 1;
	const char *name = break_stop ? "break-stop" : "stress";
	const char *src;

	if (!pfns_readable())
		skip("PFNs in /proc/self/pagemap read as 0 (CAP_SYS_ADMIN "
		     "needed): no oracle");
	mallopt(M_MMAP_THRESHOLD, 128 << 10);
	mallopt(M_TRIM_THRESHOLD, 128 << 10);
	src = start_cache(o);
	/* The sanitizers' allocators map and unmap with raw system calls,
	 * which only userfaultfd sees, and only after the fact. */
	S.use_malloc = !SANITIZED && !o->mapped_only;
	if (SANITIZED)
		printf("note: sanitizer build: the allocator unmaps with raw "
		       "system calls, so only mapped buffers are used\n");
	if (break_stop) {
		i = umn_proc_stop(UMN_PROC_ALL);
		check(i == 0, "umn_proc_stop: %d sources still on", i);
	}
	w = calloc((size_t)n, sizeof(*w));
	if (!w)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	seed = stress_seed ? stress_seed : (unsigned int)t0.tv_nsec;
	for (i = 0; i < n; i++) {
		w[i].id = i;
		w[i].churner = i == n - 1;
		w[i].seed = seed + (unsigned int)i * 7919;
		if (start_thread(&w[i].thread, worker_main, &w[i]))
			return 1;
	}
	usleep((useconds_t)(o->seconds * 1e6));
	__atomic_store_n(&S.stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < n; i++) {
		pthread_join(w[i].thread, NULL);
		sum.steps += w[i].steps;
		sum.lookups += w[i].lookups;
		sum.hits += w[i].hits;
		sum.registers += w[i].registers;
		sum.checked += w[i].checked;
		sum.stale_hits += w[i].stale_hits;
		sum.stale_pages += w[i].stale_pages;
		sum.errors += w[i].errors;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	settled = settle_and_free(w, n);

	printf("%s (%s%s%s): %d workers + 1 churner, %.1f s, %lu steps, "
	       "seed %u\n",
	       name, stress_ucx ? "UCX's rcache, UCM hooks " : "", src,
	       break_stop ? ", then stopped" : "", n - 1, secs, sum.steps,
	       seed);
	printf("  %lu lookups (%.0f/s), %lu hits; %lu registers (%.0f/s); "
	       "%lu caches replaced\n",
	       sum.lookups, sum.lookups / secs, sum.hits, sum.registers,
	       sum.registers / secs, S.recycles);
	if (stress_ucx) {
		printf("  regions: %lu registered (mem_reg), %lu deregistered "
		       "(mem_dereg)\n",
		       ucx_rcache_regs(), ucx_rcache_deregs());
	} else {
		umn_proc_stats(&ps);
		printf("  brackets: hooks %lu, uffd %lu; uffd ranges %lu, "
		       "refused %lu, overflows %lu\n",
		       ps.brackets[0], ps.brackets[1], ps.uffd_ranges,
		       ps.uffd_refused, ps.uffd_overflows);
	}
	printf("  STALE: %lu hits (%lu pages) of %lu lookup hits and "
	       "registers; %lu stale after the sources settled\n",
	       sum.stale_hits, sum.stale_pages, sum.checked, settled);
	check(sum.lookups > 0 && sum.hits > 0, "the stress looked up nothing");
	check(!sum.errors, "%lu registers failed", sum.errors);
	if (stress_ucx) {
		/* UCX's window: measured and printed, not failed. */
		check(sum.checked >= 1000,
		      "only %lu handles checked (1000 at least)", sum.checked);
		printf("  (UCX's rcache: UCM tells it once, before the kernel "
		       "acts, and a busy lock defers the invalidation to the "
		       "next miss; measured, not failed)\n");
		ucx_rcache_close();
		free(w);
		return summary("stress-ucx");
	}
	if (break_stop) {
		check(sum.stale_hits > 0,
		      "with the sources off, the oracle must find stale hits");
	} else {
		check(!settled,
		      "%lu buffers still had a stale registration after the "
		      "sources settled: an event was lost",
		      settled);
		if (umn_proc_sources() == UMN_PROC_UFFD)
			printf("  (userfaultfd alone: the window between the "
			       "kernel's change and the dispatch; measured, "
			       "not failed)\n");
		else
			check(!sum.stale_hits, "%lu stale hits",
			      sum.stale_hits);
	}
	pthread_rwlock_wrlock(&S.lock);
	check(!umn_regcache_destroy(S.rc), "destroy");
	pthread_rwlock_unlock(&S.lock);
	free(w);
	return summary(name);
}
