// SPDX-License-Identifier: MIT
/*
 * examples/linux_hmm_mirror.c - a device that mirrors a window of an
 * address space, written as a Linux driver (the pattern of the kernel's
 * lib/test_hmm.c "dmirror", written anew), compiled against
 * <umn/linux/mmu_notifier.h> and run over umn's soft MMU.
 *
 * The device has its own page table, one entry per 4 KiB page, and an
 * interval notifier over the window:
 *
 *	fault:		seq = mmu_interval_read_begin(); walk the CPU page
 *			table (hmm_range_fault); mutex_lock;
 *			mmu_interval_read_retry(seq)? unlock, again; install
 *	invalidate:	mutex_lock (trylock if the range is not blockable);
 *			mmu_interval_set_seq(cur_seq); zap the range
 *
 * The kernel glue stands in for what Linux gives a driver; with main(),
 * which plays the CPU and the kernel's mm, it is the only code that knows
 * the soft MMU.  The driver between them uses only kernel names.
 * tests/linux_dmirror.c includes this file (DMIRROR_NO_MAIN) to run the
 * same driver under torture.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <umn/linux/mmu_notifier.h>
#include <umn/soft.h>

/* ---- kernel glue: what Linux gives a driver, over the soft MMU -------- */

#define PAGE_SHIFT UMN_PAGE_SHIFT
#define PAGE_SIZE  UMN_PAGE_SIZE
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr)-offsetof(type, member)))
#define GFP_KERNEL	      0
#define kzalloc(size, gfp)    calloc(1, size)
#define kcalloc(n, size, gfp) calloc(n, size)
#define kfree(p)	      free(p)

struct mutex {
	pthread_mutex_t lock;
};

#define mutex_init(m)	 pthread_mutex_init(&(m)->lock, NULL)
#define mutex_destroy(m) pthread_mutex_destroy(&(m)->lock)
#define mutex_lock(m)	 pthread_mutex_lock(&(m)->lock)
#define mutex_trylock(m) (pthread_mutex_trylock(&(m)->lock) == 0)
#define mutex_unlock(m)	 pthread_mutex_unlock(&(m)->lock)

typedef struct {
	long counter;
} atomic_long_t;

#define atomic_long_inc(v) \
	__atomic_fetch_add(&(v)->counter, 1, __ATOMIC_RELAXED)
#define atomic_long_read(v) __atomic_load_n(&(v)->counter, __ATOMIC_RELAXED)

/* The soft MMU behind the one mm_struct the driver is given. */
static struct umn_soft_mm *glue_sm;
static struct mm_struct *glue_mm;
static struct umn_soft_frames *glue_frames;
/* If set, called at the end of a walk: a slow walk, for the tests. */
static void (*glue_walk_hook)(void);

/* One page's hmm_pfns[] word: the frame, the 4 KiB of it at this address,
 * the frame's generation (tells a reused frame apart), writability. */
struct hmm_pfn {
	unsigned long frame, subpage, gen;
	bool write;
};

#define HMM_PFN_REQ_WRITE (1UL << 1)

struct hmm_range {
	struct mmu_interval_notifier *notifier;
	unsigned long notifier_seq;
	unsigned long start; /* one page here */
	unsigned long default_flags;
	struct hmm_pfn pfn; /* out */
};

/* Walk the CPU page table at range->start, faulting the page in; -EBUSY if
 * an invalidation collided. */
static int hmm_range_fault(struct hmm_range *range)
{
	bool write = range->default_flags & HMM_PFN_REQ_WRITE;
	struct umn_soft_translation t;
	int ret;

	for (;;) {
		if (mmu_interval_check_retry(range->notifier,
					     range->notifier_seq))
			return -EBUSY;
		ret = umn_soft_lookup(glue_sm, range->start, write, NULL, NULL,
				      &t);
		if (ret != -EFAULT && ret != -EACCES)
			break;
		ret = umn_soft_fault(glue_sm, range->start, write);
		if (ret)
			return ret;
	}
	if (ret)
		return ret;
	range->pfn = (struct hmm_pfn){
		.frame = t.frame,
		.subpage = (t.size == PAGE_SIZE ? t.subpage : 0) +
			   ((range->start - t.base) >> PAGE_SHIFT),
		.gen = t.gen,
		.write = t.writable,
	};
	if (glue_walk_hook)
		glue_walk_hook();
	return 0;
}

/* The device's DMA from the 4 KiB @subpage of @frame. */
#define glue_dma_read(frame, subpage, off, buf, len) \
	umn_soft_frame_read(glue_frames, frame, subpage, off, buf, len)

/* ---- the driver ------------------------------------------------------- */

#define DPTE_VALID (1U << 0)
#define DPTE_WRITE (1U << 1)

struct dmirror_pte {
	unsigned long frame, subpage, gen; /* as struct hmm_pfn */
	unsigned int flags;		   /* DPTE_* */
};

struct dmirror {
	struct mmu_interval_notifier notifier;
	unsigned long start, end; /* the mirrored window */
	struct mutex mutex;	  /* guards pt[] and the counters */
	struct dmirror_pte *pt;	  /* (end - start) >> PAGE_SHIFT entries */
	unsigned long faults, retries, invalidations, zapped;
	atomic_long_t refused; /* non-blockable ranges refused */
};

static void dmirror_zap(struct dmirror *dmirror, unsigned long start,
			unsigned long end)
{
	unsigned long addr;
	struct dmirror_pte *pte;

	start = start > dmirror->start ? start : dmirror->start;
	end = end < dmirror->end ? end : dmirror->end;
	for (addr = start; addr < end; addr += PAGE_SIZE) {
		pte = &dmirror->pt[(addr - dmirror->start) >> PAGE_SHIFT];
		if (pte->flags & DPTE_VALID)
			dmirror->zapped++;
		pte->flags = 0;
	}
}

static bool dmirror_interval_invalidate(struct mmu_interval_notifier *mni,
					const struct mmu_notifier_range *range,
					unsigned long cur_seq)
{
	struct dmirror *dmirror = container_of(mni, struct dmirror, notifier);

	if (mmu_notifier_range_blockable(range))
		mutex_lock(&dmirror->mutex);
	else if (!mutex_trylock(&dmirror->mutex)) {
		atomic_long_inc(&dmirror->refused);
		return false;
	}
	mmu_interval_set_seq(mni, cur_seq);
	dmirror->invalidations++;
	dmirror_zap(dmirror, range->start, range->end);
	mutex_unlock(&dmirror->mutex);
	return true;
}

static const struct mmu_interval_notifier_ops dmirror_mni_ops = {
	.invalidate = dmirror_interval_invalidate,
};

static int dmirror_new(struct mm_struct *mm, unsigned long start,
		       unsigned long size, struct dmirror **dmirrorp)
{
	struct dmirror *dmirror;
	int ret;

	dmirror = kzalloc(sizeof(*dmirror), GFP_KERNEL);
	if (!dmirror)
		return -ENOMEM;
	dmirror->pt =
		kcalloc(size >> PAGE_SHIFT, sizeof(*dmirror->pt), GFP_KERNEL);
	if (!dmirror->pt) {
		ret = -ENOMEM;
		goto err_free;
	}
	mutex_init(&dmirror->mutex);
	dmirror->start = start;
	dmirror->end = start + size;
	ret = mmu_interval_notifier_insert(&dmirror->notifier, mm, start, size,
					   &dmirror_mni_ops);
	if (ret)
		goto err_mutex;
	*dmirrorp = dmirror;
	return 0;

err_mutex:
	mutex_destroy(&dmirror->mutex);
	kfree(dmirror->pt);
err_free:
	kfree(dmirror);
	return ret;
}

static void dmirror_free(struct dmirror *dmirror)
{
	mmu_interval_notifier_remove(&dmirror->notifier);
	mutex_destroy(&dmirror->mutex);
	kfree(dmirror->pt);
	kfree(dmirror);
}

/* Mirror the page at @addr into the device page table. */
static int dmirror_fault(struct dmirror *dmirror, unsigned long addr,
			 bool write)
{
	struct hmm_range range = {
		.notifier = &dmirror->notifier,
		.start = addr & ~(PAGE_SIZE - 1),
		.default_flags = write ? HMM_PFN_REQ_WRITE : 0,
	};
	struct dmirror_pte *pte;
	int ret;

	if (addr < dmirror->start || addr >= dmirror->end)
		return -EINVAL;
again:
	range.notifier_seq = mmu_interval_read_begin(range.notifier);
	ret = hmm_range_fault(&range);
	if (ret == -EBUSY)
		goto again;
	if (ret)
		return ret;

	mutex_lock(&dmirror->mutex);
	if (mmu_interval_read_retry(range.notifier, range.notifier_seq)) {
		dmirror->retries++;
		mutex_unlock(&dmirror->mutex);
		goto again;
	}
	pte = &dmirror->pt[(range.start - dmirror->start) >> PAGE_SHIFT];
	pte->frame = range.pfn.frame;
	pte->subpage = range.pfn.subpage;
	pte->gen = range.pfn.gen;
	pte->flags = DPTE_VALID | (range.pfn.write ? DPTE_WRITE : 0);
	dmirror->faults++;
	mutex_unlock(&dmirror->mutex);
	return 0;
}

/* The device reads @len bytes at @addr (within a page), faulting first. */
static int dmirror_read(struct dmirror *dmirror, unsigned long addr, void *buf,
			unsigned long len)
{
	struct dmirror_pte *pte;
	int ret;

	for (;;) {
		mutex_lock(&dmirror->mutex);
		pte = &dmirror->pt[(addr - dmirror->start) >> PAGE_SHIFT];
		if (pte->flags & DPTE_VALID)
			break;
		mutex_unlock(&dmirror->mutex);
		ret = dmirror_fault(dmirror, addr, false);
		if (ret)
			return ret;
	}
	glue_dma_read(pte->frame, pte->subpage, addr & (PAGE_SIZE - 1), buf,
		      len);
	mutex_unlock(&dmirror->mutex);
	return 0;
}

#ifndef DMIRROR_NO_MAIN
/* The CPU writes and the device reads it; the page migrates and the device
 * follows; the CPU unmaps and the device's entries go. */
int main(void)
{
	const int rw = UMN_SOFT_PROT_READ | UMN_SOFT_PROT_WRITE;
	unsigned long win, len = 64 * PAGE_SIZE, want = 0x5eed, got[2] = { 0 };
	struct dmirror *dmirror;
	bool left;

	if (umn_soft_frames_create(NULL, &glue_frames) ||
	    umn_soft_mm_create(glue_frames, &glue_sm) ||
	    umn_linux_mm_create(umn_soft_mm_umn(glue_sm), glue_sm, &glue_mm) ||
	    umn_soft_mmap(glue_sm, 0, len, rw, 0, &win) ||
	    dmirror_new(glue_mm, win, len, &dmirror))
		return 1;
	umn_soft_write(glue_sm, win + 8, &want, sizeof(want));
	dmirror_read(dmirror, win + 8, &got[0], sizeof(got[0]));
	umn_soft_migrate(glue_sm, win);
	dmirror_read(dmirror, win + 8, &got[1], sizeof(got[1]));
	umn_soft_munmap(glue_sm, win, len);
	left = dmirror->pt[0].flags & DPTE_VALID;
	printf("CPU wrote %#lx; device read %#lx, after migration %#lx; "
	       "%lu faults, %lu invalidations; after munmap the entry is %s\n",
	       want, got[0], got[1], dmirror->faults, dmirror->invalidations,
	       left ? "still there (stale!)" : "gone");
	dmirror_free(dmirror);
	umn_soft_mm_destroy(glue_sm);
	mmput(glue_mm);
	umn_soft_frames_destroy(glue_frames);
	return got[0] != want || got[1] != want || left;
}
#endif
