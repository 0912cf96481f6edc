// SPDX-License-Identifier: MIT
/*
 * tools/workload.c - the workload and the coherence oracle that
 * umn-torture and umn-demo run.
 *
 * Threads: half run the random mix of the soft MMU's operations
 * (soft_mix.c) on a shared window, telling the data oracle what they
 * discard; the others access the window through the secondaries (a classic
 * mirror that maps huge pages whole, an interval mirror that maps them as
 * 4 KiB pieces, a device TLB, a registration cache).
 *
 * The oracle, which is not a benchmark and asserts no timing:
 *  - after each access, under the primary's page-table lock of the entry
 *    (umn_soft_lookup's fill callback), the secondary it went through maps
 *    the address to exactly the primary's frame, 4 KiB and generation, or to
 *    nothing (docs/CONTRACT.md's invariant: no window exists where it may
 *    differ, because start removes before the update and invalidate_range
 *    flushes under the same lock); the registration cache's valid
 *    registrations likewise;
 *  - the data the accessing thread wrote last through a secondary is still
 *    there, unless an operation that discards data (munmap, madvise,
 *    remapping) touched the page since;
 *  - a frame being freed is mapped by no full-sync secondary (checked where
 *    the primary last mapped it) and pinned by no registration.
 * Each failure counts one stale translation; the run stops at the first.
 *
 * The deliberate breaks (W_BREAK_*) break the contract on purpose to show
 * that the oracle can fail: retry (secondaries skip read_retry), counter
 * (the classic mirror ignores its active-invalidation counter), thp-range
 * (reclaim and cleaning invalidate only the first 4 KiB of a huge frame),
 * early-free (munmap frees frames before invalidate_range).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <umn/umn.h>
#include <umn-test/breaks.h>

#include "findings.h"
#include "oracle_translate.h"
#include "soft_mix.h"
#include "workload.h"

#define PAGE	    UMN_PAGE_SIZE
#define THP	    UMN_SOFT_PMD_SIZE
#define WIN_PAGES   2048UL /* 8 MiB: four 2 MiB blocks */
#define MAX_FRAMES  (1UL << 17)
#define MAX_THREADS W_MAX_THREADS
#define RW	    (UMN_SOFT_PROT_READ | UMN_SOFT_PROT_WRITE)

const char *const workload_break_names[W_BREAKS] = { "none", "retry", "counter",
						     "thp-range",
						     "early-free" };
const char *const workload_op_names[UMN_SOFT_OP_COUNT] = {
	"mmap",	   "munmap",  "mprotect", "mremap", "madvise",
	"fault",   "cow",     "fork",	  "split",  "collapse",
	"migrate", "reclaim", "clean",	  "ksm",    "age"
};
const char *const workload_event_names[UMN_EVENT_COUNT] = {
	"unmap",      "clear",	 "protection-vma", "protection-page",
	"soft-dirty", "release", "migrate",	   "exclusive"
};
const char *const workload_secondary_names[W_SECONDARIES] = {
	"classic mirror", "interval mirror", "devtlb", "regcache"
};

#define C_CLASSIC  W_CLASSIC
#define C_INTERVAL W_INTERVAL
#define C_DEVTLB   W_DEVTLB
#define C_REGCACHE W_REGCACHE
#define C_COUNT	   W_SECONDARIES
#define names	   workload_secondary_names

static struct workload_config opt;

static struct umn_soft_frames *frames;
static struct umn_soft_mm *sm;
static unsigned long win; /* the window's first address */
static struct umn_mirror *mirror[2];
static struct umn_devtlb *tlb;
static struct umn_regcache *rc;
static struct umn_regcache_soft rc_soft;
static struct findings found; /* the oracle's, and the run's end */
static struct soft_mix mix;   /* the primary threads' */

static unsigned long accesses, checked, retries, data_checks;

/* Where the primary last mapped each frame, for the free-time check. */
static unsigned long where_base[MAX_FRAMES], where_size[MAX_FRAMES];
/* Pins held through the registration cache, per frame. */
static int pinned[MAX_FRAMES];

/* The data oracle: per accessing thread, per page, the last value it
 * wrote and the page's discard count when it did. */
static unsigned long expected[MAX_THREADS][WIN_PAGES];
static unsigned long snap[MAX_THREADS][WIN_PAGES];
static unsigned long discards[WIN_PAGES]; /* odd while one runs */

static unsigned long load(unsigned long *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static void add(unsigned long *p, unsigned long n)
{
	__atomic_fetch_add(p, n, __ATOMIC_RELAXED);
}

static bool stopping(void)
{
	return findings_stopping(&found);
}

/* What secondary @c maps at @addr: 0, or -ENOENT. */
static int secondary(int c, unsigned long addr, struct umn_soft_translation *q)
{
	if (!opt.use[c])
		return -ENOENT;
	switch (c) {
	case C_CLASSIC:
	case C_INTERVAL:
		return umn_mirror_translate(mirror[c], addr, q);
	case C_DEVTLB:
		return umn_devtlb_check(tlb, addr, q);
	default:
		return oracle_regcache_translate(rc, addr, q);
	}
}

/* The oracle, under the PTL of the primary's entry for c->addr. */
struct check {
	unsigned long addr;
	int thread;
	bool write;
	unsigned long value;
	int secondary; /* the one the access went through */
};

static void check_fill(void *arg, const struct umn_soft_translation *p)
{
	struct check *c = arg;
	unsigned long page = (c->addr - win) / PAGE,
		      sub = oracle_subpage(p, c->addr);
	unsigned long off = (unsigned long)c->thread * sizeof(unsigned long);
	struct umn_soft_translation q;
	unsigned long now, got;
	int s;

	if (p->frame < MAX_FRAMES) {
		__atomic_store_n(&where_base[p->frame], p->base,
				 __ATOMIC_RELAXED);
		__atomic_store_n(&where_size[p->frame], p->size,
				 __ATOMIC_RELEASE);
	}
	s = c->secondary;
	if (!secondary(s, c->addr, &q) &&
	    (q.frame != p->frame || oracle_subpage(&q, c->addr) != sub ||
	     q.gen != p->gen || (q.writable && !p->writable)))
		findings_add(&found,
			     "%s maps %#lx to frame %lu/%lu gen %lu%s, the "
			     "primary to %lu/%lu gen %lu%s",
			     names[s], c->addr, q.frame,
			     oracle_subpage(&q, c->addr), q.gen,
			     q.writable ? " rw" : "", p->frame, sub, p->gen,
			     p->writable ? " rw" : "");
	add(&checked, 1);

	/* The data: through the (now verified) frame. */
	now = load(&discards[page]);
	if (c->write && p->writable) {
		if (umn_soft_frame_write(frames, p->frame, sub, off, &c->value,
					 sizeof(c->value)))
			return; /* no memory for the data: nothing written */
		expected[c->thread][page] = c->value;
		snap[c->thread][page] = now;
		return;
	}
	if (!expected[c->thread][page] || snap[c->thread][page] != now ||
	    (now & 1))
		return;
	umn_soft_frame_read(frames, p->frame, sub, off, &got, sizeof(got));
	add(&data_checks, 1);
	if (got != expected[c->thread][page])
		findings_add(
			&found, "data at %#lx: thread %d wrote %lu, reads %lu",
			c->addr, c->thread, expected[c->thread][page], got);
}

/* A frame is being freed: nobody may still map or pin it. */
static void free_hook(void *arg, unsigned long frame, unsigned long gen)
{
	struct umn_soft_translation q;
	unsigned long base, size, a;
	int s;

	(void)arg;
	if (frame >= MAX_FRAMES)
		return;
	if (__atomic_load_n(&pinned[frame], __ATOMIC_ACQUIRE) > 0)
		findings_add(&found,
			     "frame %lu freed while a registration pins it",
			     frame);
	size = __atomic_exchange_n(&where_size[frame], 0, __ATOMIC_ACQ_REL);
	base = __atomic_load_n(&where_base[frame], __ATOMIC_RELAXED);
	if (!size || size > THP)
		return;
	for (a = base; a < base + size; a += PAGE) {
		if (a < win || a >= win + WIN_PAGES * PAGE)
			continue;
		for (s = 0; s < C_REGCACHE; s++)
			if (!secondary(s, a, &q) && q.frame == frame &&
			    q.gen == gen)
				findings_add(
					&found,
					"frame %lu freed while the %s maps "
					"it at %#lx",
					frame, names[s], a);
	}
}

/* A classic notifier that sometimes takes its time in start, after the
 * secondaries' starts: it widens the window between start and the page
 * table's update, where the races live. */
static int delay_start(struct umn_notifier *n, const struct umn_range *r)
{
	static __thread unsigned long s = 88172645463325252UL;

	(void)n, (void)r;
	if (soft_mix_rnd(&s) % (opt.brk ? 2 : 16) == 0)
		sched_yield();
	return 0;
}

static const struct umn_notifier_ops delay_ops = {
	.name = "torture-delay",
	.invalidate_range_start = delay_start,
};

static struct umn_notifier delayer;

/* The registration cache pins through the soft MMU, with a pause now and
 * then between pin and publish. */
static int pin_slowly(void *arg, unsigned long addr, unsigned long npages,
		      bool write, struct umn_regcache_page *pages)
{
	static __thread unsigned long s = 0x9e3779b97f4a7c15UL;
	int ret = umn_regcache_soft_ops.pin(arg, addr, npages, write, pages);

	if (!ret && soft_mix_rnd(&s) % (opt.brk ? 2 : 32) == 0)
		sched_yield();
	return ret;
}

static void unpin(void *arg, unsigned long npages,
		  const struct umn_regcache_page *pages)
{
	umn_regcache_soft_ops.unpin(arg, npages, pages);
}

static const struct umn_regcache_ops slow_pin_ops = { pin_slowly, unpin };

/* The accessing threads. */

static void mirror_access(struct umn_mirror *m, unsigned long addr, bool write,
			  unsigned long *s)
{
	struct umn_soft_translation t;
	unsigned long seq;
	int ret;

	for (;;) {
		seq = umn_mirror_read_begin(m);
		ret = umn_soft_lookup(sm, addr, write, NULL, NULL, &t);
		if (ret == -EFAULT || ret == -EACCES) {
			if (umn_soft_fault(sm, addr, write))
				return; /* protected or unmapped now */
			continue;
		}
		if (soft_mix_rnd(s) % (opt.brk ? 4 : 64) == 0)
			sched_yield();
		ret = umn_mirror_install(m, addr, seq, &t);
		if (ret != -EAGAIN)
			return;
		add(&retries, 1);
		if (stopping())
			return;
		sched_yield(); /* let the invalidation we collided with end */
	}
}

#define HELD 8

/* The registrations an accessor holds, the oldest first. */
struct held {
	struct umn_regcache_handle *h[HELD];
	int n;
};

/* Count @h's pages as pinned (@delta 1) or no more (-1), for the check
 * when a frame is freed. */
static void count_pins(const struct umn_regcache_handle *h, int delta)
{
	unsigned long j;

	for (j = 0; j < h->len / PAGE; j++)
		__atomic_fetch_add(&pinned[h->pages[j].frame], delta,
				   __ATOMIC_RELEASE);
}

static void release_oldest(struct held *hd)
{
	count_pins(hd->h[0], -1);
	umn_regcache_release(hd->h[0]);
	memmove(hd->h, hd->h + 1, (HELD - 1) * sizeof(hd->h[0]));
	hd->n--;
}

/* Register 1 to 4 pages from window page @page through the registration
 * cache, and hold the registration (the oldest of HELD goes). */
static void regcache_access(struct held *hd, unsigned long page, bool write,
			    unsigned long *s)
{
	unsigned long len = PAGE * (1 + soft_mix_rnd(s) % 4);
	struct umn_regcache_handle *h;

	if (page * PAGE + len > WIN_PAGES * PAGE)
		len = PAGE;
	if (umn_regcache_register(rc, win + page * PAGE, len, write, &h))
		return;
	count_pins(h, 1);
	if (hd->n == HELD)
		release_oldest(hd);
	hd->h[hd->n++] = h;
}

static void *accessor(void *arg)
{
	int id = (int)(long)arg, c;
	unsigned long s = opt.seed * 2654435761UL + (unsigned long)id + 1;
	unsigned long value = (unsigned long)id << 40, page, addr;
	struct umn_soft_translation t;
	struct held hd = { .n = 0 };
	struct check chk;
	bool write;

	while (!stopping()) {
		page = soft_mix_rnd(&s) % WIN_PAGES;
		addr = win + page * PAGE;
		write = soft_mix_rnd(&s) & 1;
		c = (int)(soft_mix_rnd(&s) % C_COUNT);
		if (!opt.use[c])
			continue;
		switch (c) {
		case C_CLASSIC:
		case C_INTERVAL:
			mirror_access(mirror[c], addr, write, &s);
			break;
		case C_DEVTLB:
			umn_devtlb_translate(tlb, addr, write, &t);
			break;
		default:
			regcache_access(&hd, page, write, &s);
			break;
		}
		chk = (struct check){ addr, id, write, ++value, c };
		umn_soft_lookup(sm, addr, false, check_fill, &chk, NULL);
		add(&accesses, 1);
	}
	while (hd.n)
		release_oldest(&hd);
	return NULL;
}

/* The primary's threads. */

static void discard(unsigned long first, unsigned long n)
{
	unsigned long p;

	for (p = first; p < first + n && p < WIN_PAGES; p++)
		__atomic_fetch_add(&discards[p], 1, __ATOMIC_RELEASE);
}

static void *primary(void *arg)
{
	soft_mix_run(&mix, (int)(long)arg, opt.seed);
	return NULL;
}

static int fail(const char *what, int err)
{
	fprintf(stderr, "workload: %s: %s\n", what, strerror(-err));
	return err;
}

static int setup(void)
{
	struct umn_soft_frames_config cfg = {
		.max_frames = MAX_FRAMES,
		.free_hook = free_hook,
		.breaks = opt.brk == W_BREAK_THP_RANGE
				  ? UMN_SOFT_BREAK_THP_RANGE
			  : opt.brk == W_BREAK_EARLY_FREE
				  ? UMN_SOFT_BREAK_EARLY_FREE
				  : 0,
	};
	unsigned int mb = opt.brk == W_BREAK_RETRY ? UMN_MIRROR_BREAK_RETRY : 0;
	int ret;

	ret = umn_soft_frames_create(&cfg, &frames);
	if (!ret)
		ret = umn_soft_mm_create(frames, &sm);
	if (!ret)
		ret = umn_soft_mmap(sm, 0, WIN_PAGES * PAGE, RW,
				    opt.thp ? UMN_SOFT_MAP_THP : 0, &win);
	if (ret)
		return fail("soft MMU", ret);
	mix = (struct soft_mix){
		sm,
		win,
		WIN_PAGES,
		UMN_SOFT_MAP_FIXED | (opt.thp ? UMN_SOFT_MAP_THP : 0),
		stopping,
		discard
	};
	ret = umn_notifier_register(&delayer, &delay_ops, umn_soft_mm_umn(sm));
	if (!ret && opt.use[C_CLASSIC])
		ret = umn_mirror_create(
			sm, win, WIN_PAGES * PAGE,
			UMN_MIRROR_CLASSIC | mb |
				(opt.brk == W_BREAK_COUNTER
					 ? UMN_MIRROR_BREAK_COUNTER
					 : 0),
			&mirror[C_CLASSIC]);
	if (!ret && opt.use[C_INTERVAL])
		ret = umn_mirror_create(sm, win, WIN_PAGES * PAGE,
					UMN_MIRROR_INTERVAL |
						UMN_MIRROR_SPLIT_HUGE | mb,
					&mirror[C_INTERVAL]);
	if (!ret && opt.use[C_DEVTLB])
		ret = umn_devtlb_create(sm, 256, 0, &tlb);
	rc_soft.sm = sm;
	rc_soft.frames = frames;
	if (!ret && opt.use[C_REGCACHE])
		ret = umn_regcache_create(
			umn_soft_mm_umn(sm), &slow_pin_ops, &rc_soft,
			opt.brk == W_BREAK_RETRY ? UMN_REGCACHE_BREAK_RETRY : 0,
			&rc);
	if (ret)
		return fail("secondaries", ret);
	return 0;
}

static void report(struct workload_report *rep, double secs)
{
	int i;

	memset(rep, 0, sizeof(*rep));
	rep->seconds = secs;
	umn_soft_stats(frames, &rep->soft);
	for (i = 0; i < 2; i++)
		if (mirror[i])
			umn_mirror_stats(mirror[i], &rep->mirror[i]);
	if (tlb)
		umn_devtlb_stats(tlb, &rep->devtlb);
	if (rc)
		umn_regcache_stats(rc, &rep->regcache);
	rep->accesses = load(&accesses);
	rep->checked = load(&checked);
	rep->data_checked = load(&data_checks);
	rep->retries = load(&retries) + rep->mirror[0].retries +
		       rep->mirror[1].retries + rep->regcache.retries;
	rep->stale = load(&found.count);
	if (rep->stale)
		memcpy(rep->first_stale, found.first, sizeof(found.first));
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void workload_defaults(struct workload_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->seconds = 10;
	cfg->threads = 4;
	cfg->use[W_CLASSIC] = cfg->use[W_INTERVAL] = true;
	cfg->use[W_DEVTLB] = cfg->use[W_REGCACHE] = true;
	cfg->thp = true;
}

int workload_run(const struct workload_config *cfg, struct workload_report *rep)
{
	pthread_t th[MAX_THREADS];
	double start, t, next = 1;
	int i, nprimary, ret;

	opt = *cfg;
	if (opt.threads < 2 || opt.threads > MAX_THREADS || opt.seconds <= 0)
		return -EINVAL;
	/* What each break needs to show itself. */
	if (opt.brk == W_BREAK_RETRY)
		opt.use[C_CLASSIC] = opt.use[C_INTERVAL] = true;
	if (opt.brk == W_BREAK_COUNTER)
		opt.use[C_CLASSIC] = true;
	if (opt.brk == W_BREAK_THP_RANGE)
		opt.thp = opt.use[C_INTERVAL] = true;
	if (opt.brk == W_BREAK_EARLY_FREE)
		opt.use[C_DEVTLB] = true;
	ret = setup();
	if (ret)
		return ret;
	nprimary = opt.threads / 2;
	start = now_s();
	for (i = 0; i < opt.threads; i++)
		pthread_create(&th[i], NULL, i < nprimary ? primary : accessor,
			       (void *)(long)i);
	while (!stopping() && (t = now_s() - start) < opt.seconds) {
		usleep(20000);
		if (opt.progress && t >= next) {
			report(rep, t);
			opt.progress(rep, t, opt.arg);
			next += 1;
		}
	}
	findings_stop(&found);
	for (i = 0; i < opt.threads; i++)
		pthread_join(th[i], NULL);
	report(rep, now_s() - start);

	/* Teardown: the oracle stops looking at what goes away. */
	memset(opt.use, 0, sizeof(opt.use));
	for (i = 0; i < 2; i++)
		if (mirror[i])
			umn_mirror_destroy(mirror[i]);
	if (tlb)
		umn_devtlb_destroy(tlb);
	if (rc)
		umn_regcache_destroy(rc);
	umn_notifier_unregister(&delayer);
	umn_soft_mm_destroy(sm);
	if (umn_soft_frames_destroy(frames)) {
		fprintf(stderr, "workload: frames left allocated\n");
		rep->leaked = true;
	}
	return 0;
}
