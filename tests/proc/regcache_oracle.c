// SPDX-License-Identifier: MIT
/*
 * tests/proc/regcache_oracle.c - the pagemap oracle, one event class at a
 * time: a registration that a lookup returns covers the frames the kernel
 * maps there now.  Each case registers memory, checks a hit, changes the
 * memory the way an application or its allocator does, and looks up
 * again: the lookup must miss, or hit a registration that still agrees
 * with pagemap.  Single-threaded, so every disagreement is a stale
 * registration, never a race.
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <unistd.h>
#include <umn-test/breaks.h>

#include "regcache_test.h"

/*
 * Register [addr, addr + len) or, if @cached, look it up: either must
 * succeed with a handle that agrees with pagemap, which stays cached.
 */
static void expect_current(struct umn_regcache *rc, unsigned long addr,
			   unsigned long len, bool cached, const char *what)
{
	struct umn_regcache_handle *h;
	int ret = cached ? umn_regcache_lookup(rc, addr, len, true, &h)
			 : umn_regcache_register(rc, addr, len, true, &h);

	if (!check(!ret, "%s: %s: %s", what,
		   cached ? "lookup before the change" : "register",
		   strerror(-ret)))
		return;
	check(!stale_pages(h, addr, len), "%s: %s holds the frames mapped now",
	      what, cached ? "the cached registration" : "a new registration");
	umn_regcache_release(h);
}

/* Register [addr, addr + len), check the new handle against the kernel,
 * and leave it cached. */
static void reg(struct umn_regcache *rc, unsigned long addr, unsigned long len,
		const char *what)
{
	/* userfaultfd alone: the last case's munmap may not be dispatched
	 * yet, and its registration would be served for this address. */
	uffd_settle();
	expect_current(rc, addr, len, false, what);
}

/* The memory did not change: the lookup hits, and agrees with pagemap. */
static void hit(struct umn_regcache *rc, unsigned long addr, unsigned long len,
		const char *what)
{
	expect_current(rc, addr, len, true, what);
}

/* The memory changed: the registration must be gone. */
static void gone(struct umn_regcache *rc, unsigned long addr, unsigned long len,
		 const char *what)
{
	struct umn_regcache_handle *h;
	unsigned long n;
	int ret;

	uffd_settle();
	ret = umn_regcache_lookup(rc, addr, len, true, &h);
	if (!ret) {
		n = stale_pages(h, addr, len);
		check(false,
		      "%s: lookup after the change hit [%#lx, %#lx): %lu of "
		      "%lu pages stale",
		      what, h->addr, h->addr + h->len, n,
		      (len + PAGE - 1) / PAGE);
		umn_regcache_release(h);
		return;
	}
	check(ret == -ENOENT, "%s: lookup after the change: %s", what,
	      strerror(-ret));
}

/* The memory may have changed (the allocator decides): a hit must agree. */
static void agrees(struct umn_regcache *rc, unsigned long addr,
		   unsigned long len, const char *what)
{
	struct umn_regcache_handle *h;
	int ret;

	uffd_settle();
	ret = umn_regcache_lookup(rc, addr, len, true, &h);
	if (ret) {
		check(ret == -ENOENT, "%s: lookup: %s", what, strerror(-ret));
		return;
	}
	check(!stale_pages(h, addr, len),
	      "%s: a hit after the change holds the frames mapped now", what);
	umn_regcache_release(h);
}

static bool mapped(unsigned long addr)
{
	unsigned char vec;

	return !mincore((void *)(addr & ~(PAGE - 1)), PAGE, &vec);
}

static void case_munmap(struct umn_regcache *rc)
{
	unsigned long a = map_pages(8);

	reg(rc, a, 8 * PAGE, "munmap");
	hit(rc, a + PAGE, 2 * PAGE, "munmap");
	munmap((void *)(a + 3 * PAGE), 2 * PAGE);
	gone(rc, a, PAGE, "munmap of 2 of its 8 pages");
	/* Not over the hole: anyone may have mapped it since. */
	munmap((void *)a, 3 * PAGE);
	munmap((void *)(a + 5 * PAGE), 3 * PAGE);
}

static void case_map_fixed(struct umn_regcache *rc)
{
	unsigned long a = map_pages(4);

	reg(rc, a, 4 * PAGE, "MAP_FIXED");
	hit(rc, a, 4 * PAGE, "MAP_FIXED");
	mmap((void *)(a + PAGE), 2 * PAGE, PROT_READ | PROT_WRITE,
	     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	memset((void *)a, 2, 4 * PAGE);
	gone(rc, a, 4 * PAGE, "MAP_FIXED over 2 of its 4 pages");
	reg(rc, a, 4 * PAGE, "MAP_FIXED, registered again");
	munmap((void *)a, 4 * PAGE);
}

static void case_madvise(struct umn_regcache *rc, int advice, bool shared,
			 const char *what)
{
	struct umn_proc_stats ps;
	unsigned long a, refused;
	void *p = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE,
		       (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1,
		       0);

	if (p == MAP_FAILED)
		return;
	a = (unsigned long)p;
	memset(p, 2, 4 * PAGE);
	umn_proc_stats(&ps);
	refused = ps.uffd_refused;
	reg(rc, a, 4 * PAGE, what);
	hit(rc, a, 4 * PAGE, what);
	check(!madvise((void *)(a + 2 * PAGE), PAGE, advice), "%s: %s", what,
	      strerror(errno));
	memset(p, 3, 4 * PAGE);
	umn_proc_stats(&ps);
	if (ps.uffd_refused > refused && !(umn_proc_sources() & UMN_PROC_HOOKS))
		printf("note: userfaultfd refused the range: %s not "
		       "checked\n",
		       what);
	else
		gone(rc, a, 4 * PAGE, what);
	munmap(p, 4 * PAGE);
}

static void case_mremap(struct umn_regcache *rc)
{
	unsigned long a = map_pages(4), b;
	void *dst = mmap(NULL, 4 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);

	reg(rc, a, 4 * PAGE, "mremap move");
	hit(rc, a, 4 * PAGE, "mremap move");
	b = (unsigned long)mremap((void *)a, 4 * PAGE, 4 * PAGE,
				  MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	check(b == (unsigned long)dst, "mremap move: %s", strerror(errno));
	gone(rc, a, 4 * PAGE, "mremap move (old address)");
	munmap((void *)b, 4 * PAGE);

	a = map_pages(4);
	reg(rc, a, 4 * PAGE, "mremap shrink");
	mremap((void *)a, 4 * PAGE, 2 * PAGE, 0);
	gone(rc, a, 2 * PAGE, "mremap shrink (the pages that stay)");
	munmap((void *)a, 2 * PAGE);
}

static void case_malloc(struct umn_regcache *rc)
{
	unsigned long a, b;
	char *p, *q;

	/* A block above the mmap threshold: free() unmaps it in libc. */
	p = malloc(1 << 20);
	memset(p, 4, 1 << 20);
	a = (unsigned long)p;
	reg(rc, a, 1 << 20, "free");
	hit(rc, a, 1 << 20, "free");
	free(p);
	if (mapped(a))
		agrees(rc, a, 1 << 20, "free (the allocator kept it mapped)");
	else
		gone(rc, a, 1 << 20, "free of a large block");

	/* realloc that grows (mremap, may move), then shrinks. */
	p = malloc(256 << 10);
	memset(p, 5, 256 << 10);
	a = (unsigned long)p;
	reg(rc, a, 256 << 10, "realloc");
	q = realloc(p, 4 << 20);
	if (!q)
		return;
	memset(q, 6, 4 << 20);
	b = (unsigned long)q;
	if (b != a && !mapped(a))
		gone(rc, a, 256 << 10, "realloc that moved");
	else
		agrees(rc, a, 256 << 10, "realloc in place");
	reg(rc, b + (2 << 20), 1 << 20, "realloc shrink");
	q = realloc(q, 64 << 10);
	if (!mapped(b + (2 << 20)))
		gone(rc, b + (2 << 20), 1 << 20, "realloc shrink (the tail)");
	else
		agrees(rc, b + (2 << 20), 1 << 20, "realloc shrink (kept)");
	free(q);

	/* malloc_trim gives the arenas' free pages back. */
	p = malloc(200 << 10);
	memset(p, 7, 200 << 10);
	a = ((unsigned long)p + PAGE - 1) & ~(PAGE - 1);
	reg(rc, a, 64 << 10, "malloc_trim");
	free(p);
	malloc_trim(0);
	agrees(rc, a, 64 << 10, "malloc_trim");
}

static void case_shm(struct umn_regcache *rc, unsigned int sources)
{
	int id = shmget(IPC_PRIVATE, 4 * PAGE, IPC_CREAT | 0600);
	struct umn_regcache_handle *h;
	unsigned long a;
	void *p;

	if (id < 0) {
		printf("note: no System V shared memory: shmdt not tested\n");
		return;
	}
	p = shmat(id, NULL, 0);
	shmctl(id, IPC_RMID, NULL);
	if (p == (void *)-1)
		return;
	a = (unsigned long)p;
	memset(p, 8, 4 * PAGE);
	reg(rc, a, 4 * PAGE, "shmdt");
	hit(rc, a, 4 * PAGE, "shmdt");
	shmdt(p);
	if (sources & UMN_PROC_HOOKS) {
		gone(rc, a, 4 * PAGE, "shmdt");
		return;
	}
	/* Linux's shmdt unmaps without a userfaultfd list: no UNMAP event.
	 * Keep the address from being reused under the registration. */
	mmap(p, 4 * PAGE, PROT_NONE,
	     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	uffd_settle();
	if (!umn_regcache_lookup(rc, a, 4 * PAGE, true, &h)) {
		printf("note: userfaultfd alone missed shmdt: its registration "
		       "is still cached (a kernel limit)\n");
		umn_regcache_release(h);
	} else {
		printf("note: userfaultfd alone saw shmdt\n");
	}
}

/* The pin collides with a change of its own range: the cache retries. */
static void case_collision(struct umn_regcache *rc)
{
	struct umn_regcache_handle *h;
	struct umn_regcache_stats st0, st;
	unsigned long a = map_pages(4);
	int ret;

	umn_regcache_stats(rc, &st0);
	pin_collide_next = true;
	ret = umn_regcache_register(rc, a, 4 * PAGE, true, &h);
	if (!check(!ret, "collision: register: %s", strerror(-ret)))
		return;
	umn_regcache_stats(rc, &st);
	check(st.retries > st0.retries,
	      "collision: the cache retried the pin (retries %lu)",
	      st.retries - st0.retries);
	check(!stale_pages(h, a, 4 * PAGE),
	      "collision: the registration holds the frames mapped now");
	umn_regcache_release(h);
	/* The range was replaced after its interval notifier was inserted:
	 * a source must still hear its munmap. */
	munmap((void *)a, 4 * PAGE);
	if (umn_proc_sources() == UMN_PROC_UFFD)
		printf("note: userfaultfd alone does not hear a range replaced "
		       "under a live interval notifier (test "
		       "proc-regcache-uffd-replaced-range)\n");
	else
		gone(rc, a, 4 * PAGE, "munmap after a collision");
}

/* Rewriting memory changes no translation: the registration stays. */
static void case_unchanged(struct umn_regcache *rc)
{
	unsigned long a = map_pages(4);

	reg(rc, a, 4 * PAGE, "unchanged");
	memset((void *)a, 9, 4 * PAGE);
	mprotect((void *)a, 4 * PAGE, PROT_READ | PROT_WRITE);
	hit(rc, a, 4 * PAGE, "rewritten memory");
	munmap((void *)a, 4 * PAGE);
}

int test_oracle(const struct opts *o)
{
	struct umn_regcache_stats st;
	struct umn_regcache *rc;

	if (!pfns_readable())
		skip("PFNs in /proc/self/pagemap read as 0 (CAP_SYS_ADMIN "
		     "needed): no oracle");
	/* Large blocks are mapped (no dynamic threshold). */
	mallopt(M_MMAP_THRESHOLD, 128 << 10);
	rc = start_regcache(o->sources, 0);
	case_unchanged(rc);
	case_munmap(rc);
	case_map_fixed(rc);
	case_madvise(rc, MADV_DONTNEED, false, "madvise DONTNEED");
	case_madvise(rc, MADV_FREE, false, "madvise FREE");
	case_madvise(rc, MADV_REMOVE, true, "madvise REMOVE");
	case_mremap(rc);
	if (SANITIZED && !(umn_proc_sources() & UMN_PROC_UFFD))
		printf("note: sanitizer build: its allocator maps and unmaps "
		       "with raw system calls, which the hooks do not see: "
		       "free, realloc and malloc_trim not checked\n");
	else
		case_malloc(rc);
	case_shm(rc, umn_proc_sources());
	case_collision(rc);
	umn_regcache_stats(rc, &st);
	printf("oracle (%s): %lu registrations, %lu hits, %lu retries, %lu "
	       "invalidations\n",
	       sources_name(umn_proc_sources()), st.registrations, st.hits,
	       st.retries, st.invalidations);
	check(!umn_regcache_destroy(rc), "destroy");
	return summary("oracle");
}

/*
 * The oracle can fail: a cache that publishes without read_retry keeps the
 * frames of a pin that an invalidation overtook (the pin op replaces its
 * own range, deterministically), and the oracle must say so.
 */
int test_break_retry(const struct opts *o)
{
	struct umn_regcache_handle *h;
	struct umn_regcache *rc;
	unsigned long a, stale = 0;
	int i, n = 16;

	if (!pfns_readable())
		skip("PFNs in /proc/self/pagemap read as 0 (CAP_SYS_ADMIN "
		     "needed): no oracle");
	rc = start_regcache(o->sources, UMN_REGCACHE_BREAK_RETRY);
	for (i = 0; i < n; i++) {
		a = map_pages(4);
		pin_collide_next = true;
		if (umn_regcache_register(rc, a, 4 * PAGE, true, &h))
			continue;
		umn_regcache_release(h);
		if (!umn_regcache_lookup(rc, a, 4 * PAGE, true, &h)) {
			stale += stale_pages(h, a, 4 * PAGE) != 0;
			umn_regcache_release(h);
		}
		munmap((void *)a, 4 * PAGE);
	}
	printf("break-retry (%s): the oracle found %lu stale lookup hits in "
	       "%d collisions\n",
	       sources_name(umn_proc_sources()), stale, n);
	check(stale > 0, "the oracle must catch a cache without its retry");
	umn_regcache_destroy(rc);
	return summary("break-retry");
}

/*
 * A reproducer, expected to fail until it is fixed: with userfaultfd alone,
 * a range whose mapping is replaced while an interval notifier covers it
 * (here: during the pin, so the cache retries with the same notifier) is
 * no longer registered with userfaultfd, since registration is per VMA and
 * happens only at insert.  A later munmap of it then reaches no one, and
 * the cache serves the registration for good, not only for a window.
 * Exits 1 when the stale registration is found (the bug), 0 otherwise.
 */
int test_uffd_replaced_range(const struct opts *o)
{
	struct umn_regcache_handle *h;
	struct umn_regcache *rc;
	unsigned long a, n;
	int ret;

	(void)o;
	if (!pfns_readable())
		skip("PFNs in /proc/self/pagemap read as 0 (CAP_SYS_ADMIN "
		     "needed): no oracle");
	rc = start_regcache(UMN_PROC_UFFD, 0);
	a = map_pages(4);
	pin_collide_next = true; /* the pin replaces the range: a retry */
	ret = umn_regcache_register(rc, a, 4 * PAGE, true, &h);
	if (ret) {
		printf("register: %s\n", strerror(-ret));
		return 2;
	}
	umn_regcache_release(h);
	munmap((void *)a, 4 * PAGE);
	map_pages(4); /* often the same address again */
	umn_proc_uffd_sync();
	if (umn_regcache_lookup(rc, a, 4 * PAGE, true, &h)) {
		printf("userfaultfd heard the munmap of a replaced range\n");
		return 0;
	}
	n = stale_pages(h, a, 4 * PAGE);
	printf("BUG: after munmap and umn_proc_uffd_sync(), the registration "
	       "of [%#lx, +4 pages) is still served (%lu of 4 pages stale): "
	       "the mapping that replaced the range during the pin was never "
	       "registered with userfaultfd\n",
	       a, n);
	umn_regcache_release(h);
	return 1;
}
