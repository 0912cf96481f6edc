/* SPDX-License-Identifier: MIT */
/*
 * umn/linux/hmm.h - the kernel's hmm_range_fault() over umn's soft MMU, so
 * that a driver written in the style of Linux's lib/test_hmm.c mirrors an
 * address space with its own code, unchanged.  Includes
 * <umn/linux/mmu_notifier.h> (mm_struct, mmap_read_lock(), mmget_not_zero(),
 * current->mm, interval notifiers).  Linux 6.x's spelling only.
 *
 * What a pfn is here.  umn has no struct page and no physical memory: a
 * page is 4 KiB of a soft MMU frame (umn/soft.h).  The pfn that
 * hmm_range_fault() writes is
 *
 *	umn_linux_pfn(frame, subpage) = frame << UMN_LINUX_PFN_SUBPAGE_BITS
 *					| subpage
 *
 * with the kernel's HMM_PFN_* flags in the top byte, so the kernel's
 * helpers work unchanged.  hmm_pfn_to_page() calls pfn_to_page(), which
 * the program defines (its struct page is its own: a frame and subpage,
 * or whatever its device needs); umn_linux_pfn_frame() and
 * umn_linux_pfn_subpage() take a pfn apart.
 *
 * Differences from Linux:
 *
 *  - The primary must be a soft MMU (mm->soft, umn_linux_mm_create()).  On
 *    any other mm hmm_range_fault() returns -EOPNOTSUPP and writes
 *    nothing: the process cannot be walked soundly (a /proc/self/pagemap
 *    or mincore() answer is stale as soon as it is read, and no page-table
 *    lock orders it against the kernel's changes).
 *  - The soft MMU does not tell an address with no mapping from a mapped
 *    page that was never touched.  Without HMM_PFN_REQ_FAULT both give 0
 *    (Linux: -EFAULT for no VMA); with it, both are faulted, and a fault
 *    that fails returns -EFAULT (no mapping) or -EPERM (write to a
 *    read-only mapping), as Linux.
 *  - No device-private or device-coherent pages, no zero page: every
 *    valid pfn is a frame of the soft MMU.  dev_private_owner is ignored.
 *  - The mmap_lock is not needed for the walk (the soft MMU takes its own
 *    per operation); holding mmap_read_lock() around it, as drivers do,
 *    is harmless.
 */
#ifndef UMN_LINUX_HMM_H
#define UMN_LINUX_HMM_H

#include <umn/linux/mmu_notifier.h>
#include <umn/soft.h>

#ifdef __cplusplus
extern "C" {
#endif

#if UMN__LINUX_413
#error "<umn/linux/hmm.h> has Linux 6.x's spelling only (UMN_LINUX_API < 500)"
#endif

#define UMN_LINUX_BITS_PER_LONG	   (8 * (int)sizeof(long))
#define UMN_LINUX_PFN_SUBPAGE_BITS 18 /* 1 GiB of 4 KiB subpages */

enum hmm_pfn_flags {
	HMM_PFN_VALID = 1UL << (UMN_LINUX_BITS_PER_LONG - 1),
	HMM_PFN_WRITE = 1UL << (UMN_LINUX_BITS_PER_LONG - 2),
	HMM_PFN_ERROR = 1UL << (UMN_LINUX_BITS_PER_LONG - 3),
	HMM_PFN_ORDER_SHIFT = (UMN_LINUX_BITS_PER_LONG - 8),
	HMM_PFN_REQ_FAULT = HMM_PFN_VALID,
	HMM_PFN_REQ_WRITE = HMM_PFN_WRITE,
	HMM_PFN_FLAGS = 0xFFUL << HMM_PFN_ORDER_SHIFT,
};

#define HMM_RANGE_DEFAULT_TIMEOUT 1000

/* The kernel's struct, field for field. */
struct hmm_range {
	struct mmu_interval_notifier *notifier;
	unsigned long notifier_seq;
	unsigned long start;
	unsigned long end;
	unsigned long *hmm_pfns;
	unsigned long default_flags;
	unsigned long pfn_flags_mask;
	void *dev_private_owner;
};

static inline unsigned long umn_linux_pfn(unsigned long frame,
					  unsigned long subpage)
{
	return frame << UMN_LINUX_PFN_SUBPAGE_BITS | subpage;
}

static inline unsigned long umn_linux_pfn_frame(unsigned long pfn)
{
	return (pfn & ~(unsigned long)HMM_PFN_FLAGS) >>
	       UMN_LINUX_PFN_SUBPAGE_BITS;
}

static inline unsigned long umn_linux_pfn_subpage(unsigned long pfn)
{
	return pfn & ((1UL << UMN_LINUX_PFN_SUBPAGE_BITS) - 1);
}

/* The program's: its struct page for a pfn of umn_linux_pfn(). */
struct page;
struct page *pfn_to_page(unsigned long pfn);

static inline struct page *hmm_pfn_to_page(unsigned long hmm_pfn)
{
	return pfn_to_page(hmm_pfn & ~(unsigned long)HMM_PFN_FLAGS);
}

static inline unsigned long hmm_pfn_to_phys(unsigned long hmm_pfn)
{
	return (hmm_pfn & ~(unsigned long)HMM_PFN_FLAGS) << UMN_PAGE_SHIFT;
}

/* log2 of the pages the CPU maps with one entry there (0, 9, 18). */
static inline unsigned int hmm_pfn_to_map_order(unsigned long hmm_pfn)
{
	return (hmm_pfn >> HMM_PFN_ORDER_SHIFT) & 0x1F;
}

/* One page's word from the CPU's translation @t of @addr. */
static inline unsigned long
umn__linux_hmm_word(const struct umn_soft_translation *t, unsigned long addr)
{
	unsigned long sub = (t->size == UMN_PAGE_SIZE ? t->subpage : 0) +
			    ((addr - t->base) >> UMN_PAGE_SHIFT);
	unsigned long order =
		(unsigned long)__builtin_ctzl(t->size) - UMN_PAGE_SHIFT;

	return umn_linux_pfn(t->frame, sub) | HMM_PFN_VALID |
	       (t->writable ? (unsigned long)HMM_PFN_WRITE : 0) |
	       order << HMM_PFN_ORDER_SHIFT;
}

/* One page of hmm_range_fault(): *@word in, the CPU's entry out. */
static inline int umn__linux_hmm_page(struct umn_soft_mm *sm,
				      unsigned long addr, unsigned long req,
				      unsigned long *word)
{
	bool fault = req & HMM_PFN_REQ_FAULT;
	bool write = fault && (req & HMM_PFN_REQ_WRITE);
	struct umn_soft_translation t;
	int ret;

	for (;;) {
		ret = umn_soft_lookup(sm, addr, write, NULL, NULL, &t);
		if (!ret) {
			*word = umn__linux_hmm_word(&t, addr);
			return 0;
		}
		if (!fault) {
			*word = 0; /* nothing mapped: not valid */
			return 0;
		}
		ret = umn_soft_fault(sm, addr, write);
		if (ret == -EACCES)
			return -EPERM;
		if (ret)
			return ret == -ENOMEM ? -ENOMEM : -EFAULT;
	}
}

/*
 * hmm_range_fault() - the CPU's translation of each page of
 * [@range->start, @range->end) into @range->hmm_pfns, faulting in what
 * (default_flags | (hmm_pfns[i] & pfn_flags_mask)) asks for.
 *
 * Context: may sleep.  Called between mmu_interval_read_begin() and
 * mmu_interval_read_retry() of range->notifier, as in Linux.
 * Return: 0; -EBUSY (an invalidation collided: begin again); -EFAULT,
 * -EPERM, -ENOMEM (the fault failed); -EOPNOTSUPP (the mm is not a soft
 * MMU's); -EINVAL (a bad range).
 */
static inline int hmm_range_fault(struct hmm_range *range)
{
	struct mm_struct *mm = range->notifier->mm;
	unsigned long addr, i, req;
	int ret;

	if (!mm->soft)
		return -EOPNOTSUPP;
	if (range->start >= range->end ||
	    (range->start | range->end) & (UMN_PAGE_SIZE - 1))
		return -EINVAL;
	for (addr = range->start, i = 0; addr < range->end;
	     addr += UMN_PAGE_SIZE, i++) {
		if (mmu_interval_check_retry(range->notifier,
					     range->notifier_seq))
			return -EBUSY;
		req = (range->default_flags |
		       (range->hmm_pfns[i] & range->pfn_flags_mask)) &
		      (HMM_PFN_REQ_FAULT | HMM_PFN_REQ_WRITE);
		ret = umn__linux_hmm_page(mm->soft, addr, req,
					  &range->hmm_pfns[i]);
		if (ret)
			return ret;
	}
	return 0;
}

#ifdef __cplusplus
}
#endif

#endif /* UMN_LINUX_HMM_H */
