/* SPDX-License-Identifier: MIT */
/*
 * umn/linux/mmu_notifier.h - the kernel's spelling of umn's API, so that a
 * driver's MMU-notifier code written for Linux 5.x/6.x compiles unchanged
 * and runs in user space, over the soft MMU or over the process itself.
 *
 * How it maps: the kernel's types are umn's types.  Each kernel struct tag
 * is a macro that names the umn type whose fields and callbacks already
 * have the kernel's names and signatures:
 *
 *	struct mm_struct			struct umn_mm
 *	struct mmu_notifier			struct umn_notifier
 *	struct mmu_notifier_ops			struct umn_notifier_ops
 *	struct mmu_notifier_range		struct umn_range
 *	enum mmu_notifier_event			enum umn_event
 *	struct mmu_interval_notifier		struct umn_interval_notifier
 *	struct mmu_interval_notifier_ops	struct umn_interval_notifier_ops
 *
 * So there is nothing to convert: a driver's callback is stored in umn's
 * ops table as it is and called by the core directly (no thunk, no
 * container_of, no cast of a function pointer), and every function below
 * is a static inline call of the umn function of the same meaning.  The
 * _Static_asserts at the end check, member by member, that the callbacks
 * and fields have the kernel's types.
 *
 * Where the mm comes from: struct mm_struct is umn's meeting point of one
 * address space (notifier chain, interval tree, invalidation sequence).
 * It has no VMAs, no page tables and no mmap_lock; those belong to the
 * primary MMU.  Get one with
 *
 *	struct mm_struct *mm = umn_soft_mm_umn(sm);	(a soft MMU, umn/soft.h)
 *	struct mm_struct *mm = umn_proc_mm();		(the process, umn/proc.h)
 *
 * or umn_mm_create() for a bare one.  mmgrab()/mmdrop() are umn_mm_get()
 * and umn_mm_put(); a registered or inserted notifier holds a reference
 * of its own, as in Linux.
 *
 * Differences from Linux, all of them:
 *
 *  - No mmap_lock.  Nothing here needs it: __mmu_notifier_register() and
 *    mmu_interval_notifier_insert_locked() are the same calls as the
 *    unlocked ones.  What hmm_range_fault() does under mmap_read_lock is
 *    umn_soft_lookup() / umn_soft_fault() / umn_soft_pin() here, which
 *    take the soft MMU's own lock.
 *  - The struct tags are macros: in a file that includes this header the
 *    words mm_struct, mmu_notifier, mmu_notifier_ops, mmu_notifier_range,
 *    mmu_notifier_event, mmu_interval_notifier, mmu_interval_notifier_ops
 *    and arch_invalidate_secondary_tlbs name umn's types and member
 *    everywhere (a member called mmu_notifier, as KVM's, is fine).
 *    Compiler messages and debuggers show the umn names.
 *  - struct mmu_notifier has .ops and .mm, not .hlist, .rcu or .users.
 *    Set .ops and call mmu_notifier_register(), as in Linux.
 *  - struct mmu_notifier_range has mm, start, end, flags, event and owner
 *    (6.3+: no vma).  A primary fills it with mmu_notifier_range_init();
 *    its fields after owner are umn's.
 *  - mmu_notifier_ops also has .name (named in umn's debug reports) and
 *    .flags.  A notifier whose invalidate_range_start() may return
 *    -EAGAIN for a non-blockable range says .flags =
 *    UMN_NOTIFIER_START_MAY_FAIL (Linux takes -EAGAIN from anyone); as
 *    Linux documents, such a notifier has no invalidate_range_end, and
 *    umn enforces it (mmu_notifier_register() returns -EINVAL).
 *  - ->test_young(sub, mm, start, end) takes a range, like clear_young;
 *    Linux's took one address.  A driver's test_young is adapted by
 *    reading @start as the address.
 *  - ->invalidate_range (Linux up to 6.5) and
 *    ->arch_invalidate_secondary_tlbs (6.6+) are one member.  umn calls it
 *    under the page-table lock after each change and again from
 *    mmu_notifier_invalidate_range_end() (as Linux up to 6.5; 6.6+ calls
 *    it only from the TLB flush): an extra flush of a device TLB.
 *  - ->change_pte (removed in Linux 6.9) gets a pte_t that is the
 *    primary's own encoding, an unsigned long; there is no pte_pfn().
 *  - ->free_notifier runs on a helper thread once no callback of the
 *    notifier can run (Linux: from an SRCU callback).
 *  - No mmu_notifier_get(), mmu_notifier_get_locked() or
 *    ->alloc_notifier: umn keeps no (ops, mm) -> notifier lookup and no
 *    use count.  Allocate the notifier, mmu_notifier_register() it, and
 *    mmu_notifier_put() it when done (->free_notifier frees it), which is
 *    what get/put do for a single user.
 *  - No mmu_notifier_unregister_no_release() (not in Linux 6.x;
 *    umn_notifier_unregister_no_release() is umn's) and no
 *    mmu_notifier_range_update_to_read_only() (it reads a VMA).
 *  - mmu_notifier_unregister(), mmu_notifier_put(),
 *    mmu_interval_notifier_remove() and mmu_notifier_release() return
 *    nothing in Linux.  umn refuses their misuse (from inside a callback
 *    of the same mm, which would deadlock in Linux; on a notifier that is
 *    not registered, which would crash it): here that prints the error and
 *    aborts, rather than let the caller free an object umn still uses.
 *  - mmu_notifier_register() and mmu_interval_notifier_insert() return
 *    umn's errors: -EBUSY (already registered), -ESRCH (the mm was
 *    released), -EDEADLK (called from a callback), -EINVAL.
 *  - Sleeping in atomic context (a non-blockable range,
 *    ->invalidate_range, the aging callbacks) is reported by a debug
 *    build of umn for umn's own calls; annotate a driver's own with
 *    umn_might_sleep() (umn/debug.h), Linux's might_sleep().
 *
 * Contexts, ordering and the retry protocol are umn's, which are Linux's:
 * see umn/notifier.h for each callback and umn/interval.h for
 * mmu_interval_read_begin() and friends.
 */
#ifndef UMN_LINUX_MMU_NOTIFIER_H
#define UMN_LINUX_MMU_NOTIFIER_H

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <umn/interval.h>
#include <umn/mm.h>
#include <umn/notifier.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The kernel's tags, umn's types. */
#define mm_struct		  umn_mm
#define mmu_notifier		  umn_notifier
#define mmu_notifier_ops	  umn_notifier_ops
#define mmu_notifier_range	  umn_range
#define mmu_notifier_event	  umn_event
#define mmu_interval_notifier	  umn_interval_notifier
#define mmu_interval_notifier_ops umn_interval_notifier_ops

/* Linux 6.6 renamed ->invalidate_range; both spellings name one member. */
#define arch_invalidate_secondary_tlbs invalidate_range

/* What ->change_pte gets: the primary's PTE, opaque (see above). */
typedef unsigned long pte_t;

/* enum mmu_notifier_event, with the kernel's values. */
#define MMU_NOTIFY_UNMAP	   UMN_EVENT_UNMAP
#define MMU_NOTIFY_CLEAR	   UMN_EVENT_CLEAR
#define MMU_NOTIFY_PROTECTION_VMA  UMN_EVENT_PROTECTION_VMA
#define MMU_NOTIFY_PROTECTION_PAGE UMN_EVENT_PROTECTION_PAGE
#define MMU_NOTIFY_SOFT_DIRTY	   UMN_EVENT_SOFT_DIRTY
#define MMU_NOTIFY_RELEASE	   UMN_EVENT_RELEASE
#define MMU_NOTIFY_MIGRATE	   UMN_EVENT_MIGRATE
#define MMU_NOTIFY_EXCLUSIVE	   UMN_EVENT_EXCLUSIVE

#define MMU_NOTIFIER_RANGE_BLOCKABLE UMN_RANGE_BLOCKABLE

/*
 * Where Linux returns nothing, a refusal by umn (see above) stops the
 * program: the caller would otherwise go on to free what umn still uses.
 */
static inline void umn__linux_must(int ret, const char *call)
{
	if (__builtin_expect(ret != 0, 0)) {
		fprintf(stderr, "umn: %s() refused: %s\n", call,
			strerror(-ret));
		abort();
	}
}

/* Notifiers: the secondary's side. */

/* May the range's invalidation sleep?  (umn_range_blockable()) */
static inline bool
mmu_notifier_range_blockable(const struct mmu_notifier_range *range)
{
	return umn_range_blockable(range);
}

/*
 * mmu_notifier_register() - hear every invalidation of @mm through
 * @subscription->ops, set by the caller.  umn_notifier_register().
 *
 * Context: may sleep; not from a callback of @mm.
 * Return: 0 or a negative errno (see above).
 */
static inline int mmu_notifier_register(struct mmu_notifier *subscription,
					struct mm_struct *mm)
{
	return umn_notifier_register(subscription, subscription->ops, mm);
}

/* The same: there is no mmap_lock for the caller to hold. */
static inline int __mmu_notifier_register(struct mmu_notifier *subscription,
					  struct mm_struct *mm)
{
	return mmu_notifier_register(subscription, mm);
}

/*
 * mmu_notifier_unregister() - ->release (unless the mm was released),
 * then stop hearing and wait until no callback runs.
 * umn_notifier_unregister().
 *
 * Context: may sleep; not from a callback of @mm (aborts).
 */
static inline void mmu_notifier_unregister(struct mmu_notifier *subscription,
					   struct mm_struct *mm)
{
	umn__linux_must(subscription->mm == mm
				? umn_notifier_unregister(subscription)
				: -EINVAL,
			"mmu_notifier_unregister");
}

/*
 * mmu_notifier_put() - stop hearing without waiting; ->free_notifier
 * frees @subscription once no callback can run.  umn_notifier_put().
 *
 * Context: any that may take a mutex for a moment; also from a callback.
 */
static inline void mmu_notifier_put(struct mmu_notifier *subscription)
{
	umn__linux_must(umn_notifier_put(subscription), "mmu_notifier_put");
}

/* Wait for every ->free_notifier queued by mmu_notifier_put(). */
static inline void mmu_notifier_synchronize(void)
{
	umn_rcu_barrier();
}

/* Interval notifiers. */

/*
 * mmu_interval_notifier_insert() - hear the invalidations of
 * [@start, @start + @length) of @mm.  umn_interval_notifier_insert().
 *
 * Context: may sleep.  Return: 0 or a negative errno.
 */
static inline int
mmu_interval_notifier_insert(struct mmu_interval_notifier *interval_sub,
			     struct mm_struct *mm, unsigned long start,
			     unsigned long length,
			     const struct mmu_interval_notifier_ops *ops)
{
	return umn_interval_notifier_insert(interval_sub, mm, start, length,
					    ops);
}

/* The same: there is no mmap_lock for the caller to hold. */
static inline int
mmu_interval_notifier_insert_locked(struct mmu_interval_notifier *interval_sub,
				    struct mm_struct *mm, unsigned long start,
				    unsigned long length,
				    const struct mmu_interval_notifier_ops *ops)
{
	return umn_interval_notifier_insert(interval_sub, mm, start, length,
					    ops);
}

/*
 * mmu_interval_notifier_remove() - stop hearing; wait until ->invalidate
 * no longer runs.  umn_interval_notifier_remove().
 *
 * Context: may sleep; not from a callback of the same mm (aborts).
 */
static inline void
mmu_interval_notifier_remove(struct mmu_interval_notifier *interval_sub)
{
	umn__linux_must(umn_interval_notifier_remove(interval_sub),
			"mmu_interval_notifier_remove");
}

/* Begin a lookup in the primary; may sleep while the interval is being
 * invalidated.  umn_interval_read_begin(). */
static inline unsigned long
mmu_interval_read_begin(struct mmu_interval_notifier *interval_sub)
{
	return umn_interval_read_begin(interval_sub);
}

/* Under the driver's lock, the one ->invalidate takes: true if an
 * invalidation collided since read_begin.  umn_interval_read_retry(). */
static inline bool
mmu_interval_read_retry(struct mmu_interval_notifier *interval_sub,
			unsigned long seq)
{
	return umn_interval_read_retry(interval_sub, seq);
}

/* Without the lock, a hint: true means a retry is certain.
 * umn_interval_check_retry(). */
static inline bool
mmu_interval_check_retry(struct mmu_interval_notifier *interval_sub,
			 unsigned long seq)
{
	return umn_interval_check_retry(interval_sub, seq);
}

/* In ->invalidate, under the driver's lock: record @cur_seq.
 * umn_interval_set_seq(). */
static inline void
mmu_interval_set_seq(struct mmu_interval_notifier *interval_sub,
		     unsigned long cur_seq)
{
	umn_interval_set_seq(interval_sub, cur_seq);
}

/* The primary's side: for kernel-style code that changes translations. */

static inline int mm_has_notifiers(struct mm_struct *mm)
{
	return umn_mm_has_notifiers(mm);
}

/* Linux 6.3+: no vma argument. */
static inline void mmu_notifier_range_init(struct mmu_notifier_range *range,
					   enum mmu_notifier_event event,
					   unsigned int flags,
					   struct mm_struct *mm,
					   unsigned long start,
					   unsigned long end)
{
	umn_range_init(range, mm, start, end, event, flags, NULL);
}

static inline void
mmu_notifier_range_init_owner(struct mmu_notifier_range *range,
			      enum mmu_notifier_event event, unsigned int flags,
			      struct mm_struct *mm, unsigned long start,
			      unsigned long end, void *owner)
{
	umn_range_init(range, mm, start, end, event, flags, owner);
}

/* As Linux: the range becomes blockable, and a start cannot fail (a bad
 * range, which umn refuses, aborts). */
static inline void
mmu_notifier_invalidate_range_start(struct mmu_notifier_range *range)
{
	range->flags |= MMU_NOTIFIER_RANGE_BLOCKABLE;
	umn__linux_must(umn_invalidate_range_start(range),
			"mmu_notifier_invalidate_range_start");
}

/* Return: 0; -EAGAIN if a notifier refused (then do not call end). */
static inline int
mmu_notifier_invalidate_range_start_nonblock(struct mmu_notifier_range *range)
{
	range->flags &= ~MMU_NOTIFIER_RANGE_BLOCKABLE;
	return umn_invalidate_range_start(range);
}

static inline void
mmu_notifier_invalidate_range_end(struct mmu_notifier_range *range)
{
	umn_invalidate_range_end(range);
}

/* Linux up to 6.5. */
static inline void
mmu_notifier_invalidate_range_only_end(struct mmu_notifier_range *range)
{
	umn_invalidate_range_only_end(range);
}

/* Linux up to 6.5; under the page-table lock. */
static inline void mmu_notifier_invalidate_range(struct mm_struct *mm,
						 unsigned long start,
						 unsigned long end)
{
	umn_invalidate_range(mm, start, end);
}

/* Linux 6.6+; under the page-table lock. */
static inline void mmu_notifier_arch_invalidate_secondary_tlbs(
	struct mm_struct *mm, unsigned long start, unsigned long end)
{
	umn_invalidate_range(mm, start, end);
}

static inline int mmu_notifier_clear_flush_young(struct mm_struct *mm,
						 unsigned long start,
						 unsigned long end)
{
	return umn_clear_flush_young(mm, start, end);
}

static inline int mmu_notifier_clear_young(struct mm_struct *mm,
					   unsigned long start,
					   unsigned long end)
{
	return umn_clear_young(mm, start, end);
}

/* One address, as Linux; the notifiers get the page around it. */
static inline int mmu_notifier_test_young(struct mm_struct *mm,
					  unsigned long address)
{
	unsigned long start = address & ~(UMN_PAGE_SIZE - 1);

	return umn_test_young(mm, start, start + UMN_PAGE_SIZE);
}

/* Linux up to 6.8. */
static inline void mmu_notifier_change_pte(struct mm_struct *mm,
					   unsigned long address, pte_t pte)
{
	umn_change_pte(mm, address, pte);
}

/* exit_mmap's call: every notifier's ->release, once.  umn_mm_release(). */
static inline void mmu_notifier_release(struct mm_struct *mm)
{
	umn__linux_must(umn_mm_release(mm), "mmu_notifier_release");
}

/*
 * The kernel's types, checked: each member that kernel code uses has the
 * type Linux gives it, so a driver's callback is stored and called as it
 * is.  (GNU C; C++ has no __builtin_types_compatible_p.)
 */
#ifndef __cplusplus
#define UMN__LINUX_IS(type, member, want)                              \
	_Static_assert(__builtin_types_compatible_p(                   \
			       __typeof__(((type *)0)->member), want), \
		       #type "." #member " has the kernel's type")

UMN__LINUX_IS(struct mmu_notifier, ops, const struct mmu_notifier_ops *);
UMN__LINUX_IS(struct mmu_notifier, mm, struct mm_struct *);
UMN__LINUX_IS(struct mmu_notifier_ops, release,
	      void (*)(struct mmu_notifier *, struct mm_struct *));
UMN__LINUX_IS(struct mmu_notifier_ops, clear_flush_young,
	      int (*)(struct mmu_notifier *, struct mm_struct *, unsigned long,
		      unsigned long));
UMN__LINUX_IS(struct mmu_notifier_ops, clear_young,
	      int (*)(struct mmu_notifier *, struct mm_struct *, unsigned long,
		      unsigned long));
UMN__LINUX_IS(struct mmu_notifier_ops, change_pte,
	      void (*)(struct mmu_notifier *, struct mm_struct *, unsigned long,
		       pte_t));
UMN__LINUX_IS(struct mmu_notifier_ops, invalidate_range_start,
	      int (*)(struct mmu_notifier *,
		      const struct mmu_notifier_range *));
UMN__LINUX_IS(struct mmu_notifier_ops, invalidate_range_end,
	      void (*)(struct mmu_notifier *,
		       const struct mmu_notifier_range *));
UMN__LINUX_IS(struct mmu_notifier_ops, arch_invalidate_secondary_tlbs,
	      void (*)(struct mmu_notifier *, struct mm_struct *, unsigned long,
		       unsigned long));
UMN__LINUX_IS(struct mmu_notifier_ops, free_notifier,
	      void (*)(struct mmu_notifier *));
UMN__LINUX_IS(struct mmu_notifier_range, mm, struct mm_struct *);
UMN__LINUX_IS(struct mmu_notifier_range, start, unsigned long);
UMN__LINUX_IS(struct mmu_notifier_range, end, unsigned long);
UMN__LINUX_IS(struct mmu_notifier_range, flags, unsigned int);
UMN__LINUX_IS(struct mmu_notifier_range, event, enum mmu_notifier_event);
UMN__LINUX_IS(struct mmu_notifier_range, owner, void *);
UMN__LINUX_IS(struct mmu_interval_notifier, ops,
	      const struct mmu_interval_notifier_ops *);
UMN__LINUX_IS(struct mmu_interval_notifier, mm, struct mm_struct *);
UMN__LINUX_IS(struct mmu_interval_notifier_ops, invalidate,
	      bool (*)(struct mmu_interval_notifier *,
		       const struct mmu_notifier_range *, unsigned long));
#undef UMN__LINUX_IS

/* The events keep the kernel's numbers (a driver may index by them). */
_Static_assert(MMU_NOTIFY_UNMAP == 0 && MMU_NOTIFY_CLEAR == 1 &&
		       MMU_NOTIFY_PROTECTION_VMA == 2 &&
		       MMU_NOTIFY_PROTECTION_PAGE == 3 &&
		       MMU_NOTIFY_SOFT_DIRTY == 4 && MMU_NOTIFY_RELEASE == 5 &&
		       MMU_NOTIFY_MIGRATE == 6 && MMU_NOTIFY_EXCLUSIVE == 7,
	       "enum mmu_notifier_event has the kernel's values");
_Static_assert(MMU_NOTIFIER_RANGE_BLOCKABLE == (1 << 0),
	       "MMU_NOTIFIER_RANGE_BLOCKABLE has the kernel's value");
#endif /* !__cplusplus */

#ifdef __cplusplus
}
#endif

#endif /* UMN_LINUX_MMU_NOTIFIER_H */
