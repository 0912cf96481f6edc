// SPDX-License-Identifier: MIT
/*
 * bench/regcache-proc.c - the registration cache on the process itself,
 * beside UCX's rcache.
 *
 * The cache (consumers/regcache.c) runs over umn_proc_mm(): real memory,
 * heard through the process sources.  Four variants, each in a fresh
 * process of its own (umn-bench exec'd with --child, as the hooks
 * benchmark does), interleaved over the repetitions:
 *
 *   umn-hooks	 umn_proc_start(UMN_PROC_HOOKS)
 *   umn-hooks-handler	the same in a process with a signal handler (one
 *		 for SIGUSR1, installed before the start, never raised): as
 *		 most MPI and RDMA programs are.  The lock on the process mm
 *		 then masks the thread's signals, two rt_sigprocmask each
 *		 time (docs/proc.md, "Deadlock freedom")
 *   umn-default umn_proc_start(UMN_PROC_ALL): hooks and userfaultfd (left
 *		 out, and the report says so, where userfaultfd does not work)
 *   ucx-rcache	 UCX's ucs_rcache (libucs, loaded with dlopen() in its own
 *		 child only), which hears munmap through UCM's hooks
 *		 (UCM_EVENT_VM_UNMAPPED)
 *
 * The memory: N cached registrations of 4 pages (16 KiB) each, in
 * anonymous private memory, every page written once; each registration is
 * a mapping of its own with a PROT_NONE guard page after it, so that no
 * two registrations touch (UCX's rcache would merge them) and a munmap
 * removes one whole mapping.  N = 16, 256, 1024, 4096 (16 and 1024 with
 * --quick).  ns per operation, wall-clock (CLOCK_MONOTONIC) over batches;
 * each line's parameter names the measure and N ("miss-mlock:N=256").
 *
 *   miss-noop,	register and release a range not cached: umn's
 *   miss-mlock	umn_regcache_register() + release; UCX's
 *			ucs_rcache_get() that misses + ucs_rcache_region_put().
 *			One run fills the cache from empty up to the largest
 *			N; the figure for N is the mean cost of the misses
 *			that took it from the previous N (0 for the first) to
 *			N.  miss-noop pins with a no-op (it records the pages
 *			and returns), miss-mlock with mlock() (of the 16 KiB
 *			to register, munlock() to deregister; UCX: its
 *			mem_reg and mem_dereg callbacks do the same).  Before
 *			a fill, one registration is made and dropped untimed,
 *			so that one-time costs (umn's first notifier on the
 *			mm, UCX's first allocations) stay out of it.  The
 *			no-op fill is the child's first: its memory is fresh
 *			heap, faulted in as it goes.  The others come after
 *			it, on the heap it freed (the child keeps freed heap:
 *			malloc's trimming otherwise gave a fill fresh memory
 *			or not by the order of the last frees before it).
 *   miss-noop-scattered	the no-op fill again, each step's slots
 *			registered in a scattered order (a fixed shuffle)
 *			instead of by address: buffers malloc()ed over time
 *			come in no order.
 *   hit		umn_regcache_lookup() + umn_regcache_release(), and
 *			ucs_rcache_get() + ucs_rcache_region_put() of a
 *			cached registration, N cached, 1 thread: the lookups
 *			go over all N in a scattered order (k times an odd
 *			constant, modulo N), 256 between two clock reads.
 *   hit-2threads	the same in two threads at once over the same N
 *			(the second starts its own clock as it starts): ns
 *			per hit, the mean of the two threads' figures.
 *   munmap-reg,	munmap() of 16 KiB, the call alone, with N cached:
 *   munmap-unreg	of a range that holds one idle cached registration
 *			(16 of the N, spread over them), and of a range that
 *			no registration covers.
 *			Batches of 16 calls, the two kinds alternating.  What
 *			follows is untimed: umn_proc_uffd_sync() for the
 *			userfaultfd source, freeing what was invalidated (the
 *			umn cache's reap; UCX frees at its next miss), mapping
 *			and writing the ranges again, and registering them
 *			again so that N stay cached.  The pin is the no-op
 *			one, so the figure is the munmap and the cache's
 *			invalidation.
 *
 * UCX's rcache: regions aligned to the page size, no limit on regions or
 * bytes (nothing is evicted), events UCM_EVENT_VM_UNMAPPED.  Its lookup
 * takes a read-write lock for reading and a spinlock for its LRU list;
 * UCM calls its handler before the munmap, and the handler tries the lock
 * for writing and takes the regions out (or, if the lock is busy, queues
 * the range for the next lookup); it frees them at its next miss.  umn's
 * hooks invalidate before the munmap too and end after it; whatever the
 * userfaultfd source adds to the call is in umn-default's figure.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <umn/proc.h>
#include <umn/regcache.h>

#if defined(UMN_BENCH_UCS_LIB) && __has_include(<ucs/memory/rcache.h>)
#define RCP_UCX 1
#include <ucm/api/ucm.h>
#include <ucs/memory/rcache.h>
#include <umn-test/ucs.h>
#define UCX_ABSENT UMN_BENCH_UCS_LIB " or its rcache could not be loaded"
#else
#define UCX_ABSENT                                                 \
	"umn-bench was built without UCX: install libucx-dev and " \
	"configure again"
#endif

#include "bench.h"
#include "regcache-proc.h"

#define PAGE	  UMN_PAGE_SIZE
#define REG_LEN	  (4 * PAGE)	   /* one registration */
#define STRIDE	  (REG_LEN + PAGE) /* and its guard page */
#define BATCH	  16		   /* munmaps per batch */
#define HIT_BATCH 256		   /* lookups between two clock reads */
#define SCATTER	  0x9e3779b1UL	   /* odd: k * SCATTER % N visits all N */

static const unsigned long sizes_full[RCP_SIZES] = { 16, 256, 1024, 4096 };
static const unsigned long sizes_quick[] = { 16, 1024 };

enum { V_HOOKS, V_HANDLER, V_DEFAULT, V_UCX, NVARIANTS };

static const char *const variant_names[NVARIANTS] = {
	"umn-hooks", "umn-hooks-handler", "umn-default", "ucx-rcache"
};

static const char *const pin_names[RCP_PINS] = { "noop", "mlock",
						 "noop-scattered" };

static int nsizes(void)
{
	return bench_quick ? 2 : RCP_SIZES;
}

static unsigned long size_at(int i)
{
	return bench_quick ? sizes_quick[i] : sizes_full[i];
}

/* --- the memory: slots of 16 KiB, each a mapping with a guard after it --- */

struct area {
	char *base;
	unsigned long n;
};

static unsigned long slot(const struct area *a, unsigned long i)
{
	return (unsigned long)a->base + i * STRIDE;
}

static void slot_map(const struct area *a, unsigned long i)
{
	char *p = mmap((void *)slot(a, i), REG_LEN, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);

	if (p == MAP_FAILED)
		bench_die("regcache-proc", "mmap of a slot");
	for (unsigned long off = 0; off < REG_LEN; off += PAGE)
		((volatile char *)p)[off] = 1;
}

static void area_map(struct area *a, unsigned long n)
{
	a->n = n;
	a->base = mmap(NULL, n * STRIDE, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (a->base == MAP_FAILED)
		bench_die("regcache-proc", "mmap of an area");
	for (unsigned long i = 0; i < n; i++)
		slot_map(a, i);
}

/* --- the caches, behind one interface --- */

struct cache {
	int v;
	int pin;
	unsigned long regs, deregs; /* pins and unpins (UCX: mem_reg/dereg) */
	struct umn_regcache *rc;    /* umn */
	void *ucs;		    /* UCX: ucs_rcache_t */
	int pin_err;		    /* the mlock pin's errno, once it failed */
};

static int pin_range(struct cache *c, unsigned long addr, unsigned long len)
{
	c->regs++;
	if (c->pin == RCP_MLOCK && mlock((void *)addr, len)) {
		c->pin_err = errno;
		return -errno;
	}
	return 0;
}

static void unpin_range(struct cache *c, unsigned long addr, unsigned long len)
{
	c->deregs++;
	if (c->pin == RCP_MLOCK)
		munlock((void *)addr, len); /* ENOMEM once unmapped: fine */
}

static int umn_pin(void *arg, unsigned long addr, unsigned long npages,
		   bool write, struct umn_regcache_page *pages)
{
	int ret = pin_range(arg, addr, npages * PAGE);

	(void)write;
	if (ret)
		return ret;
	for (unsigned long i = 0; i < npages; i++)
		pages[i] = (struct umn_regcache_page){ .gen = addr + i * PAGE };
	return 0;
}

static void umn_unpin(void *arg, unsigned long npages,
		      const struct umn_regcache_page *pages)
{
	unpin_range(arg, pages[0].gen, npages * PAGE);
}

static const struct umn_regcache_ops umn_pin_ops = {
	.pin = umn_pin,
	.unpin = umn_unpin,
};

#ifdef RCP_UCX
/* libucs's entry points, resolved in UCX's child only. */
static struct umn_test_ucs ucx;

static int ucx_load(void)
{
	const char *why = umn_test_ucs_load(&ucx, UMN_BENCH_UCS_LIB);

	if (why) {
		fprintf(stderr, "regcache-proc: %s\n", why);
		return -ENOENT;
	}
	return 0;
}

static ucs_status_t ucx_mem_reg(void *context, ucs_rcache_t *rcache, void *arg,
				ucs_rcache_region_t *region, uint16_t flags)
{
	(void)rcache;
	(void)arg;
	(void)flags;
	return pin_range(context, region->super.start,
			 region->super.end - region->super.start)
		       ? UCS_ERR_IO_ERROR
		       : UCS_OK;
}

static void ucx_mem_dereg(void *context, ucs_rcache_t *rcache,
			  ucs_rcache_region_t *region)
{
	(void)rcache;
	unpin_range(context, region->super.start,
		    region->super.end - region->super.start);
}

static void ucx_dump_region(void *context, ucs_rcache_t *rcache,
			    ucs_rcache_region_t *region, char *buf, size_t max)
{
	(void)context;
	(void)rcache;
	(void)region;
	snprintf(buf, max, "bench");
}

static const ucs_rcache_ops_t ucx_ops = {
	.mem_reg = ucx_mem_reg,
	.mem_dereg = ucx_mem_dereg,
	.dump_region = ucx_dump_region,
};

static void ucx_done(void *arg)
{
	(void)arg;
}
#endif

static void cache_create(struct cache *c, int v, int pin)
{
	*c = (struct cache){ .v = v, .pin = pin };
	if (v != V_UCX) {
		if (umn_regcache_create(umn_proc_mm(), &umn_pin_ops, c, 0,
					&c->rc))
			bench_die("regcache-proc", "umn_regcache_create");
		return;
	}
#ifdef RCP_UCX
	ucs_rcache_params_t params = {
		.region_struct_size = sizeof(ucs_rcache_region_t),
		.alignment = PAGE,
		.max_alignment = PAGE,
		.ucm_events = UCM_EVENT_VM_UNMAPPED,
		.ucm_event_priority = 1000,
		.ops = &ucx_ops,
		.context = c,
		.flags = 0,
		.max_regions = ULONG_MAX,
		.max_size = SIZE_MAX,
		.max_unreleased = SIZE_MAX,
	};
	ucs_rcache_t *rcache;

	if (ucx.create(&params, "umn-bench", NULL, &rcache) != UCS_OK)
		bench_die("regcache-proc", "ucs_rcache_create");
	c->ucs = rcache;
#endif
}

static void cache_destroy(struct cache *c)
{
	if (c->v != V_UCX) {
		if (umn_regcache_destroy(c->rc))
			bench_die("regcache-proc", "umn_regcache_destroy");
		return;
	}
#ifdef RCP_UCX
	ucx.destroy(c->ucs);
#endif
}

/* A miss: register [addr, +REG_LEN) and release it (cached, idle).
 * Return: 0, or the pin's error. */
static int cache_register(struct cache *c, unsigned long addr)
{
	if (c->v != V_UCX) {
		struct umn_regcache_handle *h;
		int ret = umn_regcache_register(c->rc, addr, REG_LEN, true, &h);

		if (ret)
			return ret;
		umn_regcache_release(h);
		return 0;
	}
#ifdef RCP_UCX
	ucs_rcache_region_t *region;

	if (ucx.get(c->ucs, (void *)addr, REG_LEN, PROT_READ | PROT_WRITE, NULL,
		    &region) != UCS_OK)
		return c->pin_err ? -c->pin_err : -EIO;
	ucx.put(c->ucs, region);
#endif
	return 0;
}

/* Free what invalidations left behind, where the cache lets us. */
static void cache_reap(struct cache *c)
{
	if (c->v != V_UCX)
		umn_regcache_reap(c->rc);
}

/*
 * One registration made and dropped, untimed, on @warm's slot, which is
 * unmapped and mapped again: the first notifier of the process mm (umn
 * waits a grace period for it), UCX's first allocations.
 */
static void warm_up(struct cache *c, struct area *warm)
{
	if (cache_register(c, slot(warm, 0)))
		bench_die("regcache-proc", "the warm-up's register");
#ifdef RCP_UCX
	if (c->v == V_UCX) {
		ucs_rcache_region_t *region;

		/* Out of the cache now, rather than at the next miss. */
		if (ucx.get(c->ucs, warm->base, REG_LEN, PROT_READ | PROT_WRITE,
			    NULL, &region) != UCS_OK)
			bench_die("regcache-proc", "ucs_rcache_get");
		ucx.invalidate(c->ucs, region, ucx_done, NULL);
		ucx.put(c->ucs, region);
	}
#endif
	munmap(warm->base, REG_LEN);
	if (umn_proc_sources() & UMN_PROC_UFFD)
		umn_proc_uffd_sync();
	cache_reap(c);
	slot_map(warm, 0);
}

/* --- the measures --- */

/* Register slots [@from, @to) of @a; ns per miss. */
static double fill(struct cache *c, const struct area *a, unsigned long from,
		   unsigned long to, int *err)
{
	double t0 = bench_now_ns();

	for (unsigned long i = from; i < to; i++) {
		*err = cache_register(c, slot(a, i));
		if (*err)
			return 0;
	}
	return (bench_now_ns() - t0) / (double)(to - from);
}

/* The same, in a scattered order of the slots (the same for every
 * variant). */
static double fill_scattered(struct cache *c, const struct area *a,
			     unsigned long from, unsigned long to, int *err)
{
	unsigned long n = to - from, *ord = malloc(n * sizeof(*ord)), j, t;
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	double t0;

	if (!ord)
		bench_die("regcache-proc", "malloc");
	for (unsigned long i = 0; i < n; i++)
		ord[i] = from + i;
	for (unsigned long i = n - 1; i > 0; i--) { /* Fisher-Yates */
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		j = (unsigned long)(x % (i + 1));
		t = ord[i], ord[i] = ord[j], ord[j] = t;
	}
	t0 = bench_now_ns();
	for (unsigned long i = 0; i < n && !*err; i++)
		*err = cache_register(c, slot(a, ord[i]));
	t0 = bench_now_ns() - t0;
	free(ord);
	return *err ? 0 : t0 / (double)n;
}

/* Hits over the first @n slots of @a for about @budget ns; ns per hit. */
static double hits(struct cache *c, const struct area *a, unsigned long n,
		   double budget)
{
	unsigned long k = 0, regs = c->regs;
	double t0 = bench_now_ns(), now;
	long ops = 0;

	do {
		for (int i = 0; i < HIT_BATCH; i++, k++) {
			unsigned long addr = slot(a, (k * SCATTER) & (n - 1));

			if (c->v != V_UCX) {
				struct umn_regcache_handle *h;

				if (umn_regcache_lookup(c->rc, addr, REG_LEN,
							true, &h))
					bench_die("regcache-proc",
						  "umn_regcache_lookup (a "
						  "miss)");
				umn_regcache_release(h);
				continue;
			}
#ifdef RCP_UCX
			ucs_rcache_region_t *region;

			if (ucx.get(c->ucs, (void *)addr, REG_LEN,
				    PROT_READ | PROT_WRITE, NULL,
				    &region) != UCS_OK)
				bench_die("regcache-proc", "ucs_rcache_get");
			ucx.put(c->ucs, region);
#endif
		}
		ops += HIT_BATCH;
		now = bench_now_ns();
	} while (now - t0 < budget);
	if (c->regs != regs)
		fprintf(stderr,
			"regcache-proc: %s: %lu of the hits registered; the "
			"figure does not measure what it says\n",
			variant_names[c->v], c->regs - regs);
	return (now - t0) / (double)ops;
}

/* hits() in a second thread, beside the caller's. */
struct hits_job {
	struct cache *c;
	const struct area *a;
	unsigned long n;
	double budget, ns;
};

static void *hits_thread(void *arg)
{
	struct hits_job *j = arg;

	j->ns = hits(j->c, j->a, j->n, j->budget);
	return NULL;
}

/* Two threads hit at once, over the same N: ns per hit, per thread. */
static double hits2(struct cache *c, const struct area *a, unsigned long n,
		    double budget)
{
	struct hits_job j = { c, a, n, budget, 0 };
	pthread_t t;
	double mine;

	if (pthread_create(&t, NULL, hits_thread, &j))
		bench_die("regcache-proc", "pthread_create");
	mine = hits(c, a, n, budget);
	pthread_join(t, NULL);
	return (mine + j.ns) / 2;
}

/* Invalidations the cache has seen: umn's counter; UCX's regions are
 * deregistered at its next miss, so count those after the restore. */
static unsigned long invalidated(struct cache *c)
{
	struct umn_regcache_stats st;

	if (c->v == V_UCX)
		return c->deregs;
	umn_regcache_stats(c->rc, &st);
	return st.invalidations;
}

/*
 * munmap of BATCH registered ranges (slots spread over the first @n of
 * @a) and of BATCH unregistered ones (@spare), @rounds batches of each,
 * alternating.  @ns: out, ns per munmap, [0] registered, [1] not.
 */
static void unmaps(struct cache *c, const struct area *a, unsigned long n,
		   const struct area *spare, int rounds, double ns[2])
{
	unsigned long step = n / BATCH, addr[BATCH], before;
	double sum[2] = { 0, 0 };

	for (int r = 0; r < rounds; r++) {
		for (int j = 0; j < 2; j++) {
			int reg = (r + j) % 2 == 0;
			double t0;
			int ret = 0;

			for (unsigned long i = 0; i < BATCH; i++)
				addr[i] = reg ? slot(a, i * step + step / 2)
					      : slot(spare, i);
			before = invalidated(c);
			t0 = bench_now_ns();
			for (unsigned long i = 0; i < BATCH; i++)
				ret |= munmap((void *)addr[i], REG_LEN);
			sum[!reg] += bench_now_ns() - t0;
			if (ret)
				bench_die("regcache-proc", "munmap");
			/* Untimed: let every bracket end, free, map again. */
			if (umn_proc_sources() & UMN_PROC_UFFD)
				umn_proc_uffd_sync();
			cache_reap(c);
			for (unsigned long i = 0; i < BATCH; i++) {
				const struct area *in = reg ? a : spare;

				slot_map(in,
					 (addr[i] - (unsigned long)in->base) /
						 STRIDE);
				if (reg && cache_register(c, addr[i]))
					bench_die("regcache-proc",
						  "register again");
			}
			if (reg && invalidated(c) - before < BATCH)
				fprintf(stderr,
					"regcache-proc: %s: %lu invalidations "
					"for %d munmaps of registered ranges; "
					"the figure does not measure what it "
					"says\n",
					variant_names[c->v],
					invalidated(c) - before, BATCH);
		}
	}
	ns[0] = sum[0] / (rounds * BATCH);
	ns[1] = sum[1] / (rounds * BATCH);
}

/* --- a child: one variant --- */

static void ignore_signal(int sig)
{
	(void)sig;
}

static int variant_start(int v, struct rcp_out *o)
{
	int ret;

	if (v == V_UCX) {
#ifdef RCP_UCX
		ret = ucx_load();
		if (!ret)
			o->ucm_mode = (int)ucx.ucm_opts->mmap_hook_mode;
		return ret;
#else
		return -ENOENT;
#endif
	}
	unsetenv("UMN_PROC_SOURCES"); /* the variant is what it says */
	if (v == V_HANDLER) {
		struct sigaction sa = { .sa_handler = ignore_signal };

		if (sigaction(SIGUSR1, &sa, NULL))
			return -errno;
	}
	ret = umn_proc_start(v == V_DEFAULT ? UMN_PROC_ALL : UMN_PROC_HOOKS);
	if (ret < 0)
		return ret;
	o->sources = (unsigned int)ret;
	if (v == V_DEFAULT && !(ret & UMN_PROC_UFFD))
		return -EOPNOTSUPP; /* userfaultfd does not work here */
	return 0;
}

/* Let the mlock pin lock everything it will (root needs nothing). */
static void memlock_limit(unsigned long bytes)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_MEMLOCK, &rl) || rl.rlim_cur >= bytes)
		return;
	rl.rlim_cur = rl.rlim_max >= bytes ? bytes : rl.rlim_max;
	setrlimit(RLIMIT_MEMLOCK, &rl);
}

void rcp_child(int arg, void *out)
{
	const int ns = nsizes();
	const unsigned long max = size_at(ns - 1);
	const double budget = bench_quick ? 4e6 : 30e6; /* hits, per N */
	const int rounds = bench_quick ? 3 : 12;
	struct rcp_out *o = out;
	struct area a, spare, warm;
	struct cache c;
	int err = 0;

	prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
	/* Freed heap stays for the fills after the first (see the top). */
	mallopt(M_TRIM_THRESHOLD, INT_MAX);
	o->status = variant_start(arg, o);
	if (o->status)
		return;
	area_map(&a, max);
	area_map(&spare, BATCH);
	area_map(&warm, 1);

	/* No-op pin: the fill, and at each N the hits and the munmaps. */
	cache_create(&c, arg, RCP_NOOP);
	warm_up(&c, &warm);
	for (int i = 0; i < ns; i++) {
		unsigned long n = size_at(i), from = i ? size_at(i - 1) : 0;

		o->miss[RCP_NOOP][i] = fill(&c, &a, from, n, &err);
		if (err)
			bench_die("regcache-proc", "register (no-op pin)");
		o->hit[i] = hits(&c, &a, n, budget);
		o->hit2[i] = hits2(&c, &a, n, budget);
		unmaps(&c, &a, n, &spare, rounds, o->unmap[i]);
	}
	cache_destroy(&c);

	/* mlock pin: the fill alone. */
	memlock_limit((max + 1) * REG_LEN);
	cache_create(&c, arg, RCP_MLOCK);
	warm_up(&c, &warm);
	for (int i = 0; i < ns && !err; i++) {
		unsigned long n = size_at(i), from = i ? size_at(i - 1) : 0;

		o->miss[RCP_MLOCK][i] = fill(&c, &a, from, n, &err);
	}
	o->mlock_status = err ? (c.pin_err ? -c.pin_err : err) : 0;
	cache_destroy(&c);

	/* No-op pin in a scattered order: the fill alone. */
	err = 0;
	cache_create(&c, arg, RCP_NOOP);
	warm_up(&c, &warm);
	for (int i = 0; i < ns; i++) {
		unsigned long n = size_at(i), from = i ? size_at(i - 1) : 0;

		o->miss[RCP_SCATTERED][i] =
			fill_scattered(&c, &a, from, n, &err);
		if (err)
			bench_die("regcache-proc", "register (scattered)");
	}
	cache_destroy(&c);
}

/* --- the parent --- */

static const char *ucm_mode_name(int mode)
{
	static const char *const names[] = { "none", "reloc", "bistro" };

	return mode >= 0 && mode < 3 ? names[mode] : "?";
}

static void left_out(int v, int status)
{
	printf("regcache-proc: %s: ", variant_names[v]);
	if (v == V_UCX && status == -ENOENT)
		printf("absent (%s)\n", UCX_ABSENT);
	else if (v == V_DEFAULT && status == -EOPNOTSUPP)
		printf("userfaultfd is not available here (umn_proc_start("
		       "UMN_PROC_ALL) started the hooks alone); left out\n");
	else if (status == -ECHILD)
		printf("its child died; left out\n");
	else
		printf("cannot start here (%s); left out\n", strerror(-status));
}

/* Samples of every repetition. */
static double s_hit[NVARIANTS][RCP_SIZES][RCP_MAX_RUNS];
static double s_hit2[NVARIANTS][RCP_SIZES][RCP_MAX_RUNS];
static double s_miss[RCP_PINS][NVARIANTS][RCP_SIZES][RCP_MAX_RUNS];
static double s_unmap[2][NVARIANTS][RCP_SIZES][RCP_MAX_RUNS];

static void report(const bool *ok, const char *what, int i,
		   double (*s)[RCP_SIZES][RCP_MAX_RUNS], int runs)
{
	char param[48];

	snprintf(param, sizeof(param), "%.24s:N=%lu", what, size_at(i));
	for (int v = 0; v < NVARIANTS; v++)
		if (ok[v])
			bench_report("regcache-proc", variant_names[v], param,
				     "ns_per_op", s[v][i], runs);
}

void bench_regcache_proc(void)
{
	const int runs = bench_quick ? 5 : RCP_MAX_RUNS, ns = nsizes();
	bool ok[NVARIANTS], mlock_ok[NVARIANTS];
	int ucm_mode = -1, mlock_err[NVARIANTS] = { 0 };
	unsigned int sources[NVARIANTS] = { 0 };
	char what[48];

	for (int v = 0; v < NVARIANTS; v++)
		ok[v] = mlock_ok[v] = true;
	for (int r = 0; r < runs; r++) {
		/* Rotated, so that no variant always follows another. */
		for (int j = 0; j < NVARIANTS; j++) {
			int v = (r + j) % NVARIANTS;
			struct rcp_out o = { .status = -ECHILD };

			if (!ok[v])
				continue;
			if (bench_in_child(CHILD_REGCACHE_PROC, v, &o,
					   sizeof(o)))
				o.status = -ECHILD;
			if (o.status) {
				left_out(v, o.status);
				ok[v] = false;
				continue;
			}
			for (int i = 0; i < ns; i++) {
				s_hit[v][i][r] = o.hit[i];
				s_hit2[v][i][r] = o.hit2[i];
				for (int p = 0; p < RCP_PINS; p++)
					s_miss[p][v][i][r] = o.miss[p][i];
				for (int k = 0; k < 2; k++)
					s_unmap[k][v][i][r] = o.unmap[i][k];
			}
			if (o.mlock_status) {
				mlock_ok[v] = false;
				mlock_err[v] = o.mlock_status;
			}
			sources[v] = o.sources;
			if (v == V_UCX)
				ucm_mode = o.ucm_mode;
		}
	}
	if (ok[V_DEFAULT])
		printf("regcache-proc: umn-default: sources %s%s\n",
		       sources[V_DEFAULT] & UMN_PROC_HOOKS ? "hooks+" : "",
		       sources[V_DEFAULT] & UMN_PROC_UFFD ? "uffd" : "");
	if (ok[V_UCX])
		printf("regcache-proc: ucx-rcache: UCX_MEM_MMAP_HOOK_MODE=%s\n",
		       ucm_mode_name(ucm_mode));
	for (int i = 0; i < ns; i++)
		report(ok, "hit", i, s_hit, runs);
	for (int i = 0; i < ns; i++)
		report(ok, "hit-2threads", i, s_hit2, runs);
	for (int v = 0; v < NVARIANTS; v++)
		if (ok[v] && !mlock_ok[v])
			printf("regcache-proc: %s: the mlock pin failed (%s); "
			       "left out\n",
			       variant_names[v], strerror(-mlock_err[v]));
	for (int p = 0; p < RCP_PINS; p++) {
		bool okp[NVARIANTS];

		for (int v = 0; v < NVARIANTS; v++)
			okp[v] = ok[v] && (p != RCP_MLOCK || mlock_ok[v]);
		snprintf(what, sizeof(what), "miss-%s", pin_names[p]);
		for (int i = 0; i < ns; i++)
			report(okp, what, i, s_miss[p], runs);
	}
	for (int k = 0; k < 2; k++)
		for (int i = 0; i < ns; i++)
			report(ok, k ? "munmap-unreg" : "munmap-reg", i,
			       s_unmap[k], runs);
}
