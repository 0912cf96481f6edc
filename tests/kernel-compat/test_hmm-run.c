// SPDX-License-Identifier: MIT
/*
 * tests/kernel-compat/test_hmm-run.c - Linux's lib/test_hmm.c dmirror,
 * its code unchanged (extracted by run.sh and placed above this file, in
 * one translation unit), run over umn's soft MMU under torture with a
 * coherence oracle.  This file is what the kernel would be around the
 * driver: the definitions that kernel.h and test_hmm.h only declared
 * (allocation, mutexes, an XArray, struct page over soft-MMU frames), and
 * the threads that play the CPU, the device and the OOM reaper.
 *
 * Threads, for --seconds: two run the soft MMU's operations on the window
 * (tools/soft_mix.c); two are devices, each faulting random ranges through
 * the driver's dmirror_fault() and reading through its dmirror_do_read();
 * one takes snapshots with dmirror_snapshot(), whose interval notifier
 * lives on its stack, unzeroed; one is an OOM reaper firing non-blockable
 * ranges, which the driver refuses when its mutex is taken.
 *
 * The oracle.  A device entry that outlives the CPU's translation is a
 * device's use-after-free; each counts one stale entry:
 *  1. after each fault, under the page-table lock of the CPU's entry
 *     (umn_soft_lookup()'s fill callback) and the driver's mutex, the
 *     driver's XArray entry for the page is absent, or maps the CPU's
 *     frame and 4 KiB, and is writable only if the CPU's is;
 *  2. when the soft MMU frees a frame, no XArray entry maps it.
 *
 * Built with -DKC_BREAK=1 (no mmu_interval_set_seq()) or 2 (no
 * mmu_interval_read_retry()), see test_hmm.h, the run must find a stale
 * entry and exit 3: the oracle can fail.
 *
 * Exit: 0 nothing stale in at least MIN_CHECKS checks, 1 nothing stale but
 * fewer checks, 2 usage or setup error, 3 stale entries.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "../../tools/findings.h"
#include "../soft_torture.h"

#define WIN_PAGES  1024UL
#define MIN_CHECKS 2000UL

static struct umn_soft_frames *frames;
static struct umn_soft_mm *sm;
static struct mm_struct *kmm;
static struct dmirror *dm; /* NULL when the oracle must not look */
static struct dmirror_device kc_device;
static unsigned long win, seed;
static double seconds = 3;
static struct findings found; /* the oracle's, and the run's end */
static unsigned long checks, frees, snapshots, snapshot_errors;
static struct soft_torture torture; /* the primaries and the reaper */

/* ---- the kernel around the driver ------------------------------------ */

unsigned long jiffies; /* never advances: no driver timeout fires */

unsigned long msecs_to_jiffies(unsigned int ms)
{
	return ms;
}

void *kzalloc(size_t size, gfp_t gfp)
{
	(void)gfp;
	return calloc(1, size);
}

void kfree(const void *p)
{
	free((void *)p);
}

void mutex_init(struct mutex *m)
{
	pthread_mutex_init(&m->m, NULL);
}

void mutex_lock(struct mutex *m)
{
	pthread_mutex_lock(&m->m);
}

int mutex_trylock(struct mutex *m)
{
	return pthread_mutex_trylock(&m->m) == 0;
}

void mutex_unlock(struct mutex *m)
{
	pthread_mutex_unlock(&m->m);
}

/* A page: 4 KiB of a soft-MMU frame.  One object per pfn, kept. */
struct page {
	unsigned long pfn, frame, subpage;
	struct page *next;
};

#define PAGE_HASH 4096
static struct page *pages[PAGE_HASH];
static pthread_mutex_t pages_lock = PTHREAD_MUTEX_INITIALIZER;

struct page *pfn_to_page(unsigned long pfn)
{
	struct page **head = &pages[pfn % PAGE_HASH], *p;

	pthread_mutex_lock(&pages_lock);
	for (p = *head; p && p->pfn != pfn; p = p->next)
		;
	if (!p && (p = calloc(1, sizeof(*p)))) {
		p->pfn = pfn;
		p->frame = umn_linux_pfn_frame(pfn);
		p->subpage = umn_linux_pfn_subpage(pfn);
		p->next = *head;
		*head = p;
	}
	pthread_mutex_unlock(&pages_lock);
	return p;
}

unsigned long page_to_pfn(struct page *page)
{
	return page->pfn;
}

bool is_device_private_page(const struct page *page)
{
	(void)page;
	return false;
}

bool is_device_coherent_page(const struct page *page)
{
	(void)page;
	return false;
}

bool is_zero_pfn(unsigned long pfn)
{
	(void)pfn;
	return false;
}

struct dmirror_device *dmirror_page_to_device(struct page *page)
{
	(void)page;
	return NULL;
}

void dmirror_device_evict_chunk(struct dmirror_chunk *chunk)
{
	(void)chunk;
}

void memcpy_from_page(void *to, struct page *page, size_t off, size_t len)
{
	umn_soft_frame_read(frames, page->frame, page->subpage, off, to, len);
}

unsigned long copy_to_user(void *to, const void *from, unsigned long n)
{
	memcpy(to, from, n);
	return 0;
}

/* An XArray: sorted indices, under a mutex. */
struct kc_xa {
	pthread_mutex_t lock;
	unsigned long n, cap, *index;
	void **entry;
};

void xa_init(struct xarray *xa)
{
	struct kc_xa *x = calloc(1, sizeof(*x));

	pthread_mutex_init(&x->lock, NULL);
	xa->xa = x;
}

void xa_destroy(struct xarray *xa)
{
	struct kc_xa *x = xa->xa;

	free(x->index);
	free(x->entry);
	free(x);
}

/* The first slot whose index is >= @index. */
static unsigned long xa_slot(struct kc_xa *x, unsigned long index)
{
	unsigned long lo = 0, hi = x->n, mid;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		if (x->index[mid] < index)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void *xa_store(struct xarray *xa, unsigned long index, void *entry, gfp_t gfp)
{
	struct kc_xa *x = xa->xa;
	unsigned long i;
	void *old = NULL;

	(void)gfp;
	pthread_mutex_lock(&x->lock);
	i = xa_slot(x, index);
	if (i < x->n && x->index[i] == index) {
		old = x->entry[i];
		x->entry[i] = entry;
	} else {
		if (x->n == x->cap) {
			x->cap = x->cap ? 2 * x->cap : 64;
			x->index = realloc(x->index, x->cap * sizeof(long));
			x->entry = realloc(x->entry, x->cap * sizeof(void *));
		}
		memmove(&x->index[i + 1], &x->index[i],
			(x->n - i) * sizeof(long));
		memmove(&x->entry[i + 1], &x->entry[i],
			(x->n - i) * sizeof(void *));
		x->index[i] = index;
		x->entry[i] = entry;
		x->n++;
	}
	pthread_mutex_unlock(&x->lock);
	return old;
}

void *xa_load(struct xarray *xa, unsigned long index)
{
	struct kc_xa *x = xa->xa;
	unsigned long i;
	void *e = NULL;

	pthread_mutex_lock(&x->lock);
	i = xa_slot(x, index);
	if (i < x->n && x->index[i] == index)
		e = x->entry[i];
	pthread_mutex_unlock(&x->lock);
	return e;
}

void *xa_erase(struct xarray *xa, unsigned long index)
{
	struct kc_xa *x = xa->xa;
	unsigned long i;
	void *e = NULL;

	pthread_mutex_lock(&x->lock);
	i = xa_slot(x, index);
	if (i < x->n && x->index[i] == index) {
		e = x->entry[i];
		memmove(&x->index[i], &x->index[i + 1],
			(x->n - i - 1) * sizeof(long));
		memmove(&x->entry[i], &x->entry[i + 1],
			(x->n - i - 1) * sizeof(void *));
		x->n--;
	}
	pthread_mutex_unlock(&x->lock);
	return e;
}

void *xa_find(struct xarray *xa, unsigned long *index, unsigned long max,
	      unsigned int filter)
{
	struct kc_xa *x = xa->xa;
	unsigned long i;
	void *e = NULL;

	(void)filter;
	pthread_mutex_lock(&x->lock);
	i = xa_slot(x, *index);
	if (i < x->n && x->index[i] <= max) {
		*index = x->index[i];
		e = x->entry[i];
	}
	pthread_mutex_unlock(&x->lock);
	return e;
}

void *xa_find_after(struct xarray *xa, unsigned long *index, unsigned long max,
		    unsigned int filter)
{
	if (*index == max)
		return NULL;
	++*index;
	return xa_find(xa, index, max, filter);
}

/* ---- the oracle ------------------------------------------------------- */

static bool stopping(void)
{
	return findings_stopping(&found);
}

static void count(unsigned long *c)
{
	__atomic_fetch_add(c, 1, __ATOMIC_RELAXED);
}

static void found_stale(const char *what, unsigned long addr,
			unsigned long frame)
{
	findings_add(&found, "%s: device entry for %#lx maps frame %lu", what,
		     addr, frame);
}

/* Oracle 1, under the PTL of the CPU's entry @t for *@arg. */
static void check_fill(void *arg, const struct umn_soft_translation *t)
{
	unsigned long addr = *(unsigned long *)arg;
	unsigned long sub = (t->size == PAGE_SIZE ? t->subpage : 0) +
			    ((addr - t->base) >> PAGE_SHIFT);
	struct page *page;
	void *entry;
	bool write;

	mutex_lock(&dm->mutex);
	entry = xa_load(&dm->pt, addr >> PAGE_SHIFT);
	page = xa_untag_pointer(entry);
	write = ((unsigned long)entry & 3) == DPT_XA_TAG_WRITE;
	if (page && (page->frame != t->frame || page->subpage != sub ||
		     (write && !t->writable)))
		found_stale("after a fault, not the CPU's", addr, page->frame);
	mutex_unlock(&dm->mutex);
}

/* Oracle 2: the soft MMU frees @frame. */
static void free_hook(void *arg, unsigned long frame, unsigned long gen)
{
	struct dmirror *d = __atomic_load_n(&dm, __ATOMIC_ACQUIRE);
	unsigned long index = 0;
	struct page *page;
	void *entry;

	(void)arg, (void)gen;
	if (!d)
		return;
	mutex_lock(&d->mutex);
	xa_for_each_range(&d->pt, index, entry, 0, ULONG_MAX) {
		page = xa_untag_pointer(entry);
		if (page->frame == frame)
			found_stale("frame freed", index << PAGE_SHIFT, frame);
	}
	mutex_unlock(&d->mutex);
	count(&frees);
}

/* ---- the threads ------------------------------------------------------ */

static void *primary(void *arg)
{
	soft_mix_run(&torture.mix, (int)(long)arg, seed);
	return NULL;
}

static void *device(void *arg)
{
	unsigned long s = seed * 2654435761UL + (unsigned long)arg + 1;
	unsigned long first, n, addr, buf[PAGE_SIZE / sizeof(long)];
	struct dmirror_bounce bounce = { .ptr = buf, .size = PAGE_SIZE };
	bool planted = false;

#ifdef KC_BREAK
	planted = true;
#endif
	while (!stopping()) {
		first = soft_mix_rnd(&s) % WIN_PAGES;
		n = 1 + soft_mix_rnd(&s) % 16;
		if (first + n > WIN_PAGES)
			n = WIN_PAGES - first;
		dmirror_fault(dm, win + first * PAGE_SIZE,
			      win + (first + n) * PAGE_SIZE,
			      soft_mix_rnd(&s) & 1);
		addr = win + (first + soft_mix_rnd(&s) % n) * PAGE_SIZE;
		/* The device's DMA through its entries (not with a planted
		 * bug: a stale entry's frame may be gone). */
		if (!planted && soft_mix_rnd(&s) % 8 == 0) {
			bounce.addr = addr;
			mutex_lock(&dm->mutex);
			dmirror_do_read(dm, addr, addr + PAGE_SIZE, &bounce);
			mutex_unlock(&dm->mutex);
		}
		umn_soft_lookup(sm, addr, false, check_fill, &addr, NULL);
		count(&checks);
		if (planted && soft_mix_rnd(&s) % 4 == 0)
			sched_yield();
	}
	return NULL;
}

/* dmirror_snapshot(): an interval notifier on its stack, unzeroed. */
static void *snapshotter(void *arg)
{
	unsigned long s = seed * 69069UL + 11, i;
	unsigned char perm[64];
	struct hmm_dmirror_cmd cmd;

	(void)arg;
	while (!stopping()) {
		memset(&cmd, 0, sizeof(cmd));
		cmd.npages = 1 + soft_mix_rnd(&s) % 64;
		cmd.addr = win +
			   (soft_mix_rnd(&s) % (WIN_PAGES - cmd.npages + 1)) *
				   PAGE_SIZE;
		cmd.ptr = (u64)(uintptr_t)perm;
		if (dmirror_snapshot(dm, &cmd) || cmd.cpages != cmd.npages) {
			count(&snapshot_errors);
			continue;
		}
		for (i = 0; i < cmd.npages; i++)
			if (perm[i] &
			    ~(HMM_DMIRROR_PROT_READ | HMM_DMIRROR_PROT_WRITE |
			      HMM_DMIRROR_PROT_PMD))
				count(&snapshot_errors);
		count(&snapshots);
		usleep(100);
	}
	return NULL;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int setup(struct file *filp)
{
	struct umn_soft_frames_config cfg = { .free_hook = free_hook };
	struct inode inode = { .i_cdev = &kc_device.cdevice };

	if (umn_soft_frames_create(&cfg, &frames) ||
	    umn_soft_mm_create(frames, &sm) ||
	    umn_linux_mm_create(umn_soft_mm_umn(sm), sm, &kmm) ||
	    umn_soft_mmap(sm, 0, WIN_PAGES * PAGE_SIZE,
			  UMN_SOFT_PROT_READ | UMN_SOFT_PROT_WRITE,
			  UMN_SOFT_MAP_THP, &win))
		return -1;
	umn_linux_use_mm(kmm); /* the process that opens the device */
	soft_torture_init(&torture, sm, kmm, win, WIN_PAGES, seed, stopping);
	if (dmirror_fops_open(&inode, filp))
		return -1;
	__atomic_store_n(&dm, filp->private_data, __ATOMIC_RELEASE);
	return 0;
}

int main(int argc, char **argv)
{
	pthread_t th[6];
	struct inode inode = { .i_cdev = &kc_device.cdevice };
	struct file filp = { 0 };
	double start;
	bool leaked;
	int i, n = 0;

	for (i = 1; i + 1 < argc; i += 2)
		if (!strcmp(argv[i], "--seconds"))
			seconds = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--seed"))
			seed = strtoul(argv[i + 1], NULL, 0);
	if (i != argc || seconds <= 0) {
		fprintf(stderr,
			"usage: test_hmm-run [--seconds N] [--seed S]\n");
		return 2;
	}
	if (!seed)
		seed = (unsigned long)time(NULL) ^ (unsigned long)getpid();
	if (setup(&filp)) {
		fprintf(stderr, "test_hmm-run: setup failed\n");
		return 2;
	}
	start = now();
	for (i = 0; i < 2; i++)
		pthread_create(&th[n++], NULL, primary, (void *)(long)i);
	for (i = 0; i < 2; i++)
		pthread_create(&th[n++], NULL, device, (void *)(long)i);
	pthread_create(&th[n++], NULL, snapshotter, NULL);
	pthread_create(&th[n++], NULL, soft_torture_reaper, &torture);
	while (!stopping() && now() - start < seconds)
		usleep(20000);
	findings_stop(&found);
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);

	__atomic_store_n(&dm, NULL, __ATOMIC_RELEASE);
	dmirror_fops_release(&inode, &filp);
	umn_soft_mm_destroy(sm);
	mmput(kmm);
	leaked = umn_soft_frames_destroy(frames) != 0;
	printf("test_hmm-run: seed %lu, %.1f s; %lu snapshots (%lu wrong); "
	       "reaper %lu ranges, %lu refused; oracle: %lu checks under the "
	       "PTL, %lu frees checked: %lu stale\n",
	       seed, now() - start, snapshots, snapshot_errors,
	       torture.reaper_starts, torture.reaper_refused, checks, frees,
	       found.count);
	if (found.count) {
		printf("  first finding: %s\n", found.first);
		return 3;
	}
	if (leaked || snapshot_errors || checks < MIN_CHECKS || !snapshots) {
		printf("test_hmm-run: %s\n",
		       leaked		 ? "frames left allocated: a leak"
		       : snapshot_errors ? "a snapshot failed or was wrong"
					 : "too little tested");
		return 1;
	}
	return 0;
}
