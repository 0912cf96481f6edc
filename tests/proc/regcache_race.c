// SPDX-License-Identifier: MIT
/*
 * tests/proc/regcache_race.c - the race a registration cache exists to
 * win, on real memory: lookup threads get and put registrations of a few
 * buffers while another thread unmaps a buffer and maps new memory at the
 * same address, again and again.  The same oracle judges umn's regcache
 * (--cache umn, any sources) and UCX's rcache (--cache ucx, fed by UCM's
 * hooks), each in a process of its own.
 *
 * The oracle needs no page frame numbers.  Each mapping of a buffer gets a
 * generation, written in its first word by the remapper right after the
 * mmap; the pin of both caches records that word (read with
 * process_vm_readv(), which fails rather than faults on a hole).  After
 * the munmap of generation g returns, the remapper publishes g as dead.  A
 * lookup that read "g is dead" before it began, and is handed a
 * registration of generation g or older, is handed a stale registration:
 * memory that was unmapped before the lookup began.  A registration
 * recorded before the remapper wrote the new generation (word 0) is not
 * judged.
 *
 * Between the munmap and the mmap the buffer is a hole, and another
 * thread's mmap(NULL) may take it (a sanitizer's allocator often does: the
 * hole is the highest gap of its size).  The remapper maps again with
 * MAP_FIXED_NOREPLACE, so it never maps over a stranger, and retires a
 * buffer whose hole was taken.  Generations carry a tag, so that the
 * stranger's words are never judged as generations.
 *
 * umn's stale hits fail the test; UCX's are counted and printed (UCM calls
 * the rcache before the kernel unmaps, but when a lookup holds the
 * rcache's lock the invalidation waits for the next miss, and every hit
 * until then returns the unmapped region).  --break makes umn's cache keep
 * what an invalidation hit (UMN_REGCACHE_BREAK_INVALIDATE): the oracle
 * must then find stale hits.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <umn-test/breaks.h>

#include "regcache_test.h"
#include "ucx_rcache.h"

#define BUFS	  8 /* buffers, each its own mapping with a guard after */
#define BUF_PAGES 4
#define LOOKERS	  3
#define GEN_TAG	  0x5a3c000000000000ul /* in every generation word */
#define GEN_MASK  0xffff000000000000ul

static struct {
	unsigned long base;	  /* BUFS * (BUF_PAGES + 1) pages */
	unsigned long dead[BUFS]; /* newest generation unmapped */
	bool retired[BUFS];	  /* its hole was taken by a stranger */
	unsigned long next_gen;	  /* remapper only */
	unsigned long remaps, retires, lookups, hits, judged, stale;
	struct umn_regcache *rc; /* NULL: UCX's */
	int stop;
} R;

static unsigned long buf_addr(int i)
{
	return R.base + (unsigned long)i * (BUF_PAGES + 1) * PAGE;
}

/* The pin of both caches: the generation word, read safely. */
static int gen_pin(void *arg, unsigned long addr, unsigned long npages,
		   bool write, struct umn_regcache_page *pages)
{
	unsigned long gen;
	struct iovec local = { &gen, sizeof(gen) };
	struct iovec remote = { (void *)addr, sizeof(gen) };

	(void)arg, (void)write;
	if (process_vm_readv(getpid(), &local, 1, &remote, 1, 0) != sizeof(gen))
		return -EFAULT;
	memset(pages, 0, npages * sizeof(*pages));
	pages[0].frame = gen;
	return 0;
}

static void gen_unpin(void *arg, unsigned long npages,
		      const struct umn_regcache_page *pages)
{
	(void)arg, (void)npages, (void)pages;
}

static const struct umn_regcache_ops gen_ops = { gen_pin, gen_unpin };

/* Map the next generation at buffer @i (over the reservation, or into
 * its hole) and write it there; false if a stranger took the hole. */
static bool map_buf(int i, int flags)
{
	unsigned long *p = mmap((void *)buf_addr(i), BUF_PAGES * PAGE,
				PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);

	if (p == MAP_FAILED && errno == EEXIST)
		return false;
	if (p != (void *)buf_addr(i)) {
		perror("race: mmap");
		exit(1);
	}
	__atomic_store_n(p, GEN_TAG | ++R.next_gen, __ATOMIC_RELEASE);
	return true;
}

static void *remapper(void *arg)
{
	unsigned int seed = 1;

	(void)arg;
	while (!__atomic_load_n(&R.stop, __ATOMIC_ACQUIRE) &&
	       R.retires < BUFS) {
		int i = (int)(rand_r(&seed) % BUFS);

		if (R.retired[i])
			continue;
		unsigned long gen =
			*(unsigned long *)buf_addr(i); /* ours to read */

		munmap((void *)buf_addr(i), BUF_PAGES * PAGE);
		__atomic_store_n(&R.dead[i], gen, __ATOMIC_RELEASE);
		if (map_buf(i, MAP_FIXED_NOREPLACE)) {
			R.remaps++;
		} else {
			__atomic_store_n(&R.retired[i], true, __ATOMIC_RELEASE);
			R.retires++;
		}
	}
	return NULL;
}

/* One lookup of buffer @i: the generation it was handed, or 0. */
static unsigned long get_put(int i, bool *hit)
{
	const struct umn_regcache_handle *ch;
	struct umn_regcache_handle *h;
	unsigned long gen;

	*hit = false;
	if (!R.rc) {
		if (ucx_rcache_get(buf_addr(i), BUF_PAGES * PAGE, &ch, hit))
			return 0;
		gen = ch->pages[0].frame;
		ucx_rcache_put(ch);
		return gen;
	}
	if (!umn_regcache_lookup(R.rc, buf_addr(i), BUF_PAGES * PAGE, true, &h))
		*hit = true;
	else if (umn_regcache_register(R.rc, buf_addr(i), BUF_PAGES * PAGE,
				       true, &h))
		return 0;
	gen = h->pages[0].frame;
	umn_regcache_release(h);
	return gen;
}

static void *looker(void *arg)
{
	unsigned int seed = (unsigned int)(uintptr_t)arg;
	unsigned long lookups = 0, hits = 0, judged = 0, stale = 0;

	while (!__atomic_load_n(&R.stop, __ATOMIC_ACQUIRE)) {
		int i = (int)(rand_r(&seed) % BUFS);

		if (__atomic_load_n(&R.retired[i], __ATOMIC_ACQUIRE))
			continue;
		unsigned long dead =
			__atomic_load_n(&R.dead[i], __ATOMIC_ACQUIRE);
		bool hit;
		unsigned long gen = get_put(i, &hit);

		lookups++;
		hits += hit;
		if ((gen & GEN_MASK) != GEN_TAG)
			continue; /* no generation: a hole, or a stranger's */
		judged++;
		if (gen <= dead)
			stale++;
	}
	__atomic_add_fetch(&R.lookups, lookups, __ATOMIC_RELAXED);
	__atomic_add_fetch(&R.hits, hits, __ATOMIC_RELAXED);
	__atomic_add_fetch(&R.judged, judged, __ATOMIC_RELAXED);
	__atomic_add_fetch(&R.stale, stale, __ATOMIC_RELAXED);
	return NULL;
}

/* Start the cache under test; a reason to skip if it cannot run here. */
static const char *start_cache(const struct opts *o, bool ucx, bool broken)
{
	const char *why = NULL;
	int ret;

	if (ucx) {
		ucx_rcache_pin_with(&gen_ops);
		return ucx_rcache_open(1024, &why) ? why : NULL;
	}
	ret = umn_proc_start(o->sources);
	if (ret == -ENOSYS)
		return "this source cannot work here";
	if (ret < 0 ||
	    umn_regcache_create(umn_proc_mm(), &gen_ops, NULL,
				broken ? UMN_REGCACHE_BREAK_INVALIDATE : 0,
				&R.rc)) {
		printf("race: umn_proc_start or umn_regcache_create failed\n");
		exit(1);
	}
	return NULL;
}

/* Can the pin read here?  (qemu-user lacks process_vm_readv().) */
static bool pin_reads(void)
{
	unsigned long probe = 1, got = 0;
	struct iovec local = { &got, sizeof(got) };
	struct iovec remote = { &probe, sizeof(probe) };

	return process_vm_readv(getpid(), &local, 1, &remote, 1, 0) ==
		       sizeof(got) &&
	       got == probe;
}

int test_race(const struct opts *o, bool broken)
{
	/* Measured: 8 of 8 runs fault after the verdict, in UCX's close
	 * or exit, and TSan's allocator takes every hole within 2 s. */
	if (TSAN && stress_ucx)
		skip("TSan build: libucs, not built for TSan, faults at exit "
		     "under its runtime; the other builds run UCX's race");
	if (!pin_reads())
		skip("process_vm_readv() does not work here (%s): the pin "
		     "cannot read a generation",
		     strerror(errno));
	const char *cache = stress_ucx ? "UCX rcache" : "umn regcache", *why;
	pthread_t rt, lt[LOOKERS];
	struct timespec ts = { (time_t)o->seconds,
			       (long)((o->seconds - (time_t)o->seconds) *
				      1e9) };
	void *p = mmap(NULL, BUFS * (BUF_PAGES + 1) * PAGE, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		skip("cannot reserve the buffers' range");
	R.base = (unsigned long)p;
	for (int i = 0; i < BUFS; i++)
		map_buf(i, MAP_FIXED);
	why = start_cache(o, stress_ucx, broken);
	if (why)
		skip("%s: %s", cache, why);
	start_thread(&rt, remapper, NULL);
	for (int i = 0; i < LOOKERS; i++)
		start_thread(&lt[i], looker, (void *)(uintptr_t)(i + 7));
	nanosleep(&ts, NULL);
	__atomic_store_n(&R.stop, 1, __ATOMIC_RELEASE);
	pthread_join(rt, NULL);
	for (int i = 0; i < LOOKERS; i++)
		pthread_join(lt[i], NULL);

	printf("race: %s (%s), %d lookup threads and one remapper, %.1f s: "
	       "%lu lookups (%lu hits), %lu remaps; STALE: %lu of %lu "
	       "judged\n",
	       cache, stress_ucx ? "UCM's hooks" : sources_name(o->sources),
	       LOOKERS, o->seconds, R.lookups, R.hits, R.remaps, R.stale,
	       R.judged);
	if (R.retires)
		printf("  %lu of %d buffers retired: another thread's mmap took "
		       "the hole\n",
		       R.retires, BUFS);
	if (R.lookups)
		printf("  %.0f ns per lookup and put, per thread\n",
		       o->seconds * LOOKERS * 1e9 / (double)R.lookups);
	/* A floor of work, or the verdict means nothing. */
	check(R.remaps >= 100 && R.judged >= 1000,
	      "too little work: %lu remaps, %lu lookups judged", R.remaps,
	      R.judged);
	if (stress_ucx) {
		printf("  (UCX's stale hits are measured, not failed)\n");
		ucx_rcache_close();
	} else if (broken) {
		check(R.stale > 0, "with invalidations ignored, the oracle "
				   "must find stale hits");
	} else {
		check(!R.stale, "%lu stale hits from umn's regcache", R.stale);
	}
	if (R.rc)
		check(!umn_regcache_destroy(R.rc), "destroy");
	return summary(broken ? "race-break" : "race");
}
