// SPDX-License-Identifier: MIT
/*
 * core/interval.c - interval notifiers and the collision-retry protocol.
 *
 * State, under mm->lock:
 *   mm->active		invalidations between start and end;
 *   mm->invalidate_seq	odd while some interval is being invalidated;
 *			bumped to even when the last active one ends;
 *   sub->_invalidate_seq	the seq of the last invalidation that hit sub
 *			(written by the secondary, via umn_interval_set_seq,
 *			under its own lock); always odd.
 *
 * "sub is being invalidated" <=> sub->_invalidate_seq == mm->invalidate_seq.
 *
 * Start: under the lock, active++ and, if any interval overlaps, make the
 * seq odd; then call ->invalidate on each overlapping interval without the
 * lock.  The tree cannot change under that walk: while the seq is odd every
 * insert and remove is deferred (put on mm->deferred), and they are applied
 * when the last active invalidation ends.  While the seq is even nobody
 * walks the tree (a walker makes it odd first), so inserts and removes go
 * straight in.
 *
 * End: under the lock, active--; at zero, bump an odd seq to even, apply
 * the deferred inserts and removes, wake every waiter.
 *
 * read_begin: if sub is not being invalidated, return its seq: no lock, no
 * store.  Otherwise wait for the mm's seq to move on.  The two acquire
 * loads cannot see sub's seq newer than the mm's: set_seq's release store
 * happens after the start made the mm's seq odd.
 *
 * An interval inserted while an invalidation is active did not hear that
 * invalidation, which may still change the page table behind it.  So it is
 * born "being invalidated" (its seq = the mm's odd seq), and read_begin on
 * it waits until every active invalidation has ended.
 *
 * The lock-free start.  Most ranges hit no interval (a munmap of a buffer
 * nobody registered), and Linux's start takes the lock for them only to
 * count itself active, so that an insert can see it.  Here such a start
 * counts itself in mm->lockless instead, then reads mm->cover, a table of
 * counts per hashed granule of the intervals that touch it; if no granule
 * of the range is counted, no interval overlaps and start is done, with no
 * lock and no shared write but the count.  An insert counts its granules,
 * then reads mm->lockless: the two sides each write, then read the other's
 * word, all sequentially consistent, so at least one sees the other
 * (Dekker).  An insert that
 * sees lockless brackets treats them as active invalidations: its interval
 * is born being invalidated, and mm->lockless_owed asks the last of them
 * to end to turn the seq even (the locked end does the same when it is
 * last).  Collisions in the table only send a start down the locked path.
 *
 *	start (lock-free)			insert
 *	lockless++				cover += granules
 *	cover of range == 0 ?  return		lockless > 0 ? born invalidating,
 *	...page table changes...		  seq odd, owed = 1
 *	end: lockless--; owed ?    		read_begin waits for even seq
 *	     lock, make seq even, wake
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>

#include "debug.h"
#include "internal.h"
#include "rcu.h"

void umn__mm_set_signal_safe(struct umn_mm *mm)
{
	mm->signal_safe = true;
}

/*
 * The filter.  An interval's finest level is the first where it touches at
 * most COVER_SPAN granules; it is counted in cover[] at that level and
 * every coarser one, and in cover_own[] at that level only (cover_wide if
 * none).  A range is checked in cover[] at its own finest level, which
 * holds every interval as fine or finer, and in cover_own[] at each
 * coarser level, for the intervals too wide for its level.
 */
#define COVER_SPAN 64
static const unsigned int cover_shift[UMN__COVER_LEVELS] = { 16, 24, 30 };

static int finest_level(unsigned long start, unsigned long last)
{
	int level;

	for (level = 0; level < UMN__COVER_LEVELS; level++)
		if ((last >> cover_shift[level]) -
			    (start >> cover_shift[level]) <
		    COVER_SPAN)
			break;
	return level;
}

/* Apply @fn to the slot of each granule of [start, last] at @level. */
#define for_each_slot(slot, table, level, start, last)                         \
	for (unsigned long g_ = (start) >> cover_shift[level];                 \
	     g_ <= (last) >> cover_shift[level] &&                             \
	     ((slot) = &(table)[level][(g_ * 0x9e3779b97f4a7c15UL) >> 52], 1); \
	     g_++)

/* Under mm->lock: count (@delta 1) or uncount (-1) @sub's granules. */
static void cover_add(struct umn_mm *mm, struct umn_interval_notifier *sub,
		      int delta)
{
	unsigned long start = sub->_node.start, last = sub->_node.last;
	int finest = finest_level(start, last), level;
	unsigned int *slot;

	umn__mm_assert_held(mm);
	if (finest == UMN__COVER_LEVELS) {
		__atomic_fetch_add(&mm->cover_wide, (unsigned long)(long)delta,
				   __ATOMIC_SEQ_CST);
		return;
	}
	for_each_slot(slot, mm->cover_own, finest, start, last)
		__atomic_fetch_add(slot, (unsigned int)delta, __ATOMIC_SEQ_CST);
	for (level = finest; level < UMN__COVER_LEVELS; level++)
		for_each_slot(slot, mm->cover, level, start, last)
			__atomic_fetch_add(slot, (unsigned int)delta,
					   __ATOMIC_SEQ_CST);
}

static bool any_counted(unsigned int (*table)[UMN__COVER_SLOTS], int level,
			unsigned long start, unsigned long last)
{
	unsigned int *slot;

	for_each_slot(slot, table, level, start, last)
		if (__atomic_load_n(slot, __ATOMIC_SEQ_CST))
			return true;
	return false;
}

/*
 * May an interval overlap [start, last]?  Lock-free; false is exact.
 * From the coarsest level down to the range's own: an interval as fine as
 * level L or finer is counted in cover[L], so a level where none of the
 * range's granules is counted clears all of those; the coarser ones left
 * are in cover_own[] above L.  Coarse tables are sparse, so a range far
 * from every interval stops at the top.
 */
static bool may_cover(struct umn_mm *mm, unsigned long start,
		      unsigned long last)
{
	int finest = finest_level(start, last), level, above;

	if (finest == UMN__COVER_LEVELS ||
	    __atomic_load_n(&mm->cover_wide, __ATOMIC_SEQ_CST))
		return true;
	for (level = UMN__COVER_LEVELS - 1; level >= finest; level--) {
		if (any_counted(mm->cover, level, start, last))
			continue;
		for (above = level + 1; above < UMN__COVER_LEVELS; above++)
			if (any_counted(mm->cover_own, above, start, last))
				return true;
		return false;
	}
	return true;
}

static unsigned long lockless(struct umn_mm *mm)
{
	return __atomic_load_n(&mm->lockless, __ATOMIC_SEQ_CST);
}

static struct umn_interval_notifier *of_node(struct umn__itree_node *node)
{
	return (struct umn_interval_notifier
			*)((char *)node -
			   offsetof(struct umn_interval_notifier, _node));
}

static unsigned long read_seq(const struct umn_mm *mm)
{
	return __atomic_load_n(&mm->invalidate_seq, __ATOMIC_ACQUIRE);
}

static bool invalidating(const struct umn_mm *mm)
{
	return mm->invalidate_seq & 1;
}

/* Under mm->lock. */
static void set_mm_seq(struct umn_mm *mm, unsigned long seq)
{
	umn__mm_assert_held(mm);
	__atomic_store_n(&mm->invalidate_seq, seq, __ATOMIC_RELEASE);
}

static void defer(struct umn_mm *mm, struct umn_interval_notifier *sub)
{
	sub->_deferred_next = mm->deferred;
	if (mm->deferred)
		mm->deferred->_deferred_pprev = &sub->_deferred_next;
	mm->deferred = sub;
	sub->_deferred_pprev = &mm->deferred;
}

static void undefer(struct umn_interval_notifier *sub)
{
	*sub->_deferred_pprev = sub->_deferred_next;
	if (sub->_deferred_next)
		sub->_deferred_next->_deferred_pprev = sub->_deferred_pprev;
	sub->_deferred_next = NULL;
	sub->_deferred_pprev = NULL;
}

/*
 * Under mm->lock, with no locked invalidation active: the last one ended.
 * Make the seq even, apply the deferred inserts and removes, wake waiters.
 */
static void finish_invalidation(struct umn_mm *mm)
{
	struct umn_interval_notifier *sub;

	umn__mm_assert_held(mm);
	__atomic_store_n(&mm->lockless_owed, 0, __ATOMIC_RELAXED);
	set_mm_seq(mm, mm->invalidate_seq + 1);
	while ((sub = mm->deferred)) {
		undefer(sub);
		if (sub->_state == UMN__INTERVAL_INSERTING) {
			umn__itree_insert(&mm->itree, &sub->_node);
			sub->_state = UMN__INTERVAL_IN_TREE;
		} else {
			/* Its remover wakes below and finishes. */
			umn__itree_remove(&mm->itree, &sub->_node);
		}
	}
	/* Under the lock: a woken remover may drop the last mm reference. */
	pthread_cond_broadcast(&mm->wq);
}

/*
 * Under mm->lock, the seq odd and no locked invalidation active: finish
 * now, or leave it to the last lockless bracket.  Pairs with the order in
 * lockless_end().
 */
static void finish_or_owe(struct umn_mm *mm)
{
	umn__mm_assert_held(mm);
	__atomic_store_n(&mm->lockless_owed, 1, __ATOMIC_SEQ_CST);
	if (!lockless(mm))
		finish_invalidation(mm);
}

static void lockless_end(struct umn_mm *mm)
{

	if (__atomic_fetch_sub(&mm->lockless, 1, __ATOMIC_SEQ_CST) != 1 ||
	    !__atomic_load_n(&mm->lockless_owed, __ATOMIC_SEQ_CST))
		return;
	umn__mm_lock(mm);
	if (mm->lockless_owed && !mm->active && !lockless(mm) &&
	    invalidating(mm))
		finish_invalidation(mm);
	umn__mm_unlock(mm);
}

int umn__itree_invalidate_start(struct umn_range *range, bool *locked)
{
	struct umn_mm *mm = range->mm;
	bool blockable = umn_range_blockable(range);
	unsigned long last = range->end - 1, seq;
	struct umn__itree_node *node;
	struct umn__atomic_save save = { 0 };
	bool ok;

	/* Seq-cst write then seq-cst reads, as insert does: the Dekker of
	 * the file's top (no fence: TSan does not model them). */
	__atomic_fetch_add(&mm->lockless, 1, __ATOMIC_SEQ_CST);
	*locked = may_cover(mm, range->start, last);
	if (!*locked)
		return 0;

	umn__mm_lock(mm);
	node = umn__itree_first(&mm->itree, range->start, last);
	if (!node) {
		/* The filter collided.  The tree is exact: stay lock-free,
		 * and the end takes no lock either. */
		umn__mm_unlock(mm);
		*locked = false;
		return 0;
	}
	mm->active++;
	__atomic_fetch_sub(&mm->lockless, 1, __ATOMIC_SEQ_CST);
	set_mm_seq(mm, mm->invalidate_seq | 1);
	seq = mm->invalidate_seq;
	umn__mm_unlock(mm);

	for (; node; node = umn__itree_next(node, range->start, last)) {
		struct umn_interval_notifier *sub = of_node(node);

		if (!blockable)
			save = umn__atomic_enter(sub->ops->name, "invalidate");
		ok = sub->ops->invalidate(sub, range, seq);
		if (!blockable)
			umn__atomic_exit(save);
		if (ok)
			continue;
		UMN_WARN_ON(blockable,
			    "interval notifier '%s' refused a blockable range",
			    umn__name(sub->ops->name));
		if (blockable) {
			umn__report("interval notifier '%s' refused a "
				    "blockable range: ignored",
				    umn__name(sub->ops->name));
			continue;
		}
		umn__itree_invalidate_end(mm, true);
		return -EAGAIN;
	}
	return 0;
}

void umn__itree_invalidate_end(struct umn_mm *mm, bool locked)
{

	if (!locked) {
		lockless_end(mm);
		return;
	}
	umn__mm_lock(mm);
	UMN_WARN_ON(!mm->active, "interval invalidation ended twice");
	if (!--mm->active && invalidating(mm))
		finish_or_owe(mm);
	umn__mm_unlock(mm);
}

int umn_interval_notifier_insert(struct umn_interval_notifier *sub,
				 struct umn_mm *mm, unsigned long start,
				 unsigned long length,
				 const struct umn_interval_notifier_ops *ops)
{
	int ret;

	if (!sub || !mm || !ops || !ops->invalidate || !length)
		return -EINVAL;
	if (length - 1 > ~0UL - start)
		return -EOVERFLOW;
	if (sub->_state != UMN__INTERVAL_UNUSED)
		return -EBUSY;

	ret = umn__mm_lock_all_once(mm);
	if (ret)
		return ret;
	sub->ops = ops;
	sub->_node.start = start;
	sub->_node.last = start + (length - 1);
	if (mm->ops && mm->ops->interval_added)
		mm->ops->interval_added(mm, mm->priv, sub->_node.start,
					sub->_node.last);
	umn__mm_lock(mm);
	sub->mm = umn_mm_get(mm);
	cover_add(mm, sub, 1); /* then reads lockless: the file's top */
	/* Odd with nothing active: a lockless end is about to finish. */
	if (mm->active || lockless(mm) || invalidating(mm)) {
		if (invalidating(mm)) {
			defer(mm, sub);
			sub->_state = UMN__INTERVAL_INSERTING;
		} else {
			set_mm_seq(mm, mm->invalidate_seq | 1);
			umn__itree_insert(&mm->itree, &sub->_node);
			sub->_state = UMN__INTERVAL_IN_TREE;
		}
		/* Born being invalidated: read_begin waits for the end.
		 * Release: pairs with the acquire in read_begin. */
		__atomic_store_n(&sub->_invalidate_seq, mm->invalidate_seq,
				 __ATOMIC_RELEASE);
		if (!mm->active)
			finish_or_owe(mm);
	} else {
		/* Odd, and not the mm's seq for a long time. */
		__atomic_store_n(&sub->_invalidate_seq, mm->invalidate_seq - 1,
				 __ATOMIC_RELEASE);
		umn__itree_insert(&mm->itree, &sub->_node);
		sub->_state = UMN__INTERVAL_IN_TREE;
	}
	umn__mm_unlock(mm);
	return 0;
}

int umn_interval_notifier_remove(struct umn_interval_notifier *sub)
{
	struct umn_mm *mm;
	unsigned long seq;

	if (!sub || !sub->mm)
		return -EINVAL;
	mm = sub->mm;
	umn__might_sleep_here();

	/* Refused whether or not it would wait now, so that the answer
	 * does not depend on a race with other invalidations. */
	if (umn__in_context_of(mm)) {
		umn__report(
			"umn_interval_notifier_remove('%s') from a callback "
			"or a bracket of its mm could wait for itself: "
			"refused (-EDEADLK)",
			umn__name(sub->ops->name));
		return -EDEADLK;
	}
	umn__mm_lock(mm);
	switch (sub->_state) {
	case UMN__INTERVAL_IN_TREE:
		if (!invalidating(mm)) {
			umn__itree_remove(&mm->itree, &sub->_node);
			break;
		}
		/* A walker may be on it: let the last end take it out. */
		defer(mm, sub);
		sub->_state = UMN__INTERVAL_REMOVING;
		seq = mm->invalidate_seq;
		while (mm->invalidate_seq == seq)
			umn__held_cond_wait(&mm->wq, &mm->lock, "mm->lock");
		break;
	case UMN__INTERVAL_INSERTING:
		/* Never reached the tree: nobody can call it. */
		undefer(sub);
		break;
	default:
		umn__mm_unlock(mm);
		return -EINVAL;
	}
	cover_add(mm, sub, -1);
	sub->_state = UMN__INTERVAL_UNUSED;
	sub->mm = NULL;
	umn__mm_unlock(mm);
	umn_mm_put(mm);
	return 0;
}

unsigned long umn_interval_read_begin(struct umn_interval_notifier *sub)
{
	struct umn_mm *mm = sub->mm;
	unsigned long seq;

	UMN_WARN_ON(!mm, "umn_interval_read_begin() on an interval notifier "
			 "that is not inserted");
	/* Pairs with umn_interval_set_seq() and set_mm_seq(). */
	seq = __atomic_load_n(&sub->_invalidate_seq, __ATOMIC_ACQUIRE);
	if (seq != read_seq(mm))
		return seq;

	if (umn__in_context_of(mm))
		UMN_BUG("umn_interval_read_begin('%s') inside a callback or "
			"a bracket of its mm while it is being invalidated "
			"would wait forever",
			umn__name(sub->ops->name));
	umn__might_sleep_here();
	umn__mm_lock(mm);
	while (mm->invalidate_seq == seq)
		umn__held_cond_wait(&mm->wq, &mm->lock, "mm->lock");
	umn__mm_unlock(mm);
	return seq;
}

bool umn__intervals_overlap(struct umn_mm *mm, unsigned long start,
			    unsigned long last)
{
	bool hit;

	if (!may_cover(mm, start, last))
		return false;
	umn__mm_lock(mm);
	hit = umn__itree_first(&mm->itree, start, last) != NULL;
	umn__mm_unlock(mm);
	return hit;
}

bool umn__mm_heard(struct umn_mm *mm, unsigned long *first, unsigned long *last)
{
	struct umn__itree_node *node;
	bool classic;

	*first = ~0UL;
	*last = 0;
	umn__mm_lock(mm);
	classic = mm->chain != NULL;
	for (node = umn__itree_first(&mm->itree, 0, ~0UL); node;
	     node = umn__itree_next(node, 0, ~0UL)) {
		if (node->start < *first)
			*first = node->start;
		if (node->last > *last)
			*last = node->last;
	}
	umn__mm_unlock(mm);
	return classic;
}

bool umn__intervals_are_valid(struct umn_mm *mm)
{
	struct umn_interval_notifier *sub, **pp;
	bool ok;

	umn__mm_lock(mm);
	ok = umn__itree_is_valid(&mm->itree);
	if (!mm->active && !lockless(mm) &&
	    (invalidating(mm) || mm->deferred)) {
		umn__report("intervals: no active invalidation but seq %lu, "
			    "deferred %p",
			    mm->invalidate_seq, (void *)mm->deferred);
		ok = false;
	}
	for (pp = &mm->deferred; ok && (sub = *pp); pp = &sub->_deferred_next)
		if (sub->_deferred_pprev != pp || sub->mm != mm ||
		    (sub->_state != UMN__INTERVAL_INSERTING &&
		     sub->_state != UMN__INTERVAL_REMOVING)) {
			umn__report("intervals: bad deferred entry '%s'",
				    umn__name(sub->ops->name));
			ok = false;
		}
	umn__mm_unlock(mm);
	return ok;
}
