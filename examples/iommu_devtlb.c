// SPDX-License-Identifier: MIT
/*
 * examples/iommu_devtlb.c - an IOMMU-like device TLB over the soft MMU.
 *
 * A device doing DMA with shared virtual addresses (Intel SVM, AMD
 * IOMMUv2) caches the primary's translations in its IOTLB.  It needs no
 * sequence number: it fills an entry inside the primary's page-table walk,
 * under the page-table lock (PTL), and the primary calls ->invalidate_range
 * under that lock right after it changed the entry.  A fill comes before
 * the change, and is flushed, or after it, and is fresh:
 *
 *	device (IOTLB miss)		primary, between start and end
 *	lock PTL, read the PTE,		lock PTL, clear the PTE,
 *	fill the IOTLB, unlock PTL	->invalidate_range: flush the IOTLB,
 *					unlock PTL; end; free the frame
 *
 * ->invalidate_range must not sleep: a spinlock.  A transfer holds it too,
 * as hardware finishes a transfer before it acknowledges a flush.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <umn/notifier.h>
#include <umn/soft.h>

#define PAGE   UMN_PAGE_SIZE
#define NPAGES 64
#define NSLOTS 32    /* a direct-mapped IOTLB of 4 KiB entries */
#ifdef EXAMPLE_BREAK /* with the bug planted for a test (no flush), 2. */
#define OPS 0	     /* would DMA into freed frames: a crash, no verdict */
#else
#define OPS 2000
#endif
#define container_of(ptr, type, member) \
	((type *)((char *)(ptr)-offsetof(type, member)))

struct iommu {
	pthread_spinlock_t lock; /* guards everything below */
	struct umn_notifier mn;
	struct iotlb_entry {
		unsigned long addr, frame, gen; /* gen: the frame's, at fill */
		bool valid;
	} slot[NSLOTS];
	unsigned long fills, flushed, stale; /* stale must stay 0 */
};

static struct umn_soft_frames *frames;
static struct umn_soft_mm *sm;
static struct iommu iommu;
static unsigned long buf, reads, wrong; /* wrong: data not the page's */
static bool done;

/* ->invalidate_range: the PTEs of [start, end) just changed; the PTL is
 * held.  Atomic context: must not sleep. */
static void iommu_invalidate_range(struct umn_notifier *mn, struct umn_mm *mm,
				   unsigned long start, unsigned long end)
{
	struct iommu *io = container_of(mn, struct iommu, mn);
	struct iotlb_entry *e;

	(void)mm;
	pthread_spin_lock(&io->lock);
	for (e = io->slot; e < io->slot + NSLOTS; e++) {
		if (e->valid && e->addr >= start && e->addr < end) {
#ifndef EXAMPLE_BREAK /* a test's planted bug (examples/CMakeLists.txt) */
			e->valid = false;
#endif
			io->flushed++;
		}
	}
	pthread_spin_unlock(&io->lock);
}

/* ->release: the address space goes away, or the device detaches. */
static void iommu_release(struct umn_notifier *mn, struct umn_mm *mm)
{
	iommu_invalidate_range(mn, mm, 0, UMN_SOFT_TASK_SIZE);
}

static const struct umn_notifier_ops iommu_ops = {
	.name = "iommu",
	.invalidate_range = iommu_invalidate_range,
	.release = iommu_release,
};

/* umn_soft_lookup()'s callback, under the PTL of the entry: fill. */
static void fill(void *arg, const struct umn_soft_translation *t)
{
	struct iommu *io = arg;

	pthread_spin_lock(&io->lock);
	io->slot[t->base / PAGE % NSLOTS] =
		(struct iotlb_entry){ t->base, t->frame, t->gen, true };
	io->fills++;
	pthread_spin_unlock(&io->lock);
}

/* The device reads a word at @addr: through the IOTLB, or on a miss a
 * walk of the primary (and a page request, as PCIe PRI, if not present). */
static int dma_read(struct iommu *io, unsigned long addr, unsigned long *val)
{
	struct iotlb_entry *e = &io->slot[addr / PAGE % NSLOTS];
	int ret;

	for (;;) {
		pthread_spin_lock(&io->lock);
		if (e->valid && e->addr == (addr & ~(PAGE - 1))) {
			/* The transfer, under the lock that a flush takes. */
			if (umn_soft_frame_gen(frames, e->frame) != e->gen)
				io->stale++; /* freed: the flush was missed */
			else
				umn_soft_frame_read(frames, e->frame, 0,
						    addr % PAGE, val,
						    sizeof(*val));
			pthread_spin_unlock(&io->lock);
			return 0;
		}
		pthread_spin_unlock(&io->lock);
		ret = umn_soft_lookup(sm, addr, false, fill, io, NULL);
		if (ret == -EFAULT) /* not present (or swapped out) */
			ret = umn_soft_fault(sm, addr, false);
		if (ret)
			return ret; /* not mapped: a DMA fault */
	}
}

/* Each page holds its number + 1 at offset 0, or 0 once discarded. */
static void *device(void *arg)
{
	unsigned int seed = 1, page;
	unsigned long val = 0;

	while (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
		page = (unsigned int)rand_r(&seed) % NPAGES;
		__atomic_add_fetch(&reads, 1, __ATOMIC_RELAXED);
		if (!dma_read(arg, buf + page * PAGE, &val) && val &&
		    val != page + 1)
			wrong++;
		sched_yield(); /* leave the primary room to take its locks */
	}
	return NULL;
}

int main(void)
{
	unsigned long i, a, n, val;
	struct iotlb_entry *e;
	pthread_t thread;

	pthread_spin_init(&iommu.lock, PTHREAD_PROCESS_PRIVATE);
	if (umn_soft_frames_create(NULL, &frames) ||
	    umn_soft_mm_create(frames, &sm) ||
	    umn_soft_mmap(sm, 0, NPAGES * PAGE,
			  UMN_SOFT_PROT_READ | UMN_SOFT_PROT_WRITE, 0, &buf) ||
	    umn_notifier_register(&iommu.mn, &iommu_ops, umn_soft_mm_umn(sm)))
		return 1;
	for (i = 0; i < NPAGES; i++) /* what device() expects to read */
		umn_soft_write(sm, buf + i * PAGE, &(unsigned long){ i + 1 },
			       sizeof(unsigned long));

	/* 1. One flush: the device caches page 0, the primary migrates it. */
	dma_read(&iommu, buf, &val);
	e = &iommu.slot[buf / PAGE % NSLOTS];
	umn_soft_migrate(sm, buf);
	printf("1. The IOTLB caches page 0; the primary migrates it: %s\n",
	       e->valid ? "NOT FLUSHED" : "flushed under the PTL, then freed");
	iommu.stale += e->valid;

	/* 2. The device does DMA while the primary changes the buffer. */
	pthread_create(&thread, NULL, device, &iommu);
	for (i = 0; i < OPS; i++) {
		n = __atomic_load_n(&reads, __ATOMIC_RELAXED) + 8;
		while (__atomic_load_n(&reads, __ATOMIC_RELAXED) < n)
			sched_yield(); /* the device reads between changes */
		a = buf + (i * 37) % (NPAGES - 4) * PAGE;
		if (i % 5 == 0) /* replaced by a new mapping */
			umn_soft_mmap(sm, a, 4 * PAGE, UMN_SOFT_PROT_READ,
				      UMN_SOFT_MAP_FIXED, &a);
		else if (i % 5 == 1) /* compaction moves the page */
			umn_soft_migrate(sm, a);
		else if (i % 5 == 2) /* memory pressure swaps it out */
			umn_soft_reclaim(sm, a);
		else if (i % 5 == 3) /* write-back write-protects it */
			umn_soft_clean(sm, a);
		else /* madvise(MADV_DONTNEED) drops it */
			umn_soft_madvise_dontneed(sm, a, 2 * PAGE);
	}
	__atomic_store_n(&done, true, __ATOMIC_RELEASE);
	pthread_join(thread, NULL);
	printf("2. %d changes (replace, migrate, reclaim, clean, discard);\n"
	       "   %lu DMA reads, %lu IOTLB fills, %lu entries flushed by "
	       "invalidate_range\n",
	       OPS, reads, iommu.fills, iommu.flushed);

	/* 3. The device detaches (->release flushes all), the mm goes. */
	umn_notifier_unregister(&iommu.mn);
	umn_soft_mm_destroy(sm);
	iommu.stale += umn_soft_frames_destroy(frames) != 0; /* a leak */
	printf("%s: %lu reads of a freed frame, %lu of wrong data\n",
	       iommu.stale || wrong ? "FAIL" : "ok", iommu.stale, wrong);
	return iommu.stale || wrong ? 3 : 0; /* 3: the check failed */
}
