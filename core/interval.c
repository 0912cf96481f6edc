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
 */
#include <errno.h>
#include <stddef.h>

#include "debug.h"
#include "internal.h"
#include "rcu.h"

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

int umn__itree_invalidate_start(struct umn_range *range)
{
	struct umn_mm *mm = range->mm;
	bool blockable = umn_range_blockable(range);
	unsigned long last = range->end - 1, seq;
	struct umn__itree_node *node;
	struct umn__atomic_save save = { 0 };
	bool ok;

	pthread_mutex_lock(&mm->lock);
	mm->active++;
	node = umn__itree_first(&mm->itree, range->start, last);
	if (node)
		set_mm_seq(mm, mm->invalidate_seq | 1);
	seq = mm->invalidate_seq;
	pthread_mutex_unlock(&mm->lock);

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
		umn__itree_invalidate_end(mm);
		return -EAGAIN;
	}
	return 0;
}

void umn__itree_invalidate_end(struct umn_mm *mm)
{
	struct umn_interval_notifier *sub;

	pthread_mutex_lock(&mm->lock);
	UMN_WARN_ON(!mm->active, "interval invalidation ended twice");
	if (--mm->active || !invalidating(mm)) {
		pthread_mutex_unlock(&mm->lock);
		return;
	}
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
	pthread_mutex_unlock(&mm->lock);
}

int umn_interval_notifier_insert(struct umn_interval_notifier *sub,
				 struct umn_mm *mm, unsigned long start,
				 unsigned long length,
				 const struct umn_interval_notifier_ops *ops)
{
	if (!sub || !mm || !ops || !ops->invalidate || !length)
		return -EINVAL;
	if (length - 1 > ~0UL - start)
		return -EOVERFLOW;
	if (sub->_state != UMN__INTERVAL_UNUSED)
		return -EBUSY;

	umn__mm_lock_all_once(mm);
	sub->ops = ops;
	sub->_node.start = start;
	sub->_node.last = start + (length - 1);
	pthread_mutex_lock(&mm->lock);
	sub->mm = umn_mm_get(mm);
	if (mm->active) {
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
	} else {
		/* Odd, and not the mm's seq for a long time. */
		__atomic_store_n(&sub->_invalidate_seq, mm->invalidate_seq - 1,
				 __ATOMIC_RELEASE);
		umn__itree_insert(&mm->itree, &sub->_node);
		sub->_state = UMN__INTERVAL_IN_TREE;
	}
	pthread_mutex_unlock(&mm->lock);
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

	pthread_mutex_lock(&mm->lock);
	switch (sub->_state) {
	case UMN__INTERVAL_IN_TREE:
		if (!invalidating(mm)) {
			umn__itree_remove(&mm->itree, &sub->_node);
			break;
		}
		/* A walker may be on it: let the last end take it out. */
		if (umn__in_context_of(mm)) {
			pthread_mutex_unlock(&mm->lock);
			umn__report("umn_interval_notifier_remove('%s') from a "
				    "callback or a bracket of its mm would "
				    "wait for itself: refused (-EDEADLK)",
				    umn__name(sub->ops->name));
			return -EDEADLK;
		}
		defer(mm, sub);
		sub->_state = UMN__INTERVAL_REMOVING;
		seq = mm->invalidate_seq;
		while (mm->invalidate_seq == seq)
			pthread_cond_wait(&mm->wq, &mm->lock);
		break;
	case UMN__INTERVAL_INSERTING:
		/* Never reached the tree: nobody can call it. */
		undefer(sub);
		break;
	default:
		pthread_mutex_unlock(&mm->lock);
		return -EINVAL;
	}
	sub->_state = UMN__INTERVAL_UNUSED;
	sub->mm = NULL;
	pthread_mutex_unlock(&mm->lock);
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
	pthread_mutex_lock(&mm->lock);
	while (mm->invalidate_seq == seq)
		pthread_cond_wait(&mm->wq, &mm->lock);
	pthread_mutex_unlock(&mm->lock);
	return seq;
}

bool umn__intervals_are_valid(struct umn_mm *mm)
{
	struct umn_interval_notifier *sub, **pp;
	bool ok;

	pthread_mutex_lock(&mm->lock);
	ok = umn__itree_is_valid(&mm->itree);
	if (!mm->active && (invalidating(mm) || mm->deferred)) {
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
	pthread_mutex_unlock(&mm->lock);
	return ok;
}
