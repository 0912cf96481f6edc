// SPDX-License-Identifier: MIT
/*
 * consumers/regcache.c - an RDMA-like registration cache (umn/regcache.h).
 *
 * Pattern: references (DESIGN.md contract 4, the alternative).  A
 * registration holds a pin on each of its pages, so no frame it hands the
 * device can be freed or reused, whatever the primary does.  What the
 * notifier keeps exact is the cache: a registration that an invalidation
 * hit no longer describes the range, so it is marked invalid and taken out
 * of the lookup list in ->invalidate (the start of the change), and its
 * pins are dropped when its last user releases it (the device is done).
 *
 * Registering uses collision-retry for the pin itself:
 *
 *	register thread				primary (munmap of the range)
 *	insert the interval notifier
 *	seq = read_begin()
 *	pin -> frame A (referenced)
 *						start: ->invalidate: set_seq
 *						  (not published: no one to tell)
 *						PTE := none; end (A stays pinned)
 *	lock; read_retry(seq): retry		(without it: a valid registration
 *	unpin A; pin again -> -EFAULT		 of memory the range no longer
 *						 maps, handed out to every
 *						 later lookup)
 *
 * One interval notifier per registration, not one over the whole cache:
 * the core's interval tree then finds exactly the registrations a range
 * overlaps (O(log n + hits)), and each ->invalidate reaches its own by
 * container_of; one notifier over [0, TASK_SIZE) would hear every range of
 * the mm and walk the whole cache each time.  The cost is an insert per
 * registration and a remove per free; removal cannot happen in ->invalidate
 * (the core refuses it there with -EDEADLK), nor can unpinning (the primary
 * may hold locks that unpin takes), so a registration invalidated without
 * users goes to a zombie list, which the next register, release, reap or
 * destroy frees.
 *
 * The lookup structure is a plain list: a reference, not a fast cache.
 *
 * A registration is in exactly one of these states:
 *	valid		on rc->cache; users >= 0
 *	invalid, used	on no list; its last release frees it
 *	invalid, idle	on rc->zombies (or on a reaper's private list)
 *
 * Lock order: the primary's PTL -> rc->lock.  rc->lock is a spinlock (the
 * callback may run in atomic context); it is never held across the ops,
 * the interval calls or the primary.
 *
 * rc->lock knows its owner, which makes it safe against signal handlers.
 * On the process mm (primaries/proc) a handler may munmap memory that this
 * cache covers while its own thread holds rc->lock, in a lookup say:
 * ->invalidate then runs in that thread, on top of the critical section it
 * interrupted, where a plain spinlock spins for ever.  It defers instead:
 * it sets the interval's seq (as always), queues the registration on
 * rc->pending and flags the lock word, and the owner's unlock invalidates
 * what is queued before it lets the lock go.  No lookup that begins after
 * the invalidation began can return the registration: none can take the
 * lock before that unlock.  (The kernel's answer is spin_lock_irqsave;
 * holding a thread's signals costs two system calls per lock, 0.75 us
 * here, ten times a lookup.)
 *
 *	thread T: lookup			T's signal handler
 *	rc_lock: word = T
 *	walk rc->cache ...
 *						munmap -> ->invalidate(r):
 *						  word is T's: set_seq, push r
 *						  on pending, word = T|PENDING
 *	... returns r (it began before)
 *	rc_unlock: CAS T -> 0 fails:
 *	  word = T; invalidate pending r;
 *	  CAS T -> 0
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <umn/debug.h>
#include <umn/interval.h>
#include <umn/regcache.h>
#include <umn/soft.h>
#include "../core/fail.h"

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr)-offsetof(type, member)))

struct link {
	struct link *prev, *next;
};

static void link_init(struct link *l)
{
	l->prev = l->next = l;
}

static void link_add(struct link *head, struct link *l)
{
	l->next = head->next;
	l->prev = head;
	head->next->prev = l;
	head->next = l;
}

static void link_del(struct link *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
	link_init(l);
}

struct reg {
	struct umn_regcache_handle h;	  /* what users see */
	struct umn_interval_notifier sub; /* over [h.addr, h.addr + h.len) */
	struct umn_regcache *rc;
	struct link link;    /* see the states above; under rc->lock */
	unsigned long users; /* handles held; under rc->lock */
	bool valid;	     /* published, not invalidated; under rc->lock */
	bool deferred;	     /* on rc->pending; atomic */
	struct reg *pending_next; /* on rc->pending */
	struct umn_regcache_page pages[];
};

struct umn_regcache {
	struct umn_mm *mm;
	const struct umn_regcache_ops *ops;
	void *arg;
	unsigned int flags;
	uintptr_t lock;	       /* guards the lists, each reg's link, users
				    and valid, handles and stats: 0, or the
				    owner's token | PENDING */
	struct reg *pending;   /* invalidations deferred to the owner's
				    unlock; atomic */
	struct link cache;     /* valid registrations */
	struct link zombies;   /* invalid, without users */
	unsigned long handles; /* users of all registrations */
	struct umn_regcache_stats stats;
};

static struct reg *of_link(struct link *l)
{
	return container_of(l, struct reg, link);
}

static unsigned long npages(const struct reg *r)
{
	return r->h.len >> UMN_PAGE_SHIFT;
}

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

#define PENDING 1UL

static _Thread_local long lock_token; /* its (even) address names a thread */

static uintptr_t me(void)
{
	return (uintptr_t)&lock_token;
}

static void rc_lock(struct umn_regcache *rc)
{
	uintptr_t word;

	for (;;) {
		word = 0;
		if (__atomic_compare_exchange_n(&rc->lock, &word, me(), false,
						__ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			return;
		while (__atomic_load_n(&rc->lock, __ATOMIC_RELAXED))
			;
	}
}

/* Under rc->lock. */
static void invalidate_locked(struct umn_regcache *rc, struct reg *r)
{
	if (!r->valid)
		return;
	r->valid = false;
	link_del(&r->link);
	if (!r->users)
		link_add(&rc->zombies, &r->link);
	rc->stats.invalidations++;
}

/* Let rc->lock go, after the invalidations that this thread's signal
 * handlers deferred to it (see the top of the file).  The accesses are
 * seq-cst: a handler may run between any two of them. */
static void rc_unlock(struct umn_regcache *rc)
{
	struct reg *r, *next;
	uintptr_t word;

	for (;;) {
		word = me();
		if (__atomic_compare_exchange_n(&rc->lock, &word, 0, false,
						__ATOMIC_SEQ_CST,
						__ATOMIC_SEQ_CST))
			return;
		__atomic_store_n(&rc->lock, me(), __ATOMIC_SEQ_CST);
		r = __atomic_exchange_n(&rc->pending, NULL, __ATOMIC_SEQ_CST);
		for (; r; r = next) {
			next = r->pending_next;
			__atomic_store_n(&r->deferred, false, __ATOMIC_SEQ_CST);
			invalidate_locked(rc, r);
		}
	}
}

static bool reg_invalidate(struct umn_interval_notifier *sub,
			   const struct umn_range *range, unsigned long cur_seq)
{
	struct reg *r = container_of(sub, struct reg, sub);
	struct umn_regcache *rc = r->rc;
	struct reg *head;

	(void)range;
	if ((__atomic_load_n(&rc->lock, __ATOMIC_SEQ_CST) & ~PENDING) == me()) {
		/* A signal handler on top of this thread's critical section:
		 * the section's unlock invalidates r. */
		umn_interval_set_seq(sub, cur_seq);
		if (!__atomic_exchange_n(&r->deferred, true,
					 __ATOMIC_SEQ_CST)) {
			head = __atomic_load_n(&rc->pending, __ATOMIC_SEQ_CST);
			do
				r->pending_next = head;
			while (!__atomic_compare_exchange_n(
				&rc->pending, &head, r, false, __ATOMIC_SEQ_CST,
				__ATOMIC_SEQ_CST));
		}
		__atomic_store_n(&rc->lock, me() | PENDING, __ATOMIC_SEQ_CST);
		return true;
	}
	rc_lock(rc);
	umn_interval_set_seq(sub, cur_seq);
	invalidate_locked(rc, r);
	rc_unlock(rc);
	return true;
}

static const struct umn_interval_notifier_ops reg_ops = {
	.name = "regcache",
	.invalidate = reg_invalidate,
};

static void unpin(struct umn_regcache *rc, struct reg *r)
{
	rc->ops->unpin(rc->arg, npages(r), r->pages);
	rc_lock(rc);
	rc->stats.unpins += npages(r);
	rc_unlock(rc);
}

/* Free an invalid registration that no one can reach any more.  If its
 * notifier cannot be removed here, it goes back to the zombies. */
static int put_reg(struct umn_regcache *rc, struct reg *r)
{
	int ret = umn_interval_notifier_remove(&r->sub);

	rc_lock(rc);
	if (ret)
		link_add(&rc->zombies, &r->link);
	else
		rc->stats.reaped++;
	rc_unlock(rc);
	if (ret)
		return ret;
	unpin(rc, r);
	free(r);
	return 0;
}

int umn_regcache_create(struct umn_mm *mm, const struct umn_regcache_ops *ops,
			void *arg, unsigned int flags,
			struct umn_regcache **rcp)
{
	struct umn_regcache *rc;

	if (!mm || !ops || !ops->pin || !ops->unpin || !rcp ||
	    (flags & ~UMN_REGCACHE_BREAK_RETRY))
		return -EINVAL;
	rc = umn__calloc(1, sizeof(*rc));
	if (!rc)
		return -ENOMEM;
	rc->mm = umn_mm_get(mm);
	rc->ops = ops;
	rc->arg = arg;
	rc->flags = flags;
	link_init(&rc->cache);
	link_init(&rc->zombies);
	*rcp = rc;
	return 0;
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
		rc_lock(rc);
		r = rc->zombies.next != &rc->zombies ? of_link(rc->zombies.next)
						     : NULL;
		if (r)
			link_del(&r->link);
		rc_unlock(rc);
		if (!r)
			return n;
		ret = put_reg(rc, r);
		if (ret)
			return ret;
		n++;
	}
}

int umn_regcache_destroy(struct umn_regcache *rc)
{
	struct reg *r;
	int ret;

	if (!rc)
		return -EINVAL;
	rc_lock(rc);
	if (rc->handles) {
		rc_unlock(rc);
		return -EBUSY;
	}
	while (rc->cache.next != &rc->cache) {
		r = of_link(rc->cache.next);
		r->valid = false;
		link_del(&r->link);
		link_add(&rc->zombies, &r->link);
	}
	rc_unlock(rc);
	ret = umn_regcache_reap(rc);
	if (ret < 0)
		return ret;
	umn_mm_put(rc->mm);
	free(rc);
	return 0;
}

/* A valid registration covering [s, e), for writing if @write, with one
 * more user; under rc->lock. */
static struct reg *get_cached(struct umn_regcache *rc, unsigned long s,
			      unsigned long e, bool write)
{
	struct link *l;
	struct reg *r;

	for (l = rc->cache.next; l != &rc->cache; l = l->next) {
		r = of_link(l);
		if (r->h.addr <= s && e - r->h.addr <= r->h.len &&
		    (r->h.write || !write)) {
			r->users++;
			rc->handles++;
			rc->stats.hits++;
			return r;
		}
	}
	return NULL;
}

int umn_regcache_lookup(struct umn_regcache *rc, unsigned long addr,
			unsigned long len, bool write,
			struct umn_regcache_handle **hp)
{
	unsigned long s, e;
	struct reg *r;

	if (!rc || !hp || !pages_of(addr, len, &s, &e))
		return -EINVAL;
	rc_lock(rc);
	r = get_cached(rc, s, e, write);
	rc_unlock(rc);
	if (!r)
		return -ENOENT;
	*hp = &r->h;
	return 0;
}

int umn_regcache_register(struct umn_regcache *rc, unsigned long addr,
			  unsigned long len, bool write,
			  struct umn_regcache_handle **hp)
{
	unsigned long s, e, n, seq;
	struct reg *r;
	int ret;

	if (!rc || !hp || !pages_of(addr, len, &s, &e))
		return -EINVAL;
	umn_might_sleep();
	umn_regcache_reap(rc);
	if (!umn_regcache_lookup(rc, addr, len, write, hp))
		return 0;

	n = (e - s) >> UMN_PAGE_SHIFT;
	if (n > (SIZE_MAX - sizeof(*r)) / sizeof(r->pages[0]))
		return -ENOMEM;
	r = umn__calloc(1, sizeof(*r) + n * sizeof(r->pages[0]));
	if (!r)
		return -ENOMEM;
	r->h = (struct umn_regcache_handle){ s, e - s, write, r->pages };
	r->rc = rc;
	link_init(&r->link);
	/* Hear the range before pinning it: no change can slip between. */
	ret = umn_interval_notifier_insert(&r->sub, rc->mm, s, e - s, &reg_ops);
	if (ret)
		goto out_free;
	for (;;) {
		seq = umn_interval_read_begin(&r->sub);
		ret = rc->ops->pin(rc->arg, s, n, write, r->pages);
		if (ret)
			goto out_remove;
		rc_lock(rc);
		rc->stats.pins += n;
		if ((rc->flags & UMN_REGCACHE_BREAK_RETRY) ||
		    !umn_interval_read_retry(&r->sub, seq))
			break;
		rc->stats.retries++;
		rc_unlock(rc);
		unpin(rc, r);
	}
	/* Published under the lock ->invalidate takes: from here on, an
	 * invalidation finds it valid and takes it out again. */
	r->valid = true;
	r->users = 1;
	rc->handles++;
	rc->stats.registrations++;
	link_add(&rc->cache, &r->link);
	rc_unlock(rc);
	*hp = &r->h;
	return 0;

out_remove:
	umn_interval_notifier_remove(&r->sub);
out_free:
	free(r);
	return ret;
}

int umn_regcache_release(struct umn_regcache_handle *h)
{
	struct reg *r;
	struct umn_regcache *rc;
	bool last;

	if (!h)
		return -EINVAL;
	r = container_of(h, struct reg, h);
	rc = r->rc;
	rc_lock(rc);
	if (!r->users) {
		rc_unlock(rc);
		return -EINVAL;
	}
	r->users--;
	/* Invalid and unused: on no list, so no one else can reach it. */
	last = !r->users && !r->valid;
	rc_unlock(rc);
	if (last)
		put_reg(rc, r);
	umn_regcache_reap(rc);
	/* Only now: until handles drops, umn_regcache_destroy refuses, so rc
	 * outlives this call's last touch of it. */
	rc_lock(rc);
	rc->handles--;
	rc_unlock(rc);
	return 0;
}

bool umn_regcache_valid(struct umn_regcache_handle *h)
{
	struct reg *r;
	bool valid;

	if (!h)
		return false;
	r = container_of(h, struct reg, h);
	rc_lock(r->rc);
	valid = r->valid;
	rc_unlock(r->rc);
	return valid;
}

int umn_regcache_check(struct umn_regcache *rc, unsigned long addr,
		       struct umn_regcache_page *out)
{
	struct link *l;
	struct reg *r;
	int ret = -ENOENT;

	if (!rc || !out)
		return -EINVAL;
	rc_lock(rc);
	for (l = rc->cache.next; l != &rc->cache; l = l->next) {
		r = of_link(l);
		if (addr >= r->h.addr && addr - r->h.addr < r->h.len) {
			*out = r->pages[(addr - r->h.addr) >> UMN_PAGE_SHIFT];
			ret = 0;
			break;
		}
	}
	rc_unlock(rc);
	return ret;
}

void umn_regcache_stats(struct umn_regcache *rc, struct umn_regcache_stats *out)
{
	rc_lock(rc);
	*out = rc->stats;
	rc_unlock(rc);
}

/* The soft-MMU adapter. */

static void soft_unpin(void *arg, unsigned long npages,
		       const struct umn_regcache_page *pages)
{
	struct umn_regcache_soft *soft = arg;
	unsigned long i;

	for (i = 0; i < npages; i++)
		umn_soft_unpin(soft->frames, pages[i].frame);
}

static int soft_pin(void *arg, unsigned long addr, unsigned long npages,
		    bool write, struct umn_regcache_page *pages)
{
	struct umn_regcache_soft *soft = arg;
	struct umn_soft_translation t;
	unsigned long i, a;
	int ret;

	for (i = 0; i < npages; i++) {
		a = addr + (i << UMN_PAGE_SHIFT);
		ret = umn_soft_pin(soft->sm, a, write, &t);
		if (ret) {
			soft_unpin(arg, i, pages);
			return ret;
		}
		/* A huge entry maps a frame of its own size from its start. */
		pages[i].frame = t.frame;
		pages[i].subpage = (t.size == UMN_PAGE_SIZE ? t.subpage : 0) +
				   ((a - t.base) >> UMN_PAGE_SHIFT);
		pages[i].gen = t.gen;
	}
	return 0;
}

const struct umn_regcache_ops umn_regcache_soft_ops = {
	.pin = soft_pin,
	.unpin = soft_unpin,
};
