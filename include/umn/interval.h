/* SPDX-License-Identifier: MIT */
/*
 * umn/interval.h - interval notifiers: a secondary MMU hears only the
 * ranges that overlap the interval it mirrors, and gets the collision-retry
 * protocol of docs/CONTRACT.md, rule 4, for free (Linux 5.5's
 * mmu_interval_notifier).
 *
 * The fault side of a secondary, for an address in its interval:
 *
 *	again:
 *		seq = umn_interval_read_begin(sub);
 *		look the translation up in the primary (no secondary lock)
 *		lock(secondary)
 *		if (umn_interval_read_retry(sub, seq)) {
 *			unlock(secondary);
 *			goto again;
 *		}
 *		install the translation
 *		unlock(secondary)
 *
 * and its ->invalidate callback:
 *
 *	lock(secondary)
 *	umn_interval_set_seq(sub, cur_seq);
 *	remove the translations in range
 *	unlock(secondary)
 *
 * The race it closes ("no undo between start and end", rule 4):
 *
 *	fault thread			primary
 *	seq = read_begin()		(even: no invalidation)
 *	look up PTE -> frame A
 *					start(range): ->invalidate sets seq'
 *					  and removes A from the secondary
 *					PTE := frame B; free frame A after end
 *	lock
 *	read_retry(seq): seq' != seq -> retry   (without it: installs A,
 *	unlock				 a translation to a freed frame)
 *
 * Sequence numbers: the mm's sequence is odd while any interval notifier
 * is being invalidated and becomes even when the last active invalidation
 * ends.  read_begin waits while its interval is being invalidated, so the
 * fault side never spins against an invalidation.
 *
 * Inserts and removes that arrive while an invalidation is in flight take
 * effect when the last active invalidation ends (they are deferred, not
 * retried, so a stream of invalidations cannot starve them).
 */
#ifndef UMN_INTERVAL_H
#define UMN_INTERVAL_H

#include <umn/itree_types.h>
#include <umn/mm.h>

#ifdef __cplusplus
extern "C" {
#endif

struct umn_interval_notifier;

struct umn_interval_notifier_ops {
	const char *name; /* named in debug reports; may be NULL */
	/*
	 * The primary is about to change the translations of range, which
	 * overlaps sub's interval.  Take the secondary's lock, call
	 * umn_interval_set_seq(sub, cur_seq), remove the translations.
	 * May sleep if umn_range_blockable(range).  Return true; return false
	 * only for a non-blockable range, when it would have to sleep: the
	 * primary then backs off with -EAGAIN.
	 */
	bool (*invalidate)(struct umn_interval_notifier *sub,
			   const struct umn_range *range,
			   unsigned long cur_seq);
};

/* Embed in the secondary's object; the underscore fields belong to umn. */
struct umn_interval_notifier {
	struct umn__itree_node _node; /* [start, last] in the mm's tree */
	const struct umn_interval_notifier_ops *ops;
	struct umn_mm *mm; /* set while inserted */
	unsigned long _invalidate_seq;
	struct umn_interval_notifier *_deferred_next;
	struct umn_interval_notifier **_deferred_pprev;
	unsigned int _state; /* enum in core/internal.h */
};

/**
 * umn_interval_notifier_insert() - mirror [start, start + length) of @mm.
 * @sub:	the interval notifier, not inserted.
 * @mm:		the address space; a reference is taken until remove.
 * @start:	first address.
 * @length:	size in bytes, > 0.
 * @ops:	its callbacks; ->invalidate is required.
 *
 * If an invalidation is in flight, the insert takes effect when the last
 * one ends, and read_begin on @sub waits until then.
 *
 * Context: may sleep (first notifier of the mm: umn_mm_ops.lock_all).
 * Safe from a callback (the insert is deferred).
 * Return: 0; -EINVAL for a NULL argument, @length 0 or no ->invalidate;
 * -EOVERFLOW if start + length wraps; -EBUSY if @sub is inserted;
 * -EDEADLK for the first notifier of the process mm from inside an RCU
 * read section other than this thread's own hooked call.
 */
UMN_API int
umn_interval_notifier_insert(struct umn_interval_notifier *sub,
			     struct umn_mm *mm, unsigned long start,
			     unsigned long length,
			     const struct umn_interval_notifier_ops *ops);

/**
 * umn_interval_notifier_remove() - stop mirroring; wait for ->invalidate.
 * @sub: an inserted interval notifier.
 *
 * Returns when no ->invalidate of @sub runs or can start; then drops the
 * mm reference.  If an invalidation is in flight, waits for it to end.
 *
 * Context: may sleep.  Not from a callback of the same mm (it would wait
 * for itself).
 * Return: 0; -EINVAL if @sub is NULL or not inserted; -EDEADLK from a
 * callback or a bracket of the same mm, always, even when no invalidation
 * would make it wait (nothing is changed).
 */
UMN_API int umn_interval_notifier_remove(struct umn_interval_notifier *sub);

/**
 * umn_interval_read_begin() - begin a lookup in the primary.
 * @sub: an inserted interval notifier.
 *
 * Waits while @sub's interval is being invalidated.  Takes no lock and
 * writes no shared memory when it is not.
 *
 * Context: may sleep; not from a callback of the same mm.
 * Return: the sequence to pass to umn_interval_read_retry().
 */
UMN_API unsigned long
umn_interval_read_begin(struct umn_interval_notifier *sub);

/**
 * umn_interval_read_retry() - did an invalidation collide since read_begin?
 * @sub: the interval notifier.
 * @seq: what umn_interval_read_begin() returned.
 *
 * Call it under the secondary's lock (the one ->invalidate takes), just
 * before installing.  True means an invalidation of @sub started since
 * read_begin: the lookup may be stale, retry.  False means none did, and
 * none can until the lock is dropped: install.
 *
 * Context: under the secondary's lock; never sleeps.
 */
static inline bool umn_interval_read_retry(struct umn_interval_notifier *sub,
					   unsigned long seq)
{
	/* Written under the same lock by umn_interval_set_seq(). */
	return __atomic_load_n(&sub->_invalidate_seq, __ATOMIC_RELAXED) != seq;
}

/**
 * umn_interval_check_retry() - read_retry without the lock, as a hint.
 * @sub: the interval notifier.
 * @seq: what umn_interval_read_begin() returned.
 *
 * True means a retry is certain; false means nothing (call read_retry
 * under the lock).  Lets a long lookup give up early.
 *
 * Context: any; never sleeps.
 */
static inline bool umn_interval_check_retry(struct umn_interval_notifier *sub,
					    unsigned long seq)
{
	return __atomic_load_n(&sub->_invalidate_seq, __ATOMIC_ACQUIRE) != seq;
}

/**
 * umn_interval_set_seq() - record the invalidation in ->invalidate.
 * @sub:	the interval notifier being invalidated.
 * @cur_seq:	the sequence ->invalidate was given.
 *
 * Context: in ->invalidate, under the secondary's lock; never sleeps.
 */
static inline void umn_interval_set_seq(struct umn_interval_notifier *sub,
					unsigned long cur_seq)
{
	/* Pairs with the acquire in umn_interval_read_begin(). */
	__atomic_store_n(&sub->_invalidate_seq, cur_seq, __ATOMIC_RELEASE);
}

/* The interval [start, end) that @sub mirrors. */
static inline unsigned long
umn_interval_notifier_start(const struct umn_interval_notifier *sub)
{
	return sub->_node.start;
}

static inline unsigned long
umn_interval_notifier_end(const struct umn_interval_notifier *sub)
{
	return sub->_node.last + 1;
}

#ifdef __cplusplus
}
#endif

#endif /* UMN_INTERVAL_H */
