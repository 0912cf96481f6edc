// SPDX-License-Identifier: MIT
/*
 * consumers/regcache_reclaim.c - the registration cache's lock, its
 * invalidation and what frees (regcache.c has the design: the state word,
 * who frees, the retired memory).
 *
 * ->invalidate takes no lock.  It sets INVALIDATED, which is all a lookup
 * needs (lookups take no lock: from then on none returns the
 * registration), queues the registration on rc->pending with a CAS, and
 * returns: the rest (out of the index and the hints, to the zombies)
 * waits for the next holder of rc->lock, whose rc_lock() finishes every
 * queued invalidation before anything else.  So a munmap pays for one
 * atomic or and one CAS per registration it hits, not for the lock, the
 * index's search and the cold lines of the lists.  A queued registration
 * counts in rc->nzombies, so umn_regcache_reap(), and the register and
 * release that call it (reap_due()), take the lock while the queue is not
 * empty: an invalidated registration is freed as soon as it was before,
 * at the next register, release or reap.
 *
 * The lock knows its owner, which makes it safe against signal handlers.
 * On the process mm (primaries/proc) a handler may munmap memory that this
 * cache covers while its own thread holds rc->lock (in register,
 * release, reap, destroy, stats or the retiring of freed memory):
 * ->invalidate then runs in that thread, on top of the critical section
 * it interrupted.  It queues as always, and flags the lock word: the
 * owner's unlock finishes the queue before it lets the lock go.  (The
 * kernel's answer is spin_lock_irqsave; holding a thread's signals costs
 * two system calls per lock, far more than a lookup.)
 *
 *	thread T: register r			T's signal handler
 *	rc_lock: word = T
 *	check: no read_retry, no INVALIDATED
 *						munmap -> ->invalidate(r):
 *						  set_seq; state |= INVALIDATED;
 *						  push r on pending; word is
 *						  T's: word = T|PENDING
 *	insert r in the index (dead: no
 *	  lookup takes it)
 *	rc_unlock: CAS T -> 0 fails:
 *	  word = T; take r out of the index
 *	  (users 1: UNINDEXED); CAS T -> 0
 *
 * A registration is off the queue before it is freed: whoever frees it
 * first removes its interval notifier, which waits for the invalidations
 * in flight (so for their pushes), then takes the lock.  One queued while
 * it was being registered is off it before it is published: the
 * register's read_begin, after a collision, waits for that invalidation
 * to end, and the lock that publishes finishes the queue first.
 */
#include <errno.h>
#include <stdlib.h>
#include <umn/debug.h>
#include <umn-test/breaks.h>
#include "../core/rcu.h"
#include "regcache_internal.h"

static _Thread_local long lock_token;

uintptr_t this_thread(void)
{
	return (uintptr_t)&lock_token;
}

static void drain_locked(struct umn_regcache *rc);

void rc_lock(struct umn_regcache *rc)
{
	uintptr_t word;

	for (;;) {
		word = 0;
		if (__atomic_compare_exchange_n(&rc->lock, &word, this_thread(),
						false, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			break;
		while (__atomic_load_n(&rc->lock, __ATOMIC_RELAXED))
			;
	}
	if (__atomic_load_n(&rc->pending, __ATOMIC_RELAXED))
		drain_locked(rc);
}

/* Take @r out of the index, under rc->lock. */
static void unindex_locked(struct umn_regcache *rc, struct reg *r)
{
	rc_assert_held(rc);
	if (!umn__regidx_clear(rc->index, r, r->h.addr, r->recent_i))
		umn__regidx_clear(rc->settled, r, r->h.addr, r->recent_i);
	umn__reghints_clear(rc->hints, r->h.addr, r);
	__atomic_store_n(&rc->nlive, rc->nlive - 1, __ATOMIC_RELAXED);
}

/*
 * The rest of an invalidation, under rc->lock: INVALIDATED is set.  Out of the
 * index; without users, to the zombies (see "who frees" at the top).
 */
void invalidate_locked(struct umn_regcache *rc, struct reg *r, bool count)
{
	rc_assert_held(rc);
	if (r->where != INDEXED)
		return;
	unindex_locked(rc, r);
	/* Pairs with the release of the CAS that dropped the last user. */
	if (__atomic_load_n(&r->state, __ATOMIC_ACQUIRE) & USERS) {
		r->where = UNINDEXED;
	} else {
		r->where = ZOMBIE;
		link_add(&rc->zombies, &r->zlink);
		__atomic_fetch_add(&rc->nzombies, 1, __ATOMIC_RELAXED);
	}
	if (count)
		rc->stats.invalidations++;
}

/* Let rc->lock go, after the invalidations that this thread's signal
 * handlers queued meanwhile (see the top of the file).  The accesses are
 * seq-cst: a handler may run between any two of them. */
void rc_unlock(struct umn_regcache *rc)
{
	uintptr_t word;

	for (;;) {
		word = this_thread();
		if (__atomic_compare_exchange_n(&rc->lock, &word, 0, false,
						__ATOMIC_SEQ_CST,
						__ATOMIC_SEQ_CST))
			return;
		__atomic_store_n(&rc->lock, this_thread(), __ATOMIC_SEQ_CST);
		drain_locked(rc);
	}
}

/* Under rc->lock: finish the invalidations queued on rc->pending (one
 * not yet published stays unpublished: its register retries). */
static void drain_locked(struct umn_regcache *rc)
{
	struct reg *r, *next;

	rc_assert_held(rc);
	r = __atomic_exchange_n(&rc->pending, NULL, __ATOMIC_SEQ_CST);
	for (; r; r = next) {
		next = r->pending_next;
		__atomic_store_n(&r->deferred, false, __ATOMIC_SEQ_CST);
		__atomic_fetch_sub(&rc->nzombies, 1, __ATOMIC_RELAXED);
		invalidate_locked(rc, r, true);
	}
}

/* Under rc->lock: free @mem, which holds @node, after a grace period. */
void retire_locked(struct umn_regcache *rc, struct retire *node, void *mem)
{
	rc_assert_held(rc);
	node->mem = mem;
	node->next = rc->retired;
	rc->retired = node;
	__atomic_store_n(&rc->nretired, rc->nretired + 1, __ATOMIC_RELAXED);
}

static void free_retired(struct retire *list)
{
	struct retire *next;

	for (; list; list = next) {
		next = list->next;
		free(list->mem);
	}
}

/* Retire @ix, replaced, under rc->lock: after its grace period it is the
 * spare, the memory of the next rebuild (a rebuild every RECENT
 * registrations in fresh memory took page faults that cost more than a
 * grace period). */
void retire_index_locked(struct umn_regcache *rc, struct index *ix)
{
	rc_assert_held(rc);
	ix->retire.mem = ix;
	ix->retire.next = rc->retired_index;
	__atomic_store_n(&rc->retired_index, &ix->retire, __ATOMIC_RELAXED);
}

/* Keep @ix (past its grace period, or never published; NULL: nothing) as
 * its tier's spare if it is larger than the one there, and free the
 * other. */
void index_spare(struct umn_regcache *rc, struct index *ix)
{
	struct index *old, **spare;
	size_t cap;

	if (!ix)
		return;
	cap = ix->cap; /* ix may be another thread's once it is in */
	spare = ix->settled ? &rc->settled_spare : &rc->spare;
	old = __atomic_exchange_n(spare, ix, __ATOMIC_ACQ_REL);

	/* What an exchange returns is this thread's alone. */
	if (old && old->cap > cap)
		old = __atomic_exchange_n(spare, old, __ATOMIC_ACQ_REL);
	free(old);
}

/* An index of a tier with room for @n slots: its spare, if it is large
 * enough and not more than four times that, or a new one (rounded up to
 * a power of two, so that the spare fits the next rebuilds too).  May
 * sleep. */
struct index *index_alloc(struct umn_regcache *rc, size_t n, bool settled)
{
	struct index *ix =
		__atomic_exchange_n(settled ? &rc->settled_spare : &rc->spare,
				    NULL, __ATOMIC_ACQ_REL);
	size_t cap = 64;

	/* Neither too small nor far too large: after a burst, the memory
	 * goes back as the cache shrinks. */
	if (ix && ix->cap >= n && (ix->cap <= 4 * n || ix->cap <= 256))
		return umn__regidx_reset(ix);
	free(ix); /* the next replaced index takes its place */
	while (cap < n && cap < SIZE_MAX / 2)
		cap *= 2;
	ix = umn__regidx_alloc(cap);
	if (ix)
		ix->settled = settled;
	return ix;
}

/*
 * What a rebuild that adds @add (0 or 1) registrations needs, by the
 * unlocked counts: a merge of the tiers if @merge or merge_due().  0, or
 * -ENOMEM with nothing allocated.  May sleep.
 */
int rebuild_alloc(struct umn_regcache *rc, struct rebuild *rb, bool merge,
		  size_t add)
{
	size_t live = __atomic_load_n(&rc->nlive, __ATOMIC_RELAXED) + add,
	       young = __atomic_load_n(&rc->nyoung, __ATOMIC_RELAXED) + add;

	merge = merge || merge_due(rc, add);
	*rb = (struct rebuild){ 0 };
	/* Every young slot (a merge's young index takes them first), and
	 * room for the rebuilds after. */
	rb->young = index_alloc(rc, young + RECENT, false);
	if (rb->young && merge)
		rb->settled = index_alloc(rc, live + RECENT, true);
	if (!rb->young || (merge && !rb->settled)) {
		rebuild_put(rc, rb);
		return -ENOMEM;
	}
	rb->hints = hints_alloc(rc, live + RECENT);
	return 0;
}

/* Under rc->lock: is @rb enough for the rebuild, by the exact counts?
 * Decides whether it merges. */
bool rebuild_fits(struct umn_regcache *rc, struct rebuild *rb, bool merge,
		  size_t add)
{
	rc_assert_held(rc);
	rb->merge = merge || merge_due(rc, add);
	return rb->young && rb->young->cap >= rc->nyoung + add &&
	       (!rb->merge ||
		(rb->settled && rb->settled->cap >= rc->nlive + add));
}

/* What index_add() left of @rb, given back.  May sleep. */
void rebuild_put(struct umn_regcache *rc, struct rebuild *rb)
{
	index_spare(rc, rb->young);
	index_spare(rc, rb->settled);
	free(rb->hints);
	*rb = (struct rebuild){ 0 };
}

/* Hints for @n registrations if the cache's are far too few or far too
 * many; else, or if there is no memory (the old ones stay), NULL.  May
 * sleep. */
struct hints *hints_alloc(struct umn_regcache *rc, size_t n)
{
	size_t want = umn__reghints_size(n),
	       cur = __atomic_load_n(&rc->nhint_buckets, __ATOMIC_RELAXED);

	if (cur >= want && cur <= 4 * want)
		return NULL;
	return umn__reghints_alloc(want);
}

/* Under rc->lock: @hs, from hints_alloc(), in place of the cache's. */
void hints_replace(struct umn_regcache *rc, struct hints *hs)
{
	struct hints *old = rc->hints;

	rc_assert_held(rc);
	if (hs->nbuckets == old->nbuckets) { /* another thread's came first */
		retire_locked(rc, &hs->retire, hs);
		return;
	}
	umn__reghints_move(hs, old);
	/* Pairs with the acquire in find(). */
	__atomic_store_n(&rc->hints, hs, __ATOMIC_RELEASE);
	__atomic_store_n(&rc->nhint_buckets, hs->nbuckets, __ATOMIC_RELAXED);
	retire_locked(rc, &old->retire, old);
}

/*
 * Free a full batch of retired memory after a grace period, or keep a
 * replaced index as the spare when there is none, unless this thread is
 * in an RCU read-side section (a grace period would wait for it: the
 * batch waits for a later call).  Lookups read the memory without a
 * lock; they are all out of the sections that could see it once
 * umn__synchronize_rcu() returns.
 */
void retire_flush(struct umn_regcache *rc)
{
	struct retire *list, *ixs, *next;

	if ((__atomic_load_n(&rc->nretired, __ATOMIC_RELAXED) < RETIRE_BATCH &&
	     (!__atomic_load_n(&rc->retired_index, __ATOMIC_RELAXED) ||
	      __atomic_load_n(&rc->spare, __ATOMIC_RELAXED))) ||
	    umn__rcu_read_ongoing())
		return;
	rc_lock(rc);
	list = rc->retired;
	rc->retired = NULL;
	ixs = rc->retired_index;
	__atomic_store_n(&rc->retired_index, NULL, __ATOMIC_RELAXED);
	__atomic_store_n(&rc->nretired, 0, __ATOMIC_RELAXED);
	rc_unlock(rc);
	umn__synchronize_rcu();
	free_retired(list);
	for (; ixs; ixs = next) {
		next = ixs->next;
		index_spare(rc, ixs->mem);
	}
}

static bool reg_invalidate(struct umn_interval_notifier *sub,
			   const struct umn_range *range, unsigned long cur_seq)
{
	struct reg *r = container_of(sub, struct reg, sub);
	struct umn_regcache *rc = r->rc;
	struct reg *head;

	(void)range;
	/* First: from here no lookup takes a user.  Release: a register
	 * whose reset of the state reads this (or a later) value sees the
	 * sequence in read_retry. */
	umn_interval_set_seq(sub, cur_seq);
	if (rc->flags & UMN_REGCACHE_BREAK_INVALIDATE)
		return true;
	__atomic_fetch_or(&r->state, INVALIDATED, __ATOMIC_SEQ_CST);
	/* The rest waits for the next holder of the lock: queued, without
	 * it (see the top of the file). */
	if (!__atomic_exchange_n(&r->deferred, true, __ATOMIC_SEQ_CST)) {
		/* For reap_due(), on the line every release reads; before
		 * the push, which the drain's decrement follows. */
		__atomic_fetch_add(&rc->nzombies, 1, __ATOMIC_RELAXED);
		head = __atomic_load_n(&rc->pending, __ATOMIC_SEQ_CST);
		do
			r->pending_next = head;
		while (!__atomic_compare_exchange_n(&rc->pending, &head, r,
						    false, __ATOMIC_SEQ_CST,
						    __ATOMIC_SEQ_CST));
	}
	/* A signal handler on top of this thread's critical section: the
	 * section's unlock takes r out of the index. */
	if ((__atomic_load_n(&rc->lock, __ATOMIC_SEQ_CST) & ~PENDING) ==
	    this_thread())
		__atomic_store_n(&rc->lock, this_thread() | PENDING,
				 __ATOMIC_SEQ_CST);
	return true;
}

const struct umn_interval_notifier_ops reg_ops = {
	.name = "regcache",
	.invalidate = reg_invalidate,
};

void unpin_reg(struct umn_regcache *rc, struct reg *r)
{
	rc->ops->unpin(rc->arg, npages(r), r->pages);
	rc_lock(rc);
	rc->stats.unpins += npages(r);
	rc_unlock(rc);
}

/*
 * Free an invalid registration that its caller alone holds (FREEING, or
 * UNINDEXED with the caller's user the last).  If its notifier cannot be
 * removed here, it goes to the zombies, without users.  The last critical
 * section is the caller's last touch of rc.
 */
int put_reg(struct umn_regcache *rc, struct reg *r)
{
	int ret = umn_interval_notifier_remove(&r->sub);

	if (ret) {
		rc_lock(rc);
		__atomic_fetch_and(&r->state, ~USERS, __ATOMIC_RELAXED);
		r->where = ZOMBIE;
		link_add(&rc->zombies, &r->zlink);
		__atomic_fetch_add(&rc->nzombies, 1, __ATOMIC_RELAXED);
		rc_unlock(rc);
		return ret;
	}
	rc->ops->unpin(rc->arg, npages(r), r->pages);
	retire_flush(rc); /* the earlier ones: r's is the last touch */
	rc_lock(rc);
	rc->stats.unpins += npages(r);
	rc->stats.reaped++;
	rc->stats.hits += reg_hits(r);
	link_del(&r->all);
	/* Lookups that found r in an index may still read its state. */
	retire_locked(rc, &r->retire, reg_mem(r));
	rc_unlock(rc);
	return 0;
}

/*
 * Rebuild an index that invalidations left mostly cleared (a lookup
 * searches every slot, cleared or not, until the next register's
 * rebuild).  May sleep: it allocates, outside the lock.
 */
static void index_compact(struct umn_regcache *rc)
{
	struct rebuild rb;
	struct index *old;

	while (index_sparse(rc)) {
		if (rebuild_alloc(rc, &rb, true, 0)) /* only a search that
							stays longer */
			return;
		rc_lock(rc);
		if (!index_sparse(rc) || !rebuild_fits(rc, &rb, true, 0)) {
			rc_unlock(rc);
			rebuild_put(rc, &rb);
			continue;
		}
		old = index_add(rc, &rb, NULL);
		retire_index_locked(rc, old);
		rc_unlock(rc);
		rebuild_put(rc, &rb);
		retire_flush(rc);
		return;
	}
}

int umn_regcache_reap(struct umn_regcache *rc)
{
	struct reg *r;
	int n = 0, ret;

	if (!rc)
		return -EINVAL;
	/* Refused even with nothing to free: the answer must not depend on
	 * what other invalidations left. */
	if (umn_mm_in_callback(rc->mm))
		return -EDEADLK;
	for (;;) {
		if (!reap_due(rc))
			break;
		r = NULL;
		rc_lock(rc);
		if (rc->zombies.next != &rc->zombies) {
			r = container_of(rc->zombies.next, struct reg, zlink);
			link_del(&r->zlink);
			r->where = FREEING;
			__atomic_fetch_sub(&rc->nzombies, 1, __ATOMIC_RELAXED);
		}
		rc_unlock(rc);
		if (!r)
			break;
		ret = put_reg(rc, r);
		if (ret)
			return ret;
		n++;
	}
	index_compact(rc);
	return n;
}

int umn_regcache_destroy(struct umn_regcache *rc)
{
	struct link *l;
	struct reg *r;
	int ret;

	if (!rc)
		return -EINVAL;
	rc_lock(rc);
	for (l = rc->all.next; l != &rc->all; l = l->next) {
		r = container_of(l, struct reg, all);
		/* Pairs with the release of each user's last CAS. */
		if (__atomic_load_n(&r->state, __ATOMIC_ACQUIRE) & USERS) {
			rc_unlock(rc);
			return -EBUSY;
		}
	}
	for (l = rc->all.next; l != &rc->all; l = l->next) {
		r = container_of(l, struct reg, all);
		if (r->where != INDEXED)
			continue;
		__atomic_fetch_or(&r->state, INVALIDATED, __ATOMIC_SEQ_CST);
		invalidate_locked(rc, r, false);
	}
	rc_unlock(rc);
	ret = umn_regcache_reap(rc);
	if (ret < 0)
		return ret;
	/* No lookup runs any more (the caller's part of the contract), and
	 * every one that ran has left its read-side section: no grace
	 * period to wait for. */
	free_retired(rc->retired);
	free_retired(rc->retired_index);
	free(rc->spare);
	free(rc->settled_spare);
	free(rc->index);
	free(rc->settled);
	free(rc->hints);
	umn_mm_put(rc->mm);
	free(rc);
	return 0;
}
