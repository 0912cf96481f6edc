// SPDX-License-Identifier: MIT
/*
 * consumers/regcache.c - an RDMA-like registration cache (umn/regcache.h).
 *
 * Pattern: references (docs/CONTRACT.md, rule 4, the alternative).  A
 * registration holds a pin on each of its pages, so no frame it hands the
 * device can be freed or reused, whatever the primary does.  What the
 * notifier keeps exact is the cache: a registration that an invalidation
 * hit no longer describes the range, so ->invalidate (the start of the
 * change) marks it dead before the primary changes anything, and its pins
 * are dropped when its last user releases it (the device is done).
 *
 * The hit path (lookup, then release) takes no lock and writes nothing
 * shared but the registration's own state word:
 *
 *	r->state = hits << 32 | users << 1 | INVALIDATED
 *
 * - lookup, in an RCU read-side section, looks in rc->hints, then
 *   searches rc->settled and rc->index (each published with a release
 *   store; see "the index" below), and takes a user with a CAS that
 *   succeeds only while INVALIDATED is clear; the same CAS counts the
 *   hit;
 * - ->invalidate sets INVALIDATED with an atomic or, the first thing it does:
 *   from then on no lookup can take a user; it queues the rest for the
 *   next holder of rc->lock (regcache_reclaim.c) and takes no lock;
 * - release drops a user with a CAS; when that user is the last one of a
 *   dead registration, it does not drop it but frees the registration (it
 *   holds the user until the registration is off every list).
 *
 * A registration is in exactly one of these places (r->where, under
 * rc->lock); from INDEXED until it is freed it is also on rc->all:
 *	UNPUBLISHED	being registered; in no index
 *	INDEXED		in rc->index; alive, or marked INVALIDATED and
 *			queued on rc->pending
 *	UNINDEXED		out of the index, dead, users > 0: its last
 *			release frees it
 *	ZOMBIE		on rc->zombies: dead, no user; the next reap
 *			(register, release, reap, destroy) frees it
 *	FREEING		taken by the one who frees it
 *
 * Who frees, exactly once.  The state word decides, without the lock:
 * users are 0 with INVALIDATED set either after ->invalidate's atomic or (the
 * users were already 0), or after a release's CAS would drop the last
 * user (INVALIDATED was already set).  In the first case the invalidation's
 * rest, under rc->lock, reads users == 0 and moves it to the zombies;
 * in the second the releaser frees it itself, without ever dropping that
 * user, so the invalidation's check under the lock reads users == 1 and
 * leaves it UNINDEXED.  No lookup adds a user in between: INVALIDATED is set.
 *
 *	lookup (T1)		->invalidate (T2)	release (T3)
 *	ix = rc->index		set_seq
 *	r = ix->s[i].r		state |= INVALIDATED
 *	CAS(state, +1 user)	push r on rc->pending	1 user | INVALIDATED: T3
 *	  fails: -ENOENT	(the next lock: s[i].r	  frees r, keeping
 *				 = NULL; 1 user:	  its user until r
 *				 UNINDEXED)		  is off rc->all
 *
 * No lost invalidation.  The lookup's CAS and ->invalidate's atomic or
 * act on the same word: a lookup that begins after the or cannot take a
 * user; one whose CAS came first holds a user, and sees the invalidation
 * through umn_regcache_valid() as any holder does.  ("Began", in the
 * header, means ->invalidate set INVALIDATED, before the primary changes
 * anything.)  INVALIDATED is never cleared on a published registration.
 *
 * No lookup reads freed memory.  A registration out of the index, and an
 * index replaced, are retired: freed in batches after a grace period
 * (umn__synchronize_rcu(), by the register, release or reap that fills a
 * batch, unless it is itself in a read-side section), or by destroy,
 * when no lookup may run.  Synchronously rather than with call_rcu: no
 * worker thread (which fork would have to re-create, and TSan refuses
 * after a multi-threaded fork), nothing left queued at exit, and one
 * grace period for RETIRE_BATCH frees.  A replaced index is not freed but
 * kept, past its grace period, as the spare: the memory the next rebuild
 * writes into (so its grace period runs at once when there is no spare;
 * one per rebuild costs less than the page faults of fresh memory).
 *
 * Registering uses collision-retry for the pin itself, with INVALIDATED as a
 * second witness.  Each attempt first resets the state to "one user,
 * alive" with an atomic exchange; then read_begin, pin, and under
 * rc->lock the check: no read_retry and no INVALIDATED, or it retries.  If an
 * invalidation's or comes after the exchange, the check sees INVALIDATED (or,
 * if it comes after the check too, the registration enters the index
 * dead and the next lock takes it out); if it comes
 * before, the exchange reads it (release, then acquire), so the check's
 * read_retry sees that invalidation's sequence.  Nothing ever sets a
 * registration alive again after an invalidation marked it, so no fence
 * is needed between the word and the sequence:
 *
 *	register thread				primary (munmap of the range)
 *	insert the interval notifier
 *	xchg(state, 1 user); seq = read_begin()
 *	pin -> frame A (referenced)
 *						start: ->invalidate: set_seq;
 *						  state |= INVALIDATED
 *						PTE := none; end (A stays pinned)
 *	lock; read_retry(seq) or INVALIDATED: retry	(without it: a live
 *	unlock; unpin A; pin again -> -EFAULT	 registration of memory
 *						 the range no longer maps,
 *						 handed to every lookup)
 *
 * The index (regcache_index.h) finds the registrations that cover a
 * range without a lock: sorted slots with a small static B-tree of their
 * starts, and a few recent slots added in place until the next rebuild;
 * a young index takes them, and now and then merges into a settled one
 * (a lookup loads the young one first: the merge publishes the settled
 * one first).
 * The rest of an invalidation (drain_locked()) clears the registration's
 * slot in place; the next rebuild compacts, and a
 * reap that finds most slots cleared rebuilds at once (the search goes
 * through cleared slots too).  Before the search, a lookup tries the
 * hints: the registrations by the page they start at, set when one is
 * published and cleared with its slot.
 *
 * One interval notifier per registration, not one over the whole cache:
 * the core's interval tree then finds exactly the registrations a range
 * overlaps (O(log n + hits)), and each ->invalidate reaches its own by
 * container_of.  The cost is an insert per registration and a remove per
 * free; removal cannot happen in ->invalidate (the core refuses it there
 * with -EDEADLK), nor can unpinning (the primary may hold locks that
 * unpin takes), hence the zombies.
 *
 * Statistics: hits live in each registration's state word (a lookup's CAS
 * counts its own; the rare carry out of 32 bits goes to rc->hits_carry)
 * and are added to rc->stats when the registration is freed; the rest are
 * counted under rc->lock, off the hit path.  umn_regcache_stats() sums.
 *
 * rc's lifetime.  umn_regcache_destroy() refuses while any registration
 * on rc->all has a user; a release touches neither rc nor r after its
 * final CAS (it reaps, when reap_due() says there is something to reap,
 * before that CAS, while its user still keeps destroy away), and the one
 * that frees keeps its user until its last critical section.  So release
 * needs no RCU read-side section, and destroy no grace period.
 *
 * rc->lock is a spinlock for short sections.  No notifier callback takes
 * it (an invalidation queues its rest), so it nests inside no lock of the
 * primary; it is never held across the ops, the interval calls or the
 * primary, and never on the hit path.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <umn/debug.h>
#include <umn-test/breaks.h>
#include "../core/fail.h"
#include "../core/rcu.h"
#include "regcache_internal.h"

/* [*sp, *ep): the pages of [addr, addr + len).  False if it is empty or
 * wraps. */
static bool pages_of(unsigned long addr, unsigned long len, unsigned long *sp,
		     unsigned long *ep)
{
	/* The last byte may not be in the last page: its end would wrap. */
	if (!len || addr + len - 1 < addr || addr + len - 1 >= -UMN_PAGE_SIZE)
		return false;
	*sp = addr & ~(UMN_PAGE_SIZE - 1);
	*ep = (addr + len - 1 + UMN_PAGE_SIZE) & ~(UMN_PAGE_SIZE - 1);
	return true;
}

/* Does the next registration need a new index?  Under rc->lock, or
 * unlocked as a guess. */
static bool index_full(struct umn_regcache *rc)
{
	return !__atomic_load_n(&rc->index, __ATOMIC_RELAXED) ||
	       __atomic_load_n(&rc->nrecent, __ATOMIC_RELAXED) == RECENT;
}

/*
 * Add @r (or nothing) to the index, under rc->lock: in place, as a
 * recent slot, if @rb has no young index (then !index_full()); else
 * rebuild the young tier into @rb's, or merge both into @rb's settled one
 * if rebuild_fits() said so, publish, and take what it used out of @rb.
 * Returns the young index replaced (to retire), or NULL.
 */
struct index *index_add(struct umn_regcache *rc, struct rebuild *rb,
			struct reg *r)
{
	struct slot add = { .end = r ? r->h.addr + r->h.len : 0,
			    .start = r ? r->h.addr : 0,
			    .r = r };
	struct index *old = rc->index, *st = rc->settled;
	size_t n, nst, live;

	rc_assert_held(rc);
	if (!rb->young) {
		r->recent_i = umn__regidx_add_recent(old, &add);
		__atomic_store_n(&rc->nlive, rc->nlive + 1, __ATOMIC_RELAXED);
		__atomic_store_n(&rc->nrecent, rc->nrecent + 1,
				 __ATOMIC_RELAXED);
		__atomic_store_n(&rc->nyoung, rc->nyoung + 1, __ATOMIC_RELAXED);
		__atomic_store_n(&rc->nslots, rc->nslots + 1, __ATOMIC_RELAXED);
		return NULL;
	}
	n = umn__regidx_rebuild(rb->young, old, r ? &add : NULL);
	nst = st ? st->n : 0;
	live = st ? st->n - st->ncleared : 0;
	if (rb->merge) {
		nst = umn__regidx_merge(rb->settled, st, rb->young);
		/* Pairs with the acquires in find(): the settled tier before
		 * the young one, emptied, so that a lookup that loads the
		 * new young one finds in the settled one what it held. */
		__atomic_store_n(&rc->settled, rb->settled, __ATOMIC_RELEASE);
		umn__regidx_reset(rb->young);
		if (st)
			retire_index_locked(rc, st);
		rb->settled = NULL;
		live = nst;
		n = 0;
	}
	/* Pairs with the acquire in find(). */
	__atomic_store_n(&rc->index, rb->young, __ATOMIC_RELEASE);
	rb->young = NULL;
	__atomic_store_n(&rc->nlive, live + n, __ATOMIC_RELAXED);
	__atomic_store_n(&rc->nrecent, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&rc->nyoung, n, __ATOMIC_RELAXED);
	__atomic_store_n(&rc->nslots, nst + n, __ATOMIC_RELAXED);
	if (rb->hints) {
		hints_replace(rc, rb->hints);
		rb->hints = NULL;
	}
	return old;
}

int umn_regcache_create(struct umn_mm *mm, const struct umn_regcache_ops *ops,
			void *arg, unsigned int flags,
			struct umn_regcache **rcp)
{
	struct umn_regcache *rc;

	if (!mm || !ops || !ops->pin || !ops->unpin || !rcp ||
	    (flags &
	     ~(UMN_REGCACHE_BREAK_RETRY | UMN_REGCACHE_BREAK_INVALIDATE)))
		return -EINVAL;
	if (umn__fail_here())
		return -ENOMEM;
	rc = aligned_alloc(CACHELINE, sizeof(*rc));
	if (!rc)
		return -ENOMEM;
	memset(rc, 0, sizeof(*rc));
	rc->hints = umn__reghints_alloc(umn__reghints_size(1 + RECENT));
	if (!rc->hints) {
		free(rc);
		return -ENOMEM;
	}
	rc->nhint_buckets = rc->hints->nbuckets;
	rc->mm = umn_mm_get(mm);
	rc->ops = ops;
	rc->arg = arg;
	rc->flags = flags;
	link_init(&rc->all);
	link_init(&rc->zombies);
	*rcp = rc;
	return 0;
}

/* Take a user of @r if it is not INVALIDATED, counting the hit. */
static bool get_user(struct reg *r)
{
	uint64_t old = __atomic_load_n(&r->state, __ATOMIC_RELAXED), new;

	do {
		if ((old & INVALIDATED) || (old & USERS) == USERS)
			return false;
		new = old + USER + HIT; /* the hits may carry out */
	} while (!__atomic_compare_exchange_n(&r->state, &old, new, true,
					      __ATOMIC_ACQUIRE,
					      __ATOMIC_RELAXED));
	if ((old >> HIT_SHIFT) == HITS_LOW)
		__atomic_fetch_add(&r->rc->hits_carry, HIT, __ATOMIC_RELAXED);
	return true;
}

/* Is @r valid?  With a user taken, if @get. */
static inline __attribute__((always_inline)) bool usable(struct reg *r,
							 bool get)
{
	return get ? get_user(r)
		   : !(__atomic_load_n(&r->state, __ATOMIC_ACQUIRE) &
		       INVALIDATED);
}

/* The registration of a published slot that covers the range, if it is
 * valid for it. */
static inline __attribute__((always_inline)) struct reg *
slot_reg(struct slot *sl, bool write, bool get)
{
	/* Pairs with the release that published the slot (r's fields were
	 * written before it). */
	struct reg *r = __atomic_load_n(&sl->r, __ATOMIC_ACQUIRE);

	return r && (!write || r->h.write) && usable(r, get) ? r : NULL;
}

/* The same for the sorted slots of @ix: every one before i starts at or
 * before s; one that ends at or after e covers [s, e); none before a
 * maxend < e does.  A range beyond the last start (a miss, as a cache
 * that grows upwards has) needs no search. */
static inline __attribute__((always_inline)) struct reg *
find_sorted(struct index *ix, unsigned long s, unsigned long e, bool write,
	    bool get)
{
	struct slot *sl;
	struct reg *r;
	size_t i;

	if (!ix->n)
		return NULL;
	i = s >= ix->key[0][ix->n - 1] ? ix->n : regidx_slot_after(ix, s);
	while (i > 0 && ix->s[i - 1].maxend >= e) {
		sl = &ix->s[--i];
		if (sl->end >= e && (r = slot_reg(sl, write, get)))
			return r;
	}
	return NULL;
}

/*
 * A valid registration covering [s, e), for writing if @write, with one
 * more user (@get), or just valid (!@get); in an RCU read-side section.
 */
static inline __attribute__((always_inline)) struct reg *
find(struct umn_regcache *rc, unsigned long s, unsigned long e, bool write,
     bool get)
{
	struct index *ix = __atomic_load_n(&rc->index, __ATOMIC_ACQUIRE), *st;
	struct hint *hb;
	struct reg *r;
	uint64_t cover;
	size_t i, n;

	if (!ix)
		return NULL;
	/* After the young tier: see index_add(). */
	st = __atomic_load_n(&rc->settled, __ATOMIC_ACQUIRE);
	/* First the hints (see regcache_index.h). */
	hb = reghints_bucket(__atomic_load_n(&rc->hints, __ATOMIC_ACQUIRE), s);
	for (i = 0; i < HINT_WAYS; i++) {
		if (__atomic_load_n(&hb[i].start, __ATOMIC_RELAXED) != s)
			continue;
		/* Pairs with the release that set the hint. */
		r = __atomic_load_n(&hb[i].r, __ATOMIC_ACQUIRE);
		if (r && r->h.addr + r->h.len >= e && r->h.addr <= s &&
		    (!write || r->h.write) && usable(r, get))
			return r;
	}
	/* The settled tier, where most are; the young one; then its recent
	 * slots. */
	if ((st && (r = find_sorted(st, s, e, write, get))) ||
	    (r = find_sorted(ix, s, e, write, get)))
		return r;
	n = __atomic_load_n(&ix->nrecent, __ATOMIC_ACQUIRE);
	/* The span and the filter read after the count cover at least its
	 * n slots. */
	if (!n || s < __atomic_load_n(&ix->recent_lo, __ATOMIC_RELAXED) ||
	    e > __atomic_load_n(&ix->recent_hi, __ATOMIC_RELAXED) ||
	    !regidx_recent_may_cover(ix, s))
		return NULL;
	/* The recent slots that cover [s, e), without a branch per slot
	 * (in no order, a branch on each would be mispredicted half the
	 * time: hence &, not &&); then those, newest first. */
	for (i = 0, cover = 0; i < n; i++)
		cover |= (uint64_t)((ix->recent[i].start <= s) &
				    (ix->recent[i].end >= e))
			 << i;
	while (cover) {
		i = 63 - (size_t)__builtin_clzll(cover);
		cover &= ~(1ULL << i);
		if ((r = slot_reg(&ix->recent[i], write, get)))
			return r;
	}
	return NULL;
}

/* umn_regcache_lookup() of the pages [s, e), already checked. */
static inline __attribute__((always_inline)) int
lookup_pages(struct umn_regcache *rc, unsigned long s, unsigned long e,
	     bool write, struct umn_regcache_handle **hp)
{
	struct reg *r;

	umn__rcu_read_lock();
	r = find(rc, s, e, write, true);
	umn__rcu_read_unlock();
	if (!r)
		return -ENOENT;
	*hp = &r->h;
	return 0;
}

int umn_regcache_lookup(struct umn_regcache *rc, unsigned long addr,
			unsigned long len, bool write,
			struct umn_regcache_handle **hp)
{
	unsigned long s, e;

	if (!rc || !hp || !pages_of(addr, len, &s, &e))
		return -EINVAL;
	return lookup_pages(rc, s, e, write, hp);
}

/*
 * A registration on whole cache lines: malloc()ed with what aligning it
 * by hand may take (malloc's alignment is max_align_t's; glibc's
 * aligned_alloc() costs a few hundred instructions more, a third of a
 * miss).  Its pages start before the padding that rounds struct reg up
 * to whole lines.  Zeroed but for mem_off; freed through reg_mem().
 */
static struct reg *reg_alloc(unsigned long n)
{
	const size_t pad = CACHELINE - _Alignof(max_align_t);
	size_t size;
	char *mem;
	struct reg *r;

	if (n > (SIZE_MAX - sizeof(*r) - 2 * CACHELINE) / sizeof(r->pages[0]))
		return NULL;
	size = offsetof(struct reg, pages) + n * sizeof(r->pages[0]);
	if (umn__fail_here() || !(mem = malloc(size + pad)))
		return NULL;
	r = (struct reg *)(((uintptr_t)mem + CACHELINE - 1) &
			   ~(uintptr_t)(CACHELINE - 1));
	memset(r, 0, size);
	r->mem_off = (unsigned char)((char *)r - mem);
	return r;
}

int umn_regcache_register(struct umn_regcache *rc, unsigned long addr,
			  unsigned long len, bool write,
			  struct umn_regcache_handle **hp)
{
	unsigned long s, e, n, seq;
	struct rebuild rb;
	struct index *old;
	struct reg *r;
	int ret;

	if (!rc || !hp || !pages_of(addr, len, &s, &e))
		return -EINVAL;
	umn_might_sleep();
	if (reap_due(rc) || index_sparse(rc))
		umn_regcache_reap(rc);
	if (!lookup_pages(rc, s, e, write, hp))
		return 0;

	n = (e - s) >> UMN_PAGE_SHIFT;
	r = reg_alloc(n);
	if (!r)
		return -ENOMEM;
	r->h = (struct umn_regcache_handle){ s, e - s, write, r->pages };
	r->rc = rc;
	r->where = UNPUBLISHED;
	link_init(&r->all);
	link_init(&r->zlink);
	/* Hear the range before pinning it: no change can slip between. */
	ret = umn_interval_notifier_insert(&r->sub, rc->mm, s, e - s, &reg_ops);
	if (ret)
		goto out_free;
	for (;;) {
		/* One user, the caller's, alive.  An exchange, acquire: if an
		 * invalidation's INVALIDATED comes before it, read_retry sees that
		 * invalidation's sequence; if after, the check below sees
		 * INVALIDATED. */
		__atomic_exchange_n(&r->state, USER, __ATOMIC_SEQ_CST);
		seq = umn_interval_read_begin(&r->sub);
		ret = rc->ops->pin(rc->arg, s, n, write, r->pages);
		if (ret)
			goto out_remove;
		/* The lock, with room in the index for one more: a recent
		 * slot, or what a rebuild needs, allocated here, outside
		 * the lock. */
		for (;;) {
			rb = (struct rebuild){ 0 };
			if (index_full(rc) &&
			    rebuild_alloc(rc, &rb, false, 1)) {
				rc->ops->unpin(rc->arg, n, r->pages);
				ret = -ENOMEM;
				goto out_remove;
			}
			rc_lock(rc);
			if (rb.young ? rebuild_fits(rc, &rb, false, 1)
				     : !index_full(rc))
				break;
			rc_unlock(rc);
			rebuild_put(rc, &rb);
		}
		rc->stats.pins += n;
		if (!umn_interval_read_retry(&r->sub, seq) &&
		    !(__atomic_load_n(&r->state, __ATOMIC_ACQUIRE) &
		      INVALIDATED))
			break;
		if (rc->flags & UMN_REGCACHE_BREAK_RETRY) {
			/* The planted bug: the collision ignored, alive. */
			__atomic_store_n(&r->state, USER, __ATOMIC_RELAXED);
			break;
		}
		rc->stats.retries++;
		rc_unlock(rc);
		rebuild_put(rc, &rb);
		unpin_reg(rc, r);
	}
	/* Published: from here a lookup may find it.  An invalidation that
	 * has marked it INVALIDATED since the check queued it: the next lock
	 * takes it out again (no lookup takes a user of it meanwhile). */
	old = index_add(rc, &rb, r);
	if (old)
		retire_index_locked(rc, old);
	umn__reghints_set(rc->hints, s, r);
	r->where = INDEXED;
	link_add(&rc->all, &r->all);
	rc->stats.registrations++;
	rc_unlock(rc);
	rebuild_put(rc, &rb); /* a settled index that it did not need */
	retire_flush(rc);
	*hp = &r->h;
	return 0;

out_remove:
	umn_interval_notifier_remove(&r->sub);
	/* A signal handler's ->invalidate may have queued r on rc->pending
	 * while its thread held the lock; that thread drains the queue
	 * before it lets the lock go, so one pass through the lock waits
	 * for it. */
	rc_lock(rc);
	rc_unlock(rc);
out_free:
	free(reg_mem(r));
	return ret;
}

int umn_regcache_release(struct umn_regcache_handle *h)
{
	struct umn_regcache *rc;
	bool reaped = false;
	struct reg *r;
	uint64_t old;

	if (!h)
		return -EINVAL;
	r = container_of(h, struct reg, h);
	rc = r->rc;
	/* Acquire, here and when the CAS fails: a releaser that finds it
	 * holds the last user frees r, after the other users' releases. */
	old = __atomic_load_n(&r->state, __ATOMIC_ACQUIRE);
	for (;;) {
		if (!(old & USERS))
			return -EINVAL;
		/* The last user of an invalid registration: free it. */
		if ((old & (USERS | INVALIDATED)) == (USER | INVALIDATED))
			break;
		/* Reap while this user still keeps rc alive. */
		if (!reaped && reap_due(rc)) {
			umn_regcache_reap(rc);
			reaped = true;
		}
		/* The final touch of r and rc.  Release: the user's accesses
		 * come before whoever frees r next. */
		if (__atomic_compare_exchange_n(&r->state, &old, old - USER,
						true, __ATOMIC_ACQ_REL,
						__ATOMIC_ACQUIRE))
			return 0;
	}
	if (!reaped && reap_due(rc))
		umn_regcache_reap(rc);
	/* Only this user is left and no lookup can take another: r is the
	 * caller's alone; its user keeps destroy away until put_reg's last
	 * critical section takes it off rc->all. */
	rc_lock(rc);
	/* Its ->invalidate set INVALIDATED but may not have had the lock
	 * yet: take it out of the index here (it then finds it gone). */
	invalidate_locked(rc, r, true);
	r->where = FREEING;
	rc_unlock(rc);
	put_reg(rc, r);
	return 0;
}

bool umn_regcache_valid(struct umn_regcache_handle *h)
{
	struct reg *r;

	if (!h)
		return false;
	r = container_of(h, struct reg, h);
	/* Pairs with the or in reg_invalidate(). */
	return !(__atomic_load_n(&r->state, __ATOMIC_ACQUIRE) & INVALIDATED);
}

int umn_regcache_check(struct umn_regcache *rc, unsigned long addr,
		       struct umn_regcache_page *out)
{
	struct reg *r;
	int ret = -ENOENT;

	if (!rc || !out)
		return -EINVAL;
	if (addr >= -UMN_PAGE_SIZE) /* no registration reaches it */
		return -ENOENT;
	umn__rcu_read_lock();
	r = find(rc, addr, addr + 1, false, false);
	if (r) {
		*out = r->pages[(addr - r->h.addr) >> UMN_PAGE_SHIFT];
		ret = 0;
	}
	umn__rcu_read_unlock();
	return ret;
}

void umn_regcache_stats(struct umn_regcache *rc, struct umn_regcache_stats *out)
{
	struct link *l;

	rc_lock(rc);
	*out = rc->stats;
	out->hits += __atomic_load_n(&rc->hits_carry, __ATOMIC_RELAXED);
	for (l = rc->all.next; l != &rc->all; l = l->next)
		out->hits += reg_hits(container_of(l, struct reg, all));
	rc_unlock(rc);
}
