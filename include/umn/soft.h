/* SPDX-License-Identifier: MIT */
/*
 * umn/soft.h - the soft MMU: a software address space that is a primary MMU.
 *
 * A program that needs a primary MMU it controls (an emulator's guest
 * memory, a user-level pager, a test bench for secondary-MMU code) uses a
 * umn_soft_mm.  It has VMAs, a 4-level page table of 512 entries per level
 * (48-bit addresses) with 4 KiB PTEs, 2 MiB PMD entries and 1 GiB PUD
 * entries, one page-table lock per page-table page, and the operations of
 * Linux mm that change translations.  Every one of them fires the notifier
 * sequence of docs/CONTRACT.md, rule 2, on the soft mm's struct umn_mm (see
 * umn_soft_mm_umn()): start before the page table changes,
 * invalidate_range under the page-table lock right after, end after the
 * locks are dropped, and frames are freed only after end.
 *
 * Frames come from a struct umn_soft_frames, shared by the address spaces
 * that share memory (fork, KSM).  A frame has real data (allocated per
 * 4 KiB on first write), a reference count, a map count, a generation that
 * changes each time it is freed, and a reverse map to its mappings.
 *
 * Errors are negative errno values; a failed call changes nothing.
 */
#ifndef UMN_SOFT_H
#define UMN_SOFT_H

#include <stdbool.h>
#include <umn/mm.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UMN_SOFT_PMD_SIZE  (1UL << 21) /* 2 MiB */
#define UMN_SOFT_PUD_SIZE  (1UL << 30) /* 1 GiB */
#define UMN_SOFT_TASK_SIZE (1UL << 47) /* addresses below it */

/* mmap and mprotect protections. */
#define UMN_SOFT_PROT_NONE  0
#define UMN_SOFT_PROT_READ  (1 << 0)
#define UMN_SOFT_PROT_WRITE (1 << 1)

/* mmap flags. */
#define UMN_SOFT_MAP_SHARED (1 << 0) /* shared by fork; else private, COW */
#define UMN_SOFT_MAP_THP    (1 << 1) /* 2 MiB pages where they fit */
#define UMN_SOFT_MAP_HUGE_1G \
	(1 << 2)		    /* 1 GiB pages (shared only, and the
					  mapping 1 GiB aligned) */
#define UMN_SOFT_MAP_FIXED (1 << 3) /* at addr, replacing what is there */

/* mremap flags. */
#define UMN_SOFT_MREMAP_MAYMOVE (1 << 0)

struct umn_soft_frames;
struct umn_soft_mm;

/**
 * struct umn_soft_frames_config - the frame pool.
 * @max_pages:	how many 4 KiB pages the pool may hand out (a 2 MiB frame
 *		counts 512, a 1 GiB frame 262144; data is allocated only when
 *		written).  0: 1 << 22 (16 GiB).
 * @max_frames:	how many frames may exist at once.  0: 1 << 18.
 * @free_hook:	if set, called with each frame just before it is freed
 *		(its generation still the old one).  Any context.
 * @hook_arg:	passed to @free_hook.
 * @breaks:	0 (reserved for the project's tests).
 */
struct umn_soft_frames_config {
	unsigned long max_pages;
	unsigned long max_frames;
	void (*free_hook)(void *arg, unsigned long frame, unsigned long gen);
	void *hook_arg;
	unsigned int breaks;
};

/**
 * umn_soft_frames_create() - make a frame pool.
 * Context: may sleep.  Return: 0; -EINVAL; -ENOMEM.
 */
UMN_API int umn_soft_frames_create(const struct umn_soft_frames_config *cfg,
				   struct umn_soft_frames **framesp);

/**
 * umn_soft_frames_destroy() - free the pool; every mm of it is destroyed.
 * Return: 0; -EINVAL if @frames is NULL; -EBUSY if a frame is still
 * allocated (nothing is freed).
 */
UMN_API int umn_soft_frames_destroy(struct umn_soft_frames *frames);

/**
 * umn_soft_mm_create() - an empty address space over @frames.
 * Context: may sleep.  Return: 0; -EINVAL; -ENOMEM.
 */
UMN_API int umn_soft_mm_create(struct umn_soft_frames *frames,
			       struct umn_soft_mm **smp);

/**
 * umn_soft_mm_destroy() - tear the address space down.
 *
 * As Linux's exit_mmap: umn_mm_release() (every classic notifier gets
 * ->release), then everything is unmapped with a UMN_EVENT_RELEASE
 * bracket (interval notifiers see it), then the frames are freed.  The
 * struct umn_mm stays until its last reference is dropped.
 *
 * Context: may sleep; no other call on @sm may run or follow.
 */
UMN_API void umn_soft_mm_destroy(struct umn_soft_mm *sm);

/* The core address space whose notifiers hear @sm's invalidations. */
UMN_API struct umn_mm *umn_soft_mm_umn(struct umn_soft_mm *sm);

/**
 * umn_soft_mmap() - map anonymous memory.
 * @addr:	with UMN_SOFT_MAP_FIXED, where (page aligned); otherwise a
 *		hint (0: anywhere).
 * @len:	bytes, > 0; rounded up to pages.
 * @prot:	UMN_SOFT_PROT_*.
 * @flags:	UMN_SOFT_MAP_*.
 * @addrp:	out: where it was mapped.
 *
 * Context: may sleep (takes the mmap lock for writing).
 * Return: 0; -EINVAL (bad alignment, length, prot, flags); -ENOMEM (no
 * room in the address space).
 */
UMN_API int umn_soft_mmap(struct umn_soft_mm *sm, unsigned long addr,
			  unsigned long len, int prot, int flags,
			  unsigned long *addrp);

/* munmap: UMN_EVENT_UNMAP.  Return: 0; -EINVAL. */
UMN_API int umn_soft_munmap(struct umn_soft_mm *sm, unsigned long addr,
			    unsigned long len);

/* mprotect: UMN_EVENT_PROTECTION_VMA.  Return: 0; -EINVAL; -ENOMEM (a hole
 * in the range). */
UMN_API int umn_soft_mprotect(struct umn_soft_mm *sm, unsigned long addr,
			      unsigned long len, int prot);

/* mremap: shrink (UNMAP of the tail), grow in place, or move (UNMAP of the
 * old range).  Return: 0; -EINVAL; -EFAULT (not one mapping); -ENOMEM. */
UMN_API int umn_soft_mremap(struct umn_soft_mm *sm, unsigned long addr,
			    unsigned long old_len, unsigned long new_len,
			    int flags, unsigned long *new_addrp);

/* madvise(MADV_DONTNEED): UMN_EVENT_CLEAR.  Return: 0; -EINVAL; -ENOMEM. */
UMN_API int umn_soft_madvise_dontneed(struct umn_soft_mm *sm,
				      unsigned long addr, unsigned long len);

/**
 * umn_soft_fault() - make @addr accessible for reading or writing.
 *
 * Populates a 4 KiB page, or a 2 MiB one in a THP mapping, or a 1 GiB one;
 * breaks copy-on-write (UMN_EVENT_CLEAR, invalidate_range under the PTL);
 * swaps in a reclaimed page.
 *
 * Return: 0; -EFAULT (no mapping); -EACCES (protection); -ENOMEM (no
 * frame left).
 */
UMN_API int umn_soft_fault(struct umn_soft_mm *sm, unsigned long addr,
			   bool write);

/**
 * umn_soft_fork() - a child address space with copy-on-write.
 *
 * Private mappings become read-only in both (UMN_EVENT_PROTECTION_PAGE on
 * the parent); shared ones are shared.  Return: 0; -EINVAL (a NULL
 * pointer); -ENOMEM.
 */
UMN_API int umn_soft_fork(struct umn_soft_mm *sm, struct umn_soft_mm **childp);

/* THP split of the 2 MiB entry mapping @addr into 512 PTEs (CLEAR over the
 * 2 MiB).  Return: 0; -EINVAL (no 2 MiB entry there); -ENOMEM. */
UMN_API int umn_soft_thp_split(struct umn_soft_mm *sm, unsigned long addr);

/* THP collapse of the 512 PTEs around @addr into a new 2 MiB frame, as
 * khugepaged (CLEAR over the 2 MiB).  Return: 0; -EINVAL (not a THP
 * mapping, or not all 512 present, private and writable-or-exclusive);
 * -EBUSY (one of the 512 frames is pinned); -ENOMEM. */
UMN_API int umn_soft_thp_collapse(struct umn_soft_mm *sm, unsigned long addr);

/* Migrate the frame mapped at @addr to a new frame (UMN_EVENT_MIGRATE over
 * the whole frame's mapping).  Return: 0; -EFAULT (nothing mapped);
 * -EBUSY (mapped more than once, or pinned); -EAGAIN (the mapping changed
 * meanwhile: try again); -ENOMEM. */
UMN_API int umn_soft_migrate(struct umn_soft_mm *sm, unsigned long addr);

/* Reclaim the frame mapped at @addr through the reverse map, as
 * try_to_unmap_one: every mapping is swapped out with UMN_EVENT_CLEAR over
 * [address, min(VMA end, address + frame size)).  Return: 0; -EFAULT;
 * -EBUSY (pinned). */
UMN_API int umn_soft_reclaim(struct umn_soft_mm *sm, unsigned long addr);

/* Write-back cleaning of the frame mapped at @addr, as page_mkclean_one:
 * every mapping is write-protected and cleaned, UMN_EVENT_PROTECTION_PAGE
 * over the same range as reclaim.  Return: 0; -EFAULT. */
UMN_API int umn_soft_clean(struct umn_soft_mm *sm, unsigned long addr);

/* KSM: if the 4 KiB private frames at @addr in @sm and @other_addr in
 * @other hold the same bytes, map both to the first one, read-only
 * (write-protect, then change_pte inside a CLEAR bracket).  Return: 0;
 * -EFAULT; -EINVAL (not 4 KiB private pages); -EAGAIN (they differ);
 * -EBUSY (pinned). */
UMN_API int umn_soft_ksm_merge(struct umn_soft_mm *sm, unsigned long addr,
			       struct umn_soft_mm *other,
			       unsigned long other_addr);

#define UMN_SOFT_AGE_CLEAR_FLUSH 0 /* clear_flush_young */
#define UMN_SOFT_AGE_CLEAR	 1 /* clear_young */
#define UMN_SOFT_AGE_TEST	 2 /* test_young */

/* Aging over [addr, addr + len): for each mapped entry, ask the primary's
 * accessed bit and the notifiers'.  Return: the number of young entries;
 * -EINVAL. */
UMN_API int umn_soft_age(struct umn_soft_mm *sm, unsigned long addr,
			 unsigned long len, int how);

/**
 * struct umn_soft_translation - one translation, as a secondary sees it.
 * @frame:	the frame's number.
 * @gen:	the frame's generation when looked up.
 * @base:	virtual address where the entry begins (aligned to @size).
 * @size:	4 KiB, 2 MiB or 1 GiB: what the entry maps.
 * @subpage:	for a 4 KiB entry into a huge frame: which 4 KiB of it.
 * @writable:	the entry allows writes.
 */
struct umn_soft_translation {
	unsigned long frame;
	unsigned long gen;
	unsigned long base;
	unsigned long size;
	unsigned long subpage;
	bool writable;
};

/**
 * umn_soft_lookup() - walk the page table at @addr.
 * @fill:	if set, called with the translation under the page-table
 *		lock of the entry (atomic context: it must not sleep); a
 *		device TLB fills itself here, so that invalidate_range,
 *		which runs under the same lock, cannot miss it.
 * @arg:	passed to @fill.
 * @t:		out (may be NULL).
 *
 * Takes the mmap lock for reading.  Does not fault.
 * Return: 0; -EFAULT if nothing is mapped (or only a swapped-out page);
 * -EACCES if @write and the entry is read-only.
 */
UMN_API int
umn_soft_lookup(struct umn_soft_mm *sm, unsigned long addr, bool write,
		void (*fill)(void *arg, const struct umn_soft_translation *t),
		void *arg, struct umn_soft_translation *t);

/* Frame access, for secondaries that reach a frame through their own
 * translation (a device doing DMA): the 4 KiB of @frame at @subpage.
 * Reading unwritten memory gives zeros.  umn_soft_frame_write() Return:
 * 0; -ENOMEM (no memory for the page's bytes). */
UMN_API void umn_soft_frame_read(struct umn_soft_frames *frames,
				 unsigned long frame, unsigned long subpage,
				 unsigned long offset, void *buf,
				 unsigned long len);
UMN_API int umn_soft_frame_write(struct umn_soft_frames *frames,
				 unsigned long frame, unsigned long subpage,
				 unsigned long offset, const void *buf,
				 unsigned long len);
/* The frame's current generation (changes when it is freed). */
UMN_API unsigned long umn_soft_frame_gen(struct umn_soft_frames *frames,
					 unsigned long frame);
/* Pin and unpin: a reference that keeps the frame from being freed,
 * migrated or reclaimed.  umn_soft_pin pins the frame mapped at @addr
 * (faulting it in for @write first) and returns its translation.
 * Return: 0; -EFAULT (a NULL @sm, @addr at or above UMN_SOFT_TASK_SIZE,
 * or no mapping); -EACCES (protection); -ENOMEM (no frame left). */
UMN_API int umn_soft_pin(struct umn_soft_mm *sm, unsigned long addr, bool write,
			 struct umn_soft_translation *t);
UMN_API void umn_soft_unpin(struct umn_soft_frames *frames,
			    unsigned long frame);

/* The CPU's access through the primary: fault as needed, then read or
 * write @len bytes at @addr (within one page).  Return: 0; -EINVAL (a NULL
 * pointer, @addr at or above UMN_SOFT_TASK_SIZE, or the bytes cross a
 * page); -EFAULT, -EACCES, -ENOMEM as umn_soft_fault(). */
UMN_API int umn_soft_read(struct umn_soft_mm *sm, unsigned long addr, void *buf,
			  unsigned long len);
UMN_API int umn_soft_write(struct umn_soft_mm *sm, unsigned long addr,
			   const void *buf, unsigned long len);

/* What the primary did, for tools: counters since creation. */
struct umn_soft_stats {
	unsigned long ops[16];		       /* by enum umn_soft_op */
	unsigned long events[UMN_EVENT_COUNT]; /* brackets by event */
	unsigned long huge_ranges; /* brackets covering a huge entry */
	unsigned long frames_freed;
};

enum umn_soft_op {
	UMN_SOFT_OP_MMAP,
	UMN_SOFT_OP_MUNMAP,
	UMN_SOFT_OP_MPROTECT,
	UMN_SOFT_OP_MREMAP,
	UMN_SOFT_OP_MADVISE,
	UMN_SOFT_OP_FAULT,
	UMN_SOFT_OP_COW,
	UMN_SOFT_OP_FORK,
	UMN_SOFT_OP_SPLIT,
	UMN_SOFT_OP_COLLAPSE,
	UMN_SOFT_OP_MIGRATE,
	UMN_SOFT_OP_RECLAIM,
	UMN_SOFT_OP_CLEAN,
	UMN_SOFT_OP_KSM,
	UMN_SOFT_OP_AGE,
	UMN_SOFT_OP_COUNT
};

/* Add @frames' counters (all its mms, the destroyed ones included). */
UMN_API void umn_soft_stats(struct umn_soft_frames *frames,
			    struct umn_soft_stats *stats);

#ifdef __cplusplus
}
#endif

#endif /* UMN_SOFT_H */
