// SPDX-License-Identifier: MIT
/*
 * tests/proc/regcache_pin.c - the oracle (/proc/self/pagemap) and the pin
 * that holds page references (see regcache_test.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "regcache_test.h"

#define PM_PRESENT (1ULL << 63)
#define PM_PFN	   ((1ULL << 55) - 1)

static int pagemap = -1;

void pagemap_open(void)
{
	pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
}

/* Read the PFNs of @n pages from @addr into @pfn (0: not present). */
static int pfns(unsigned long addr, unsigned long n, unsigned long *pfn)
{
	uint64_t e[64];
	unsigned long i, k;
	ssize_t got;

	while (n) {
		k = n < 64 ? n : 64;
		got = pread(pagemap, e, k * sizeof(e[0]),
			    (off_t)(addr / PAGE * sizeof(e[0])));
		if (got != (ssize_t)(k * sizeof(e[0])))
			return got < 0 ? -errno : -EIO;
		for (i = 0; i < k; i++)
			pfn[i] = (e[i] & PM_PRESENT) ? e[i] & PM_PFN : 0;
		addr += k * PAGE;
		pfn += k;
		n -= k;
	}
	return 0;
}

unsigned long pfn_now(unsigned long addr)
{
	unsigned long pfn;

	return pfns(addr, 1, &pfn) ? 0 : pfn;
}

bool pfns_readable(void)
{
	static volatile char probe[2 * PAGE];
	unsigned long addr = ((unsigned long)probe + PAGE - 1) & ~(PAGE - 1);

	if (pagemap < 0)
		return false;
	*(volatile char *)addr = 1;
	return pfn_now(addr) != 0;
}

unsigned long stale_pages(const struct umn_regcache_handle *h,
			  unsigned long addr, unsigned long len)
{
	unsigned long s = addr & ~(PAGE - 1),
		      e = (addr + len + PAGE - 1) & ~(PAGE - 1);
	unsigned long pfn[64], i, k, n = 0;

	for (; s < e; s += k * PAGE) {
		k = (e - s) / PAGE < 64 ? (e - s) / PAGE : 64;
		if (pfns(s, k, pfn))
			return k; /* unreadable: count it, the check reports */
		for (i = 0; i < k; i++)
			n += h->pages[(s - h->addr) / PAGE + i].frame != pfn[i];
	}
	return n;
}

/* The references of one pin: pipes into which its pages were spliced. */
struct hold {
	unsigned long npipes;
	int fd[][2];
};

static unsigned long pipe_pages; /* pages a pipe can hold (pipe-max-size) */
__thread bool pin_collide_next;
unsigned long pin_calls;

static void hold_free(struct hold *hold)
{
	unsigned long i;

	for (i = 0; i < hold->npipes; i++) {
		close(hold->fd[i][0]);
		close(hold->fd[i][1]);
	}
	free(hold);
}

/* Splice @n pages from @addr into a new pipe of @hold. */
static int hold_add(struct hold *hold, unsigned long addr, unsigned long n)
{
	int *fd = hold->fd[hold->npipes];
	struct iovec iov;
	ssize_t got;

	if (pipe2(fd, O_CLOEXEC))
		return -errno;
	hold->npipes++;
	if (n > 16 && fcntl(fd[1], F_SETPIPE_SZ, (int)(n * PAGE)) < 0)
		return -errno;
	iov.iov_base = (void *)addr;
	iov.iov_len = n * PAGE;
	while (iov.iov_len) {
		got = vmsplice(fd[1], &iov, 1, SPLICE_F_NONBLOCK);
		if (got <= 0)
			return got < 0 ? -errno : -EFAULT;
		iov.iov_base = (char *)iov.iov_base + got;
		iov.iov_len -= (size_t)got;
	}
	return 0;
}

static unsigned long pipe_capacity(void)
{
	unsigned long max = 0;
	FILE *f = fopen("/proc/sys/fs/pipe-max-size", "r");

	if (f) {
		if (fscanf(f, "%lu", &max) != 1)
			max = 0;
		fclose(f);
	}
	max /= PAGE;
	return max < 16 ? 16 : max > 256 ? 256 : max;
}

static void collide(unsigned long addr, unsigned long npages)
{
	void *p = mmap((void *)addr, npages * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);

	if (p == MAP_FAILED) {
		perror("collide: mmap");
		exit(1);
	}
	memset(p, 0x5a, npages * PAGE);
	uffd_settle();
}

static int ref_pin(void *arg, unsigned long addr, unsigned long npages,
		   bool write, struct umn_regcache_page *pages)
{
	unsigned long i, n, pipes, pfn[64], k, cap;
	struct hold *hold;
	int ret;

	(void)arg;
	__atomic_add_fetch(&pin_calls, 1, __ATOMIC_RELAXED);
	cap = __atomic_load_n(&pipe_pages, __ATOMIC_RELAXED);
	if (!cap) {
		cap = pipe_capacity();
		__atomic_store_n(&pipe_pages, cap, __ATOMIC_RELAXED);
	}
	/* Fault in (writable: a write pin breaks copy-on-write).  The raw
	 * call: this changes no translation, so no source need see it. */
	if (syscall(SYS_madvise, addr, npages * PAGE,
		    write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ))
		return -errno;
	pipes = (npages + cap - 1) / cap;
	hold = calloc(1, sizeof(*hold) + pipes * sizeof(hold->fd[0]));
	if (!hold)
		return -ENOMEM;
	for (i = 0; i < npages; i += n) {
		n = npages - i < cap ? npages - i : cap;
		ret = hold_add(hold, addr + i * PAGE, n);
		if (ret)
			goto fail;
	}
	for (i = 0; i < npages; i += k) {
		k = npages - i < 64 ? npages - i : 64;
		ret = pfns(addr + i * PAGE, k, pfn);
		if (ret)
			goto fail;
		for (n = 0; n < k; n++)
			pages[i + n] =
				(struct umn_regcache_page){ pfn[n], 0, 0 };
	}
	pages[0].gen = (unsigned long)hold;
	if (pin_collide_next) {
		pin_collide_next = false;
		collide(addr, npages);
	}
	return 0;

fail:
	hold_free(hold);
	return ret;
}

static void ref_unpin(void *arg, unsigned long npages,
		      const struct umn_regcache_page *pages)
{
	(void)arg;
	(void)npages;
	hold_free((struct hold *)pages[0].gen);
}

const struct umn_regcache_ops ref_ops = {
	.pin = ref_pin,
	.unpin = ref_unpin,
};

struct umn_regcache *start_regcache(unsigned int sources, unsigned int flags)
{
	struct umn_regcache *rc;
	int ret = umn_proc_start(sources);

	if (ret == -ENOSYS)
		skip("source %s cannot work here (umn_proc_start: %s)",
		     sources_name(sources), strerror(-ret));
	if (ret < 0) {
		printf("umn_proc_start(%s): %s\n", sources_name(sources),
		       strerror(-ret));
		exit(1);
	}
	if ((unsigned int)ret != sources)
		printf("note: asked for %s, got %s\n", sources_name(sources),
		       sources_name((unsigned int)ret));
	ret = umn_regcache_create(umn_proc_mm(), &ref_ops, NULL, flags, &rc);
	if (ret) {
		printf("umn_regcache_create: %s\n", strerror(-ret));
		exit(1);
	}
	return rc;
}

void uffd_settle(void)
{
	if (umn_proc_sources() & UMN_PROC_UFFD)
		umn_proc_uffd_sync();
}

unsigned long map_pages(unsigned long npages)
{
	void *p = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	memset(p, 1, npages * PAGE);
	return (unsigned long)p;
}

int start_thread(pthread_t *thread, void *(*fn)(void *), void *arg)
{
	const size_t size = 1 << 20;
	pthread_attr_t attr;
	void *stack;
	int ret;

	if (!TSAN)
		return pthread_create(thread, NULL, fn, arg);
	/* Never freed: a test makes a handful. */
	stack = mmap(NULL, size, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED)
		return errno;
	pthread_attr_init(&attr);
	pthread_attr_setstack(&attr, stack, size);
	ret = pthread_create(thread, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	return ret;
}
