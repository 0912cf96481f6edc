/* SPDX-License-Identifier: MIT */
/*
 * umn/mm.h - the address space (struct umn_mm), ranges, and the calls a
 * primary MMU makes when it changes its page table.
 *
 * A primary MMU owns one struct umn_mm per address space.  Around every
 * change that removes or downgrades translations it makes the calls of
 * docs/CONTRACT.md, rule 2:
 *
 *	umn_range_init(&range, mm, start, end, UMN_EVENT_UNMAP,
 *		       UMN_RANGE_BLOCKABLE, NULL);
 *	umn_invalidate_range_start(&range);	(may sleep)
 *	lock the page-table lock
 *	change the page table
 *	umn_invalidate_range(mm, start, end);	(atomic context)
 *	unlock the page-table lock
 *	umn_invalidate_range_end(&range);	(may sleep)
 *	free the frames taken out of the table
 *
 * Every call here costs one predictable branch while the mm has never had
 * a notifier (see umn_mm_has_notifiers()); the work is done out of line.
 *
 * Addresses are unsigned long, as in Linux.  A range is [start, end), both
 * multiples of UMN_PAGE_SIZE, start < end.
 */
#ifndef UMN_MM_H
#define UMN_MM_H

#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UMN_API __attribute__((visibility("default")))

/* The granule of every range. */
#define UMN_PAGE_SHIFT 12
#define UMN_PAGE_SIZE  (1UL << UMN_PAGE_SHIFT)

struct umn_mm;

/**
 * struct umn_mm_ops - what the core asks of the primary MMU.
 * @lock_all:	exclude every page-table change of this mm and wait for those
 *		in progress, as Linux's mm_take_all_locks(), so that when
 *		@unlock_all returns no thread is between its
 *		umn_mm_has_notifiers() test and the end of the change it
 *		guards.  Called (rarely) when the first notifier of the mm
 *		arrives, so that no change that saw "no notifiers" can still
 *		be updating the page table behind the new notifier's back.
 *		May sleep.
 * @unlock_all:	undo @lock_all.  A primary that cannot exclude its changes
 *		but can wait for them may do it here instead, after the new
 *		value is published: the process mm holds the RCU read lock
 *		across each test and change, and waits a grace period here
 *		(primaries/proc/proc.c).  May sleep.
 * @interval_added:	optional: a notifier is about to hear [@start,
 *		@last]: an interval notifier its interval (called by
 *		umn_interval_notifier_insert()), a classic notifier the whole
 *		address space, [0, ULONG_MAX] (umn_notifier_register()).
 *		Called before the notifier can hear an invalidation, without
 *		umn's locks.  May sleep; must not allocate.  For a primary that
 *		must ask another party to report changes there (the process mm
 *		asks userfaultfd).
 *
 * A primary that passes no ops gives up the fast path: its mm behaves as if
 * it always had a notifier, and needs no exclusion at all.
 */
struct umn_mm_ops {
	void (*lock_all)(struct umn_mm *mm, void *priv);
	void (*unlock_all)(struct umn_mm *mm, void *priv);
	void (*interval_added)(struct umn_mm *mm, void *priv,
			       unsigned long start, unsigned long last);
};

/* Why a range is invalidated (Linux's enum mmu_notifier_event). */
enum umn_event {
	UMN_EVENT_UNMAP = 0,	   /* the mapping goes away (munmap, zap) */
	UMN_EVENT_CLEAR,	   /* pages cleared, mapping stays (reclaim) */
	UMN_EVENT_PROTECTION_VMA,  /* protection of a whole VMA changes */
	UMN_EVENT_PROTECTION_PAGE, /* protection of some pages changes */
	UMN_EVENT_SOFT_DIRTY,	   /* write-protected to track dirtiness */
	UMN_EVENT_RELEASE,	   /* the address space is torn down */
	UMN_EVENT_MIGRATE,	   /* pages move to other frames */
	UMN_EVENT_EXCLUSIVE,	   /* a device takes exclusive access */
	UMN_EVENT_COUNT
};

/* The range may be waited on; without it, start must not sleep. */
#define UMN_RANGE_BLOCKABLE (1U << 0)

/**
 * struct umn_range - one invalidation, from start to end.
 * @mm:		the address space.
 * @start:	first address, page aligned.
 * @end:	address after the last, page aligned, > @start.
 * @event:	why (enum umn_event).
 * @flags:	UMN_RANGE_BLOCKABLE or 0.
 * @owner:	for UMN_EVENT_MIGRATE and _EXCLUSIVE: who asked, so that it
 *		can skip its own invalidation; NULL otherwise.
 *
 * The primary fills it with umn_range_init() and passes the same object to
 * start and to end.  The fields after @owner belong to umn.
 */
struct umn_range {
	struct umn_mm *mm;
	unsigned long start;
	unsigned long end;
	enum umn_event event;
	unsigned int flags;
	void *owner;
	unsigned long _gen;    /* the chain generation start saw */
	unsigned int _started; /* start succeeded; end is due */
};

static inline void umn_range_init(struct umn_range *range, struct umn_mm *mm,
				  unsigned long start, unsigned long end,
				  enum umn_event event, unsigned int flags,
				  void *owner)
{
	range->mm = mm;
	range->start = start;
	range->end = end;
	range->event = event;
	range->flags = flags;
	range->owner = owner;
	range->_gen = 0;
	range->_started = 0;
}

static inline bool umn_range_blockable(const struct umn_range *range)
{
	return range->flags & UMN_RANGE_BLOCKABLE;
}

/* The head of struct umn_mm, read by the inline fast path below. */
struct umn__mm_head {
	int has_notifiers; /* 0 until the first notifier; never back to 0 */
};

/**
 * umn_mm_has_notifiers() - may any notifier be listening to @mm?
 * @mm: the address space.
 *
 * False only before the first notifier was registered or inserted.  The
 * value changes (once) between the primary's umn_mm_ops.lock_all and
 * unlock_all, so a primary that tests it under its own locks (or in its own
 * read section) sees a stable answer.
 *
 * Context: any.  Return: true when the slow path must run.
 */
static inline bool umn_mm_has_notifiers(const struct umn_mm *mm)
{
	const struct umn__mm_head *head = (const struct umn__mm_head *)mm;

	return __builtin_expect(
		__atomic_load_n(&head->has_notifiers, __ATOMIC_RELAXED), 0);
}

/**
 * umn_mm_create() - create an address space.
 * @ops:	the primary's exclusion hooks (both or none), or NULL.
 * @priv:	passed back to @ops.
 * @mmp:	out: the new mm, with one reference, the caller's.
 *
 * Context: may sleep (allocates).
 * Return: 0; -EINVAL if @mmp is NULL or @ops has only one hook; -ENOMEM.
 */
UMN_API int umn_mm_create(const struct umn_mm_ops *ops, void *priv,
			  struct umn_mm **mmp);

/**
 * umn_mm_get() - take a reference on @mm.
 *
 * Context: any; never sleeps.  Return: @mm.
 */
UMN_API struct umn_mm *umn_mm_get(struct umn_mm *mm);

/**
 * umn_mm_put() - drop a reference on @mm; the last one frees it.
 *
 * Registered notifiers and inserted interval notifiers hold a reference
 * each, so the mm outlives them.
 *
 * Context: any; never sleeps.
 */
UMN_API void umn_mm_put(struct umn_mm *mm);

/**
 * umn_mm_release() - the address space is being torn down.
 * @mm: the address space; the caller holds a reference.
 *
 * Every registered classic notifier gets its ->release, exactly once,
 * while it still hears every bracket (as Linux's exit_mmap); then all are
 * hidden.  When this returns, no classic notifier callback runs on @mm
 * and new registrations fail with -ESRCH; the owners still unregister (or
 * put) their notifiers to drop their references.  Interval notifiers stay:
 * the primary then unmaps everything with UMN_EVENT_RELEASE ranges, which
 * they see, before it frees its frames.
 *
 * Context: may sleep (waits for a grace period).  Must not be called from
 * a notifier callback or between start and end.
 * Return: 0; -EINVAL if @mm is NULL; -EALREADY if it was released before;
 * -EDEADLK from inside a callback or a bracket.
 */
UMN_API int umn_mm_release(struct umn_mm *mm);

/**
 * umn_mm_in_callback() - is this thread inside a callback of @mm, or
 * between a start and an end on it?
 * @mm: the address space.
 *
 * For secondaries that refuse, with -EDEADLK, a call that could wait for
 * an invalidation of @mm from where that invalidation cannot end.
 *
 * Context: any; never sleeps.
 */
UMN_API bool umn_mm_in_callback(const struct umn_mm *mm);

/* The out-of-line slow paths; call the inline wrappers below instead. */
UMN_API int umn__invalidate_range_start(struct umn_range *range);
UMN_API void umn__invalidate_range_end(struct umn_range *range, bool only_end);
UMN_API void umn__invalidate_range(struct umn_mm *mm, unsigned long start,
				   unsigned long end);
UMN_API int umn__young(struct umn_mm *mm, unsigned long start,
		       unsigned long end, int which);
UMN_API void umn__change_pte(struct umn_mm *mm, unsigned long address,
			     unsigned long pte);

/**
 * umn_invalidate_range_start() - translations in @range are about to go.
 * @range: initialised by umn_range_init().
 *
 * Calls every interval notifier overlapping the range, then every classic
 * notifier's ->invalidate_range_start.  If one of them refuses a
 * non-blockable range, every notifier whose start already ran gets its
 * ->invalidate_range_end, and -EAGAIN comes back: the primary must then
 * leave its page table as it is and must not call end.
 *
 * Context: may sleep if the range is blockable; call it before taking the
 * page-table lock.  Every success is paired with one end on this thread.
 * Return: 0; -EINVAL for a bad range (nothing is called); -EAGAIN as above.
 */
static inline int umn_invalidate_range_start(struct umn_range *range)
{
	if (umn_mm_has_notifiers(range->mm))
		return umn__invalidate_range_start(range);
	return 0;
}

/**
 * umn_invalidate_range_end() - the change of @range is complete.
 * @range: the range passed to the successful start.
 *
 * Calls each notifier's ->invalidate_range (as Linux 4.13 does, for those
 * that did not get it under the page-table lock), then its
 * ->invalidate_range_end, and ends the interval notifiers' invalidation.
 * When it returns, no secondary that follows the protocol holds a stale
 * translation in the range; the primary may now free the frames.
 *
 * Context: may sleep; call it after dropping the page-table lock.
 */
static inline void umn_invalidate_range_end(struct umn_range *range)
{
	if (umn_mm_has_notifiers(range->mm))
		umn__invalidate_range_end(range, false);
}

/**
 * umn_invalidate_range_only_end() - end, without ->invalidate_range.
 * @range: the range passed to the successful start.
 *
 * For primaries that already called umn_invalidate_range() under the
 * page-table lock for the whole range.
 *
 * Context: may sleep; call it after dropping the page-table lock.
 */
static inline void umn_invalidate_range_only_end(struct umn_range *range)
{
	if (umn_mm_has_notifiers(range->mm))
		umn__invalidate_range_end(range, true);
}

/**
 * umn_invalidate_range() - the page table changed in [start, end).
 *
 * Calls every classic notifier's ->invalidate_range right after the update,
 * with the page-table lock still held, between start and end.
 *
 * Context: atomic: the callbacks must not sleep.  Never sleeps itself.
 */
static inline void umn_invalidate_range(struct umn_mm *mm, unsigned long start,
					unsigned long end)
{
	if (umn_mm_has_notifiers(mm))
		umn__invalidate_range(mm, start, end);
}

#define UMN__CLEAR_FLUSH_YOUNG 0
#define UMN__CLEAR_YOUNG       1
#define UMN__TEST_YOUNG	       2

/**
 * umn_clear_flush_young() - clear the accessed bits in [start, end).
 *
 * Asks every notifier whether a secondary accessed the range, clearing its
 * accessed bits and flushing its TLB so that the next access is seen.
 *
 * Context: atomic (called under the page-table lock); never sleeps.
 * Return: >0 if any notifier saw an access; 0 if none; -EINVAL for a bad
 * range.
 */
static inline int umn_clear_flush_young(struct umn_mm *mm, unsigned long start,
					unsigned long end)
{
	if (umn_mm_has_notifiers(mm))
		return umn__young(mm, start, end, UMN__CLEAR_FLUSH_YOUNG);
	return 0;
}

/**
 * umn_clear_young() - as umn_clear_flush_young(), without the flush.
 *
 * Context: atomic; never sleeps.
 * Return: >0 if any notifier saw an access; 0; -EINVAL for a bad range.
 */
static inline int umn_clear_young(struct umn_mm *mm, unsigned long start,
				  unsigned long end)
{
	if (umn_mm_has_notifiers(mm))
		return umn__young(mm, start, end, UMN__CLEAR_YOUNG);
	return 0;
}

/**
 * umn_test_young() - did a secondary access [start, end)?  Clears nothing.
 *
 * Context: atomic; never sleeps.
 * Return: >0 if any notifier saw an access; 0; -EINVAL for a bad range.
 */
static inline int umn_test_young(struct umn_mm *mm, unsigned long start,
				 unsigned long end)
{
	if (umn_mm_has_notifiers(mm))
		return umn__young(mm, start, end, UMN__TEST_YOUNG);
	return 0;
}

/**
 * umn_change_pte() - the PTE at @address now holds @pte (KSM merge).
 *
 * An optimisation for secondaries that can install the new translation
 * directly.  It must be called inside a start/end bracket that covers
 * @address, under the page-table lock, so a secondary that ignores it is
 * still correct.  @pte is the primary's encoding, opaque to the core.
 *
 * Context: atomic; never sleeps.
 */
static inline void umn_change_pte(struct umn_mm *mm, unsigned long address,
				  unsigned long pte)
{
	if (umn_mm_has_notifiers(mm))
		umn__change_pte(mm, address, pte);
}

#ifdef __cplusplus
}
#endif

#endif /* UMN_MM_H */
