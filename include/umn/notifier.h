/* SPDX-License-Identifier: MIT */
/*
 * umn/notifier.h - classic notifiers: a secondary MMU hears every range of
 * an address space (Linux's struct mmu_notifier).
 *
 * The caller owns the memory: struct umn_notifier is embedded in the
 * secondary's own object, the ops table is const, and each callback finds
 * its object again with container_of.
 *
 * The callbacks, with the context they run in:
 *
 * ->invalidate_range_start(n, range)
 *	The translations in range are about to change.  Remove or block them.
 *	Runs before the primary takes its page-table lock.  May sleep if
 *	umn_range_blockable(range); otherwise it is in atomic context and may
 *	return -EAGAIN to refuse, if and only if the ops declare
 *	UMN_NOTIFIER_START_MAY_FAIL.  A start that returned 0 is always
 *	followed by exactly one ->invalidate_range_end with the same range.
 *	Nothing prevents a fault from re-installing what start removed before
 *	the page table changes: a secondary that must stay exactly in sync
 *	uses a counter and a sequence number (docs/CONTRACT.md, rule 4), or
 *	interval notifiers (umn/interval.h), which do it for it.
 *
 * ->invalidate_range(n, mm, start, end)
 *	The page table has changed in [start, end); the page-table lock is
 *	held.  Flush device TLBs here.  Atomic context: must not sleep.  Also
 *	called from umn_invalidate_range_end() (not from _only_end).  A
 *	notifier registered during a bracket may get it without the start.
 *
 * ->invalidate_range_end(n, range)
 *	The change is complete; the primary's locks are dropped.  May sleep.
 *	Frames taken out of the page table are freed only after it returns.
 *
 * ->release(n, mm)
 *	The address space is torn down (umn_mm_release()), or the notifier is
 *	unregistered with umn_notifier_unregister().  Called once.  Drop every
 *	translation, and fault no more: as in Linux, it runs while n still
 *	hears every invalidation, so that the secondary is never blind while
 *	it holds translations, and brackets already in flight may still call
 *	n after it; none does once umn_mm_release() or unregister returns.
 *	May sleep.  To free n from here (umn_mm_release() only) use
 *	umn_notifier_put().
 *
 * ->clear_flush_young, ->clear_young, ->test_young(n, mm, start, end)
 *	Aging: return nonzero if the secondary accessed [start, end) since the
 *	last clear.  Atomic context.
 *
 * ->change_pte(n, mm, address, pte)
 *	Inside a start/end bracket, under the page-table lock: the PTE at
 *	address now holds pte.  Atomic context.
 *
 * ->free_notifier(n)
 *	After umn_notifier_put(): no callback of n runs or can start any more.
 *	Free the object.  Runs on a helper thread.
 *
 * Every callback may be NULL.  Callbacks of different notifiers, and of one
 * notifier for different ranges, run concurrently.
 */
#ifndef UMN_NOTIFIER_H
#define UMN_NOTIFIER_H

#include <umn/mm.h>

#ifdef __cplusplus
extern "C" {
#endif

struct umn_notifier;

/* ->invalidate_range_start may return -EAGAIN for non-blockable ranges. */
#define UMN_NOTIFIER_START_MAY_FAIL (1U << 0)

struct umn_notifier_ops {
	const char *name;   /* named in debug reports; may be NULL */
	unsigned int flags; /* UMN_NOTIFIER_START_MAY_FAIL or 0 */
	void (*release)(struct umn_notifier *n, struct umn_mm *mm);
	int (*invalidate_range_start)(struct umn_notifier *n,
				      const struct umn_range *range);
	void (*invalidate_range_end)(struct umn_notifier *n,
				     const struct umn_range *range);
	void (*invalidate_range)(struct umn_notifier *n, struct umn_mm *mm,
				 unsigned long start, unsigned long end);
	int (*clear_flush_young)(struct umn_notifier *n, struct umn_mm *mm,
				 unsigned long start, unsigned long end);
	int (*clear_young)(struct umn_notifier *n, struct umn_mm *mm,
			   unsigned long start, unsigned long end);
	int (*test_young)(struct umn_notifier *n, struct umn_mm *mm,
			  unsigned long start, unsigned long end);
	void (*change_pte)(struct umn_notifier *n, struct umn_mm *mm,
			   unsigned long address, unsigned long pte);
	void (*free_notifier)(struct umn_notifier *n);
};

/*
 * Embed in the secondary's object.  Zero it (or leave it as unregister
 * left it) before registering; the fields with an underscore belong to umn.
 */
struct umn_notifier {
	const struct umn_notifier_ops *ops;
	struct umn_mm *mm;	    /* set while registered */
	struct umn_notifier *_next; /* RCU list of the mm's chain */
	unsigned long _gen_added;   /* chain generation it joined at */
	unsigned long _gen_removed; /* ... left at; ULONG_MAX if not */
	unsigned int _state;	    /* enum in core/internal.h */
	void *_rcu[2];		    /* struct rcu_head for put */
};

/**
 * umn_notifier_register() - start hearing @mm's invalidations.
 * @n:		the notifier, not registered.
 * @ops:	its callbacks.
 * @mm:		the address space; a reference is taken until unregister.
 *
 * Callbacks may start before this returns.  When it returns, every
 * invalidation in flight when it was called has ended: from now on no page
 * table change of @mm can happen unseen by @n.
 *
 * Context: may sleep (waits for a grace period).  Must not be called from
 * a notifier callback or between start and end, nor with a lock held that
 * a callback of this mm takes.
 * Return: 0; -EINVAL if an argument is NULL, or @ops may fail start and
 * has ->invalidate_range_end (a refused start could not be paired);
 * -EBUSY if @n is registered; -ESRCH if @mm was released; -EDEADLK from a
 * callback or a bracket.
 */
UMN_API int umn_notifier_register(struct umn_notifier *n,
				  const struct umn_notifier_ops *ops,
				  struct umn_mm *mm);

/**
 * umn_notifier_unregister() - call ->release, stop hearing, wait.
 * @n: a registered notifier.
 *
 * Calls ->release (unless umn_mm_release() did), while @n still hears
 * every bracket; then takes @n off the chain and returns when no callback
 * of @n runs or can start.  Every start that ran has had its end.  Drops
 * the mm reference.
 *
 * Context: may sleep (two grace periods).  Not from a callback or a
 * bracket: use umn_notifier_put() there.
 * Return: 0; -EINVAL if @n is NULL or not registered (or being
 * unregistered); -EDEADLK from a callback or a bracket (nothing is
 * changed).
 */
UMN_API int umn_notifier_unregister(struct umn_notifier *n);

/**
 * umn_notifier_unregister_no_release() - unregister without ->release.
 *
 * For a secondary that has already dropped every translation and faults
 * no more: brackets that begin after this is called skip @n.
 *
 * Context and Return: as umn_notifier_unregister().
 */
UMN_API int umn_notifier_unregister_no_release(struct umn_notifier *n);

/**
 * umn_notifier_put() - unregister without waiting; free when safe.
 * @n: a registered notifier whose ops have ->free_notifier.
 *
 * Brackets that begin from now on skip @n; once no callback of @n can run,
 * a helper thread calls ->free_notifier(n) and drops the mm reference.
 * ->release is not called (unless umn_mm_release() already did or is
 * doing it).  The secondary must hold no translation any more.  Safe from
 * any callback, ->release included when umn_mm_release() calls it.
 *
 * Context: any that may take a mutex for a moment; never waits.
 * Return: 0; -EINVAL if @n is NULL, not registered, or has no
 * ->free_notifier; -EBUSY if umn_notifier_unregister() is releasing it
 * (that unregister finishes the job).
 */
UMN_API int umn_notifier_put(struct umn_notifier *n);

/**
 * umn_rcu_barrier() - wait until every ->free_notifier queued by
 * umn_notifier_put() has run.  For teardown, tests, and leak checkers.
 *
 * Context: may sleep; not from a callback or a bracket.
 */
UMN_API void umn_rcu_barrier(void);

#ifdef __cplusplus
}
#endif

#endif /* UMN_NOTIFIER_H */
