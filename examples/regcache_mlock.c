// SPDX-License-Identifier: MIT
/*
 * examples/regcache_mlock.c - a registration cache over the process itself.
 *
 * An RDMA (or GPU, or DMA) library caches its memory registrations, and
 * must forget one before the memory behind it changes, or the device goes
 * on using frames the process no longer maps there.  umn_proc_start()
 * makes the process a primary MMU, so a umn_regcache over umn_proc_mm()
 * hears the process's own munmap, free, realloc, madvise...
 *
 * The "device" pins with mlock and records each page's frame number (PFN)
 * from /proc/self/pagemap, as a driver hands a NIC DMA addresses.  mlock
 * takes no reference (real pins do: pin_user_pages under ibv_reg_mr), and
 * it is a flag of the mapping, not a count: the ops count locks per page.
 * Without CAP_SYS_ADMIN the kernel hides PFNs (they read as 0): the
 * frames compared are all 0, and the program ends with status 77 (skipped,
 * for ctest) unless a check failed.  A failed check ends it with 3.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <umn/proc.h>
#include <umn/regcache.h>

#define PAGE	 UMN_PAGE_SIZE
#define NLOCKS	 4096
#define PFN_MASK ((1ULL << 55) - 1) /* pagemap bits 0-54; bit 63: present */

static int pagemap = -1;

/* The PFN that the kernel maps at @addr now; 0 if none or hidden. */
static unsigned long pfn_of(unsigned long addr)
{
	uint64_t entry;
	off_t off = (off_t)(addr / PAGE) * sizeof(entry);

	if (pread(pagemap, &entry, sizeof(entry), off) != sizeof(entry))
		return 0;
	return (entry >> 63) ? entry & PFN_MASK : 0;
}

/* Pins per bucket of pages (mlock does not count).  Pages that share a
 * bucket share a count: one may stay locked too long, never too short. */
static unsigned int pins[NLOCKS];

static unsigned int *pins_of(unsigned long addr)
{
	return &pins[(addr / PAGE) % NLOCKS];
}

/* pin: lock the pages (faulting them in, writable for a private writable
 * mapping), record their frames; @gen keeps the address for unpin. */
static int mlock_pin(void *arg, unsigned long addr, unsigned long npages,
		     bool write, struct umn_regcache_page *pages)
{
	unsigned long i;

	(void)arg;
	(void)write;
	if (mlock((void *)addr, npages * PAGE))
		return -errno;
	for (i = 0; i < npages; i++) {
		__atomic_add_fetch(pins_of(addr + i * PAGE), 1,
				   __ATOMIC_RELAXED);
		pages[i].frame = pfn_of(addr + i * PAGE);
		pages[i].subpage = 0;
		pages[i].gen = addr + i * PAGE;
	}
	return 0;
}

/* unpin: the last unlock of a page reaches the kernel (ENOMEM if the page
 * was unmapped meanwhile, which is fine). */
static void mlock_unpin(void *arg, unsigned long npages,
			const struct umn_regcache_page *pages)
{
	unsigned long i;

	(void)arg;
	for (i = 0; i < npages; i++)
		if (!__atomic_sub_fetch(pins_of(pages[i].gen), 1,
					__ATOMIC_RELAXED))
			munlock((void *)pages[i].gen, PAGE);
}

static const struct umn_regcache_ops mlock_ops = {
	.pin = mlock_pin,
	.unpin = mlock_unpin,
};

static int failed;

static void expect(bool ok, const char *what)
{
	printf("%s %s\n", ok ? "ok:  " : "FAIL:", what);
	failed |= !ok;
}

/* Register a buffer and keep the registration cached (released, pinned). */
static void register_buffer(struct umn_regcache *rc, unsigned long addr,
			    size_t len)
{
	struct umn_regcache_handle *h;
	int ret = umn_regcache_register(rc, addr, len, true, &h);

	expect(!ret, "register");
	if (ret)
		exit(1);
	printf("       %#lx: %lu pages, first frame %#lx\n", h->addr,
	       h->len / PAGE, h->pages[0].frame);
	umn_regcache_release(h);
}

/* A lookup hit must describe what the kernel maps now. */
static void lookup_hit(struct umn_regcache *rc, unsigned long addr, size_t len)
{
	struct umn_regcache_handle *h;
	unsigned long i, stale = 0;
	int ret = umn_regcache_lookup(rc, addr, len, true, &h);

	expect(!ret, "lookup hits the cached registration");
	if (ret)
		return;
	for (i = 0; i < h->len / PAGE; i++)
		stale += h->pages[i].frame != pfn_of(h->addr + i * PAGE);
	expect(!stale, "its frames are the ones mapped now (pagemap)");
	umn_regcache_release(h);
}

/* After the memory went back to the kernel, the cache must not serve it. */
static void lookup_miss(struct umn_regcache *rc, unsigned long addr, size_t len)
{
	struct umn_regcache_handle *h;
	int ret;

	/* What bypassed libc only userfaultfd saw, later: wait for it. */
	umn_proc_uffd_sync();
	ret = umn_regcache_lookup(rc, addr, len, true, &h);
	expect(ret == -ENOENT, "lookup misses: it was invalidated");
	if (!ret)
		umn_regcache_release(h);
}

int main(void)
{
	struct umn_regcache_stats st;
	struct umn_regcache *rc;
	unsigned long buf, block;
	unsigned char vec;
	bool hidden;
	int sources;

	sources = umn_proc_start(UMN_PROC_ALL);
	if (sources < 0) {
		fprintf(stderr, "umn_proc_start: %s\n", strerror(-sources));
		return 1;
	}
#ifdef EXAMPLE_BREAK /* a test's planted bug (examples/CMakeLists.txt) */
	umn_proc_stop(UMN_PROC_ALL); /* the cache hears no invalidation */
#endif
	printf("sources:%s%s\n", sources & UMN_PROC_HOOKS ? " hooks" : "",
	       sources & UMN_PROC_UFFD ? " uffd" : "");
	pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (umn_regcache_create(umn_proc_mm(), &mlock_ops, NULL, 0, &rc))
		return 1;

	/* 1. A buffer of its own mapping: register, hit, munmap, miss. */
	buf = (unsigned long)mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == (unsigned long)MAP_FAILED)
		return 1;
	memset((void *)buf, 1, 4 * PAGE);
	hidden = !pfn_of(buf);
	if (hidden)
		printf("note: PFNs are hidden (no CAP_SYS_ADMIN): frames 0\n");
	register_buffer(rc, buf, 4 * PAGE);
	lookup_hit(rc, buf + 100, 2 * PAGE);
	munmap((void *)buf, 4 * PAGE);
	lookup_miss(rc, buf, PAGE);

	/* 2. A large malloc block: free() unmaps it inside libc. */
	block = (unsigned long)malloc(1 << 20);
	if (!block)
		return 1;
	memset((void *)block, 2, 1 << 20);
	register_buffer(rc, block, 1 << 20);
	lookup_hit(rc, block, 1 << 20);
	free((void *)block);
	/* An allocator may keep it (ASan's quarantine): then no miss is due. */
	if (mincore((void *)(block & ~(PAGE - 1)), PAGE, &vec) &&
	    errno == ENOMEM)
		lookup_miss(rc, block, 1 << 20);
	else
		printf("note: the allocator kept the block mapped\n");

	umn_regcache_stats(rc, &st);
	printf("registrations %lu, hits %lu, invalidations %lu\n",
	       st.registrations, st.hits, st.invalidations);
	expect(!umn_regcache_destroy(rc), "destroy");
	if (failed)
		return 3; /* the check found the contract broken */
	if (hidden) {
		printf("skipped: PFNs are hidden (no CAP_SYS_ADMIN): the "
		       "frames compared were all 0\n");
		return 77;
	}
	return 0;
}
