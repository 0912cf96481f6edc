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
 *	r->state = hits << 32 | users << 1 | DEAD
 *
 * - lookup, in an RCU read-side section, searches rc->index (published
 *   with a release store; see "the index" below) and takes a user with a
 *   CAS that succeeds only while DEAD is clear; the same CAS counts the
 *   hit;
 * - ->invalidate sets DEAD with an atomic or, the first thing it does,
 *   before it takes rc->lock: from then on no lookup can take a user;
 * - release drops a user with a CAS; when that user is the last one of a
 *   dead registration, it does not drop it but frees the registration (it
 *   holds the user until the registration is off every list).
 *
 * A registration is in exactly one of these places (r->where, under
 * rc->lock); from INDEXED until it is freed it is also on rc->all:
 *	UNPUBLISHED	being registered; in no index
 *	INDEXED		in rc->index; alive, or just marked DEAD
 *	OUT		out of the index, dead, users > 0: its last
 *			release frees it
 *	ZOMBIE		on rc->zombies: dead, no user; the next reap
 *			(register, release, reap, destroy) frees it
 *	FREEING		taken by the one who frees it
 *
 * Who frees, exactly once.  The state word decides, without the lock:
 * users are 0 with DEAD set either after ->invalidate's atomic or (the
 * users were already 0), or after a release's CAS would drop the last
 * user (DEAD was already set).  In the first case ->invalidate, under
 * rc->lock, reads users == 0 and moves the registration to the zombies;
 * in the second the releaser frees it itself, without ever dropping that
 * user, so the invalidation's check under the lock reads users == 1 and
 * leaves it OUT.  No lookup adds a user in between: DEAD is set.
 *
 *	lookup (T1)		->invalidate (T2)	release (T3)
 *	ix = rc->index		set_seq
 *	r = ix->s[i].r		state |= DEAD
 *	CAS(state, +1 user)	lock; s[i].r = NULL;	1 user | DEAD: T3
 *	  fails: -ENOENT	  1 user: OUT; unlock	  frees r, keeping
 *							  its user until r
 *							  is off rc->all
 *
 * No lost invalidation.  The lookup's CAS and ->invalidate's atomic or
 * act on the same word: a lookup that begins after the or cannot take a
 * user; one whose CAS came first holds a user, and sees the invalidation
 * through umn_regcache_valid() as any holder does.  ("Began", in the
 * header, means ->invalidate set DEAD, before the primary changes
 * anything.)  DEAD is never cleared on a published registration.
 *
 * No lookup reads freed memory.  A registration out of the index, and an
 * index replaced, are retired: freed in batches after a grace period
 * (umn__synchronize_rcu(), by the register, release or reap that fills a
 * batch, unless it is itself in a read-side section), or by destroy,
 * when no lookup may run.  Synchronously rather than with call_rcu: no
 * worker thread (which fork would have to re-create, and TSan refuses
 * after a multi-threaded fork), nothing left queued at exit, and one
 * grace period, about a microsecond here, for RETIRE_BATCH frees.
 *
 * Registering uses collision-retry for the pin itself, with DEAD as a
 * second witness.  Each attempt first resets the state to "one user,
 * alive" with an atomic exchange; then read_begin, pin, and under
 * rc->lock the check: no read_retry and no DEAD, or it retries.  If an
 * invalidation's or comes after the exchange, the check sees DEAD (or,
 * if it comes after the check too, the registration enters the index
 * dead and ->invalidate takes it out when it gets the lock); if it comes
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
 *						  state |= DEAD
 *						PTE := none; end (A stays pinned)
 *	lock; read_retry(seq) or DEAD: retry	(without it: a live
 *	unlock; unpin A; pin again -> -EFAULT	 registration of memory
 *						 the range no longer maps,
 *						 handed to every lookup)
 *
 * The index: slots { start, end, maxend, r } sorted by start, maxend the
 * largest end of this slot and all before it, so "a registration covering
 * [s, e)" is a search for the last start <= s and a scan back while
 * maxend >= e (short unless one registration spans many others).  The
 * search counts keys <= s in blocks of 16 on a few levels (a small
 * static B-tree of the starts: 3 levels for 4096 slots) rather than
 * halving, whose every step waits for the load before.  Up to RECENT
 * registrations are added in place, unsorted, after the sorted slots
 * (the slot, then the count, with a release store), and scanned, newest
 * first, when the sorted ones have no match; the next one rebuilds:
 * register allocates the array outside the lock (retrying if it is too
 * small once the lock is held), merges the live slots with its own and
 * publishes it.  A rebuild copies every slot: with 1500 cached, register
 * + release cost 1270 ns with 16 recent slots, 620 with 64, where a
 * miss's scan of them costs 12 ns more (a hit on the newest, nothing).
 * ->invalidate clears its slot in place (r := NULL, a release store); the
 * next rebuild compacts, and a reap that finds most slots cleared
 * rebuilds at once (the search goes through cleared slots too: 16
 * registrations left among 528 slots cost 28 ns a hit instead of 18).
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
 * counts its own; the rare carry out of 32 bits goes to r->hits_carry)
 * and are added to rc->stats when the registration is freed; the rest are
 * counted under rc->lock, off the hit path.  umn_regcache_stats() sums.
 *
 * rc's lifetime.  umn_regcache_destroy() refuses while any registration
 * on rc->all has a user; a release touches neither rc nor r after its
 * final CAS (it reaps, when rc->nzombies says there is something to reap,
 * before that CAS, while its user still keeps destroy away), and the one
 * that frees keeps its user until its last critical section.  So release
 * needs no RCU read-side section, and destroy no grace period.
 *
 * Lock order: the primary's PTL -> rc->lock.  rc->lock is a spinlock (the
 * callback may run in atomic context); it is never held across the ops,
 * the interval calls or the primary, and never on the hit path.
 *
 * rc->lock knows its owner, which makes it safe against signal handlers.
 * On the process mm (primaries/proc) a handler may munmap memory that this
 * cache covers while its own thread holds rc->lock (in register, reap,
 * destroy or stats): ->invalidate then runs in that thread, on top of the
 * critical section it interrupted, where a plain spinlock spins for ever.
 * It sets DEAD at once, as always (no lookup that begins after can return
 * the registration: lookups take no lock), and defers the rest: it queues
 * the registration on rc->pending and flags the lock word, and the
 * owner's unlock takes it out of the index before it lets the lock go.
 * (The kernel's answer is spin_lock_irqsave; holding a thread's signals
 * costs two system calls per lock, 0.75 us here, far more than a lookup.)
 *
 *	thread T: register r			T's signal handler
 *	rc_lock: word = T
 *	check: no read_retry, no DEAD
 *						munmap -> ->invalidate(r):
 *						  set_seq; state |= DEAD;
 *						  word is T's: push r on
 *						  pending, word = T|PENDING
 *	insert r in the index (dead: no
 *	  lookup takes it)
 *	rc_unlock: CAS T -> 0 fails:
 *	  word = T; take r out of the index
 *	  (users 1: OUT); CAS T -> 0
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <umn/debug.h>
#include <umn/interval.h>
#include <umn/regcache.h>
#include <umn/soft.h>
#include <umn-test/breaks.h>
#include "../core/fail.h"
#include "../core/lockdep.h"
#include "../core/rcu.h"

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr)-offsetof(type, member)))

#define CACHELINE 64

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

/* r->state: hits << 32 | users << 1 | DEAD. */
#define DEAD	  1ULL
#define USER	  2ULL
#define USERS	  0xfffffffeULL
#define HIT_SHIFT 32
#define HIT	  (1ULL << HIT_SHIFT)
#define HITS_LOW  0xffffffffULL /* the hits of a state, before the shift */

enum where { UNPUBLISHED, INDEXED, OUT, ZOMBIE, FREEING };

/* Memory that a lookup may still be reading: freed after a grace period. */
struct retire {
	struct retire *next;
	void *mem; /* what to free */
};

#define RETIRE_BATCH 32 /* retired before a grace period frees them */

struct reg {
	/* The hit path's: the first cache line is the registration's own. */
	_Alignas(CACHELINE) uint64_t state; /* see the top; atomic */
	struct umn_regcache_handle h;	    /* what users see; immutable */
	struct umn_regcache *rc;
	/* The rest. */
	struct umn_interval_notifier sub; /* over [h.addr, h.addr + h.len) */
	uint64_t hits_carry;	  /* hits carried out of state; atomic */
	enum where where;	  /* under rc->lock */
	size_t recent_i;	  /* its recent slot, if it was added in place
				     to the current index; under rc->lock */
	struct link all;	  /* on rc->all; under rc->lock */
	struct link zlink;	  /* on rc->zombies; under rc->lock */
	bool deferred;		  /* on rc->pending; atomic */
	struct reg *pending_next; /* on rc->pending */
	struct retire retire;	  /* on rc->retired, once freed */
	struct umn_regcache_page pages[];
};

/* One slot of the index; all but r are immutable once published. */
struct slot {
	unsigned long start, end; /* the registration's [start, end) */
	unsigned long maxend;	  /* max end of this slot and all before */
	struct reg *r;		  /* NULL once taken out; atomic */
};

/*
 * The search levels of an index: key[0] holds each slot's start, padded
 * with ~0UL to whole blocks of FAN keys; key[l + 1] holds the first key
 * of each block of key[l], padded the same way; the top level is one
 * block.  A search counts, in one block per level, the keys <= s: FAN
 * independent compares instead of a chain of dependent ones.
 */
#define FAN	   16 /* keys per block: two cache lines */
#define MAX_LEVELS 16 /* FAN^16 slots */

#define RECENT 64 /* slots added in place before the next rebuild */

struct index {
	size_t n, cap;	     /* sorted slots used, allocated */
	unsigned int levels; /* of key[] */
	unsigned long *key[MAX_LEVELS];
	size_t nrecent; /* recent[] published: written under rc->lock with
			   a release store, after the slot */
	struct slot recent[RECENT]; /* unsorted; maxend unused */
	struct retire retire;	    /* on rc->retired, once replaced */
	struct slot s[];	    /* then the keys, from a cache line */
};

struct umn_regcache {
	/* Read by every lookup and release; written off the hit path. */
	struct index *index;	/* published with a release store; old
				    arrays are retired */
	unsigned long nzombies; /* how many on rc->zombies; atomic */
	struct umn_mm *mm;
	const struct umn_regcache_ops *ops;
	void *arg;
	unsigned int flags;
	/* Under the lock, on a line of their own. */
	_Alignas(CACHELINE) uintptr_t lock; /* guards what follows, each
				    reg's where, all, zlink and the index's
				    slots: 0, or the owner's token | PENDING */
	struct reg *pending;	/* index removals deferred to the owner's
				    unlock; atomic */
	unsigned long nlive;	/* slots with a registration in the index;
				    atomic: read unlocked to size the next */
	struct link all;	/* every registration from publication to
				    free: destroy's check, the stats' sum */
	struct link zombies;	/* invalid, without users */
	struct retire *retired; /* out of every index since the last grace
				   period; taken under the lock */
	unsigned long nretired; /* on it; atomic: read unlocked */
	struct umn_regcache_stats stats; /* hits: of the freed only */
};

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

static unsigned long reg_hits(struct reg *r)
{
	return (unsigned long)(__atomic_load_n(&r->hits_carry,
					       __ATOMIC_RELAXED) +
			       (__atomic_load_n(&r->state, __ATOMIC_RELAXED) >>
				HIT_SHIFT));
}

/* --- the lock --- */

#define PENDING 1UL

static _Thread_local long lock_token; /* its (even) address names a thread */

static uintptr_t me(void)
{
	return (uintptr_t)&lock_token;
}

/* Debug builds: abort unless this thread holds rc->lock. */
#ifdef UMN_DEBUG
#define rc_assert_held(rc)                                            \
	do {                                                          \
		if ((__atomic_load_n(&(rc)->lock, __ATOMIC_SEQ_CST) & \
		     ~PENDING) != me())                               \
			umn__lock_bug(__FILE__, __LINE__, __func__,   \
				      "rc->lock", UMN__LOCK_EXCL);    \
	} while (0)
#else
#define rc_assert_held(rc) ((void)0)
#endif

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

/* The first slot of @ix whose start is > @s (@s < ~0UL). */
static inline __attribute__((always_inline)) size_t
slot_after(const struct index *ix, unsigned long s)
{
	const unsigned long *k;
	unsigned int l = ix->levels;
	size_t b = 0, c;

	while (l--) {
		k = ix->key[l] + b * FAN;
		/* Four counts: four short chains of carries, not one long
		 * (the empty asm keeps the compiler from merging them). */
		size_t c0 = 0, c1 = 0, c2 = 0, c3 = 0;
#pragma GCC unroll 4
		for (unsigned int j = 0; j < FAN; j += 4) {
			c0 += k[j] <= s;
			c1 += k[j + 1] <= s;
			c2 += k[j + 2] <= s;
			c3 += k[j + 3] <= s;
			__asm__("" : "+r"(c0), "+r"(c1), "+r"(c2), "+r"(c3));
		}
		c = (c0 + c1) + (c2 + c3);
		if (!l)
			return b * FAN + c;
		if (!c) /* (only at the top) every start is > s */
			return 0;
		b = b * FAN + c - 1; /* the last block that starts <= s */
	}
	return 0;
}

/* Take @r out of the index, under rc->lock. */
static void unindex_locked(struct umn_regcache *rc, struct reg *r)
{
	struct index *ix = rc->index;
	struct slot *sl = NULL;
	size_t i;

	rc_assert_held(rc);
	/* Added in place to this index, or in the sorted slots, where those
	 * of the same start are together, just before slot_after(). */
	if (r->recent_i < ix->nrecent &&
	    __atomic_load_n(&ix->recent[r->recent_i].r, __ATOMIC_RELAXED) == r)
		sl = &ix->recent[r->recent_i];
	for (i = sl ? 0 : slot_after(ix, r->h.addr);
	     !sl && i-- > 0 && ix->s[i].start == r->h.addr;)
		if (__atomic_load_n(&ix->s[i].r, __ATOMIC_RELAXED) == r)
			sl = &ix->s[i];
	for (i = 0; !sl; i++) /* (not reached) */
		if (__atomic_load_n(&ix->recent[i].r, __ATOMIC_RELAXED) == r)
			sl = &ix->recent[i];
	/* A lookup that still loads r finds it DEAD. */
	__atomic_store_n(&sl->r, NULL, __ATOMIC_RELEASE);
	__atomic_store_n(&rc->nlive, rc->nlive - 1, __ATOMIC_RELAXED);
}

static size_t round_fan(size_t n)
{
	return (n + FAN - 1) / FAN * FAN;
}

/* An index for @n slots, allocated outside the lock. */
static struct index *index_alloc(size_t n)
{
	size_t keys = 0, c = n, size;
	struct index *ix;

	for (;;) {
		keys += round_fan(c);
		if (c <= FAN)
			break;
		c = round_fan(c) / FAN;
	}
	if (n > SIZE_MAX / 2 / sizeof(ix->s[0]) ||
	    keys > SIZE_MAX / 4 / sizeof(unsigned long))
		return NULL;
	size = sizeof(*ix) + n * sizeof(ix->s[0]);
	size = (size + CACHELINE - 1) & ~(size_t)(CACHELINE - 1);
	if (umn__fail_here() ||
	    !(ix = aligned_alloc(CACHELINE,
				 size + keys * sizeof(unsigned long))))
		return NULL;
	ix->n = 0;
	ix->cap = n;
	ix->key[0] = (unsigned long *)((char *)ix + size);
	return ix;
}

/* Build @ix's search levels over its @ix->n slots. */
static void index_levels(struct index *ix)
{
	size_t c = ix->n, i, next;
	unsigned int l = 0;

	for (i = 0; i < round_fan(c ? c : 1); i++) /* one block at least */
		ix->key[0][i] = i < c ? ix->s[i].start : ~0UL;
	while (c > FAN) {
		next = round_fan(c) / FAN;
		ix->key[l + 1] = ix->key[l] + round_fan(c);
		for (i = 0; i < round_fan(next); i++)
			ix->key[l + 1][i] =
				i < next ? ix->key[l][i * FAN] : ~0UL;
		c = next;
		l++;
	}
	ix->levels = l + 1;
}

/* Does the next registration need a new index?  Under rc->lock, or
 * unlocked as a hint (in a read-side section: the index may be retired
 * and freed meanwhile). */
static bool index_full(struct umn_regcache *rc)
{
	struct index *ix;
	bool full;

	umn__rcu_read_lock();
	ix = __atomic_load_n(&rc->index, __ATOMIC_ACQUIRE);
	full = !ix || __atomic_load_n(&ix->nrecent, __ATOMIC_RELAXED) == RECENT;
	umn__rcu_read_unlock();
	return full;
}

/*
 * Add @r to the index, under rc->lock: in place, as a recent slot, if @ix
 * is NULL (then !index_full()); else rebuild into @ix, which has room for
 * rc->nlive + 1: the live sorted and recent slots and @r's (if @r), in
 * order (the cleared ones are compacted away), and publish it.  Returns the old
 * index, replaced (to retire) or not (@ix NULL).
 */
static struct index *index_add(struct umn_regcache *rc, struct index *ix,
			       struct reg *r)
{
	struct slot add[RECENT + 1], tmp, *sl;
	struct index *old = rc->index;
	size_t i, j, n = 0, na = 0, on = old ? old->n : 0;
	unsigned long maxend = 0;

	rc_assert_held(rc);
	if (r)
		add[na++] =
			(struct slot){ r->h.addr, r->h.addr + r->h.len, 0, r };
	if (!ix) {
		r->recent_i = old->nrecent;
		old->recent[old->nrecent] = add[0];
		/* Pairs with the acquire in find(). */
		__atomic_store_n(&old->nrecent, old->nrecent + 1,
				 __ATOMIC_RELEASE);
		__atomic_store_n(&rc->nlive, rc->nlive + 1, __ATOMIC_RELAXED);
		return NULL;
	}
	/* The live recent slots and @r's, sorted by start (insertion: a
	 * few), then merged with the sorted ones. */
	for (i = 0; old && i < old->nrecent; i++) {
		tmp = old->recent[i];
		tmp.r = __atomic_load_n(&old->recent[i].r, __ATOMIC_RELAXED);
		if (!tmp.r)
			continue;
		for (j = na++; j > 0 && add[j - 1].start > tmp.start; j--)
			add[j] = add[j - 1];
		add[j] = tmp;
	}
	for (i = 0, j = 0; i < on || j < na;) {
		if (j < na && (i == on || add[j].start <= old->s[i].start)) {
			ix->s[n++] = add[j++];
			continue;
		}
		sl = &old->s[i++];
		tmp = *sl;
		tmp.r = __atomic_load_n(&sl->r, __ATOMIC_RELAXED);
		if (tmp.r)
			ix->s[n++] = tmp;
	}
	for (i = 0; i < n; i++) {
		if (ix->s[i].end > maxend)
			maxend = ix->s[i].end;
		ix->s[i].maxend = maxend;
	}
	ix->n = n;
	ix->nrecent = 0;
	index_levels(ix);
	/* Pairs with the acquire in find(). */
	__atomic_store_n(&rc->index, ix, __ATOMIC_RELEASE);
	__atomic_store_n(&rc->nlive, n, __ATOMIC_RELAXED);
	return old;
}

/*
 * The rest of an invalidation, under rc->lock: DEAD is set.  Out of the
 * index; without users, to the zombies (see "who frees" at the top).
 */
static void invalidate_locked(struct umn_regcache *rc, struct reg *r,
			      bool count)
{
	rc_assert_held(rc);
	if (r->where != INDEXED)
		return;
	unindex_locked(rc, r);
	/* Pairs with the release of the CAS that dropped the last user. */
	if (__atomic_load_n(&r->state, __ATOMIC_ACQUIRE) & USERS) {
		r->where = OUT;
	} else {
		r->where = ZOMBIE;
		link_add(&rc->zombies, &r->zlink);
		__atomic_store_n(&rc->nzombies, rc->nzombies + 1,
				 __ATOMIC_RELAXED);
	}
	if (count)
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
			invalidate_locked(rc, r, true);
		}
	}
}

/* Under rc->lock: free @mem, which holds @node, after a grace period. */
static void retire_locked(struct umn_regcache *rc, struct retire *node,
			  void *mem)
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

/*
 * Free a full batch of retired memory after a grace period, unless this
 * thread is in an RCU read-side section (a grace period would wait for
 * it: the batch waits for a later call).  Lookups read the memory without
 * a lock; they are all out of the sections that could see it once
 * umn__synchronize_rcu() returns.
 */
static void retire_flush(struct umn_regcache *rc)
{
	struct retire *list;

	if (__atomic_load_n(&rc->nretired, __ATOMIC_RELAXED) < RETIRE_BATCH ||
	    umn__rcu_read_ongoing())
		return;
	rc_lock(rc);
	list = rc->retired;
	rc->retired = NULL;
	__atomic_store_n(&rc->nretired, 0, __ATOMIC_RELAXED);
	rc_unlock(rc);
	umn__synchronize_rcu();
	free_retired(list);
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
	__atomic_fetch_or(&r->state, DEAD, __ATOMIC_SEQ_CST);

	if ((__atomic_load_n(&rc->lock, __ATOMIC_SEQ_CST) & ~PENDING) == me()) {
		/* A signal handler on top of this thread's critical section:
		 * the section's unlock takes r out of the index. */
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
	invalidate_locked(rc, r, true);
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

/*
 * Free an invalid registration that its caller alone holds (FREEING, or
 * OUT with the caller's user the last).  If its notifier cannot be removed
 * here, it goes to the zombies, without users.  The last critical section
 * is the caller's last touch of rc.
 */
static int put_reg(struct umn_regcache *rc, struct reg *r)
{
	int ret = umn_interval_notifier_remove(&r->sub);

	if (ret) {
		rc_lock(rc);
		__atomic_fetch_and(&r->state, ~USERS, __ATOMIC_RELAXED);
		r->where = ZOMBIE;
		link_add(&rc->zombies, &r->zlink);
		__atomic_store_n(&rc->nzombies, rc->nzombies + 1,
				 __ATOMIC_RELAXED);
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
	retire_locked(rc, &r->retire, r);
	rc_unlock(rc);
	return 0;
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
	rc->mm = umn_mm_get(mm);
	rc->ops = ops;
	rc->arg = arg;
	rc->flags = flags;
	link_init(&rc->all);
	link_init(&rc->zombies);
	*rcp = rc;
	return 0;
}

/* Are most of the index's slots cleared?  Under rc->lock, or unlocked as
 * a hint. */
static bool index_sparse(struct umn_regcache *rc)
{
	unsigned long live = __atomic_load_n(&rc->nlive, __ATOMIC_RELAXED);
	struct index *ix;
	bool sparse;

	umn__rcu_read_lock();
	ix = __atomic_load_n(&rc->index, __ATOMIC_ACQUIRE);
	sparse =
		ix && ix->n + __atomic_load_n(&ix->nrecent, __ATOMIC_RELAXED) >=
			      2 * live + FAN;
	umn__rcu_read_unlock();
	return sparse;
}

/*
 * Rebuild an index that invalidations left mostly cleared (a lookup
 * searches every slot, cleared or not, until the next register's
 * rebuild).  May sleep: it allocates, outside the lock.
 */
static void index_compact(struct umn_regcache *rc)
{
	struct index *ix, *old;

	while (index_sparse(rc)) {
		ix = index_alloc(__atomic_load_n(&rc->nlive, __ATOMIC_RELAXED) +
				 RECENT);
		if (!ix) /* only a search that stays longer */
			return;
		rc_lock(rc);
		if (!index_sparse(rc) || rc->nlive > ix->cap) {
			rc_unlock(rc);
			free(ix);
			continue;
		}
		old = index_add(rc, ix, NULL);
		retire_locked(rc, &old->retire, old);
		rc_unlock(rc);
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
		if (!__atomic_load_n(&rc->nzombies, __ATOMIC_RELAXED))
			break;
		r = NULL;
		rc_lock(rc);
		if (rc->zombies.next != &rc->zombies) {
			r = container_of(rc->zombies.next, struct reg, zlink);
			link_del(&r->zlink);
			r->where = FREEING;
			__atomic_store_n(&rc->nzombies, rc->nzombies - 1,
					 __ATOMIC_RELAXED);
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
		__atomic_fetch_or(&r->state, DEAD, __ATOMIC_SEQ_CST);
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
	free(rc->index);
	umn_mm_put(rc->mm);
	free(rc);
	return 0;
}

/* Take a user of @r if it is not DEAD, counting the hit. */
static bool get_user(struct reg *r)
{
	uint64_t old = __atomic_load_n(&r->state, __ATOMIC_RELAXED), new;

	do {
		if ((old & DEAD) || (old & USERS) == USERS)
			return false;
		new = old + USER + HIT; /* the hits may carry out */
	} while (!__atomic_compare_exchange_n(&r->state, &old, new, true,
					      __ATOMIC_ACQUIRE,
					      __ATOMIC_RELAXED));
	if ((old >> HIT_SHIFT) == HITS_LOW)
		__atomic_fetch_add(&r->hits_carry, HIT, __ATOMIC_RELAXED);
	return true;
}

/*
 * A valid registration covering [s, e), for writing if @write, with one
 * more user (@get), or just valid (!@get); in an RCU read-side section.
 */
static inline __attribute__((always_inline)) struct reg *
find(struct umn_regcache *rc, unsigned long s, unsigned long e, bool write,
     bool get)
{
	struct index *ix = __atomic_load_n(&rc->index, __ATOMIC_ACQUIRE);
	struct slot *sl;
	struct reg *r;
	size_t i, n;

	if (!ix)
		return NULL;
	/* Every sorted slot before i starts at or before s; one that ends
	 * at or after e covers [s, e); none before a maxend < e does.  Then
	 * the recent slots. */
	i = slot_after(ix, s);
	n = __atomic_load_n(&ix->nrecent, __ATOMIC_ACQUIRE);
	for (;;) {
		if (i > 0 && ix->s[i - 1].maxend >= e) {
			sl = &ix->s[--i];
		} else if (n > 0) {
			sl = &ix->recent[--n];
			if (sl->start > s)
				continue;
		} else {
			return NULL;
		}
		if (sl->end < e)
			continue;
		/* Pairs with the release that published the slot (r's
		 * fields were written before it). */
		r = __atomic_load_n(&sl->r, __ATOMIC_ACQUIRE);
		if (!r || (write && !r->h.write))
			continue;
		if (get ? get_user(r)
			: !(__atomic_load_n(&r->state, __ATOMIC_ACQUIRE) &
			    DEAD))
			return r;
	}
}

int umn_regcache_lookup(struct umn_regcache *rc, unsigned long addr,
			unsigned long len, bool write,
			struct umn_regcache_handle **hp)
{
	unsigned long s, e;
	struct reg *r;

	if (!rc || !hp || !pages_of(addr, len, &s, &e))
		return -EINVAL;
	umn__rcu_read_lock();
	r = find(rc, s, e, write, true);
	umn__rcu_read_unlock();
	if (!r)
		return -ENOENT;
	*hp = &r->h;
	return 0;
}

static struct reg *reg_alloc(unsigned long n)
{
	size_t size;
	struct reg *r;

	if (n > (SIZE_MAX - sizeof(*r) - CACHELINE) / sizeof(r->pages[0]))
		return NULL;
	size = sizeof(*r) + n * sizeof(r->pages[0]);
	size = (size + CACHELINE - 1) & ~(size_t)(CACHELINE - 1);
	if (umn__fail_here() || !(r = aligned_alloc(CACHELINE, size)))
		return NULL;
	memset(r, 0, size);
	return r;
}

int umn_regcache_register(struct umn_regcache *rc, unsigned long addr,
			  unsigned long len, bool write,
			  struct umn_regcache_handle **hp)
{
	unsigned long s, e, n, seq;
	struct index *ix, *old;
	struct reg *r;
	int ret;

	if (!rc || !hp || !pages_of(addr, len, &s, &e))
		return -EINVAL;
	umn_might_sleep();
	umn_regcache_reap(rc);
	if (!umn_regcache_lookup(rc, addr, len, write, hp))
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
		 * invalidation's DEAD comes before it, read_retry sees that
		 * invalidation's sequence; if after, the check below sees
		 * DEAD. */
		__atomic_exchange_n(&r->state, USER, __ATOMIC_SEQ_CST);
		seq = umn_interval_read_begin(&r->sub);
		ret = rc->ops->pin(rc->arg, s, n, write, r->pages);
		if (ret)
			goto out_remove;
		/* The lock, with room in the index for one more: a recent
		 * slot, or a new index allocated here, outside the lock. */
		for (;;) {
			ix = NULL;
			if (index_full(rc) &&
			    !(ix = index_alloc(
				      __atomic_load_n(&rc->nlive,
						      __ATOMIC_RELAXED) +
				      1 + RECENT))) {
				rc->ops->unpin(rc->arg, n, r->pages);
				ret = -ENOMEM;
				goto out_remove;
			}
			rc_lock(rc);
			if (ix ? rc->nlive + 1 <= ix->cap : !index_full(rc))
				break;
			rc_unlock(rc);
			free(ix);
		}
		rc->stats.pins += n;
		if (!umn_interval_read_retry(&r->sub, seq) &&
		    !(__atomic_load_n(&r->state, __ATOMIC_ACQUIRE) & DEAD))
			break;
		if (rc->flags & UMN_REGCACHE_BREAK_RETRY) {
			/* The planted bug: the collision ignored, alive. */
			__atomic_store_n(&r->state, USER, __ATOMIC_RELAXED);
			break;
		}
		rc->stats.retries++;
		rc_unlock(rc);
		free(ix);
		unpin(rc, r);
	}
	/* Published: from here a lookup may find it.  An invalidation that
	 * has marked it DEAD since the check takes it out again when it gets
	 * the lock (no lookup takes a user of it meanwhile). */
	old = index_add(rc, ix, r);
	if (old)
		retire_locked(rc, &old->retire, old);
	r->where = INDEXED;
	link_add(&rc->all, &r->all);
	rc->stats.registrations++;
	rc_unlock(rc);
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
	free(r);
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
	old = __atomic_load_n(&r->state, __ATOMIC_RELAXED);
	for (;;) {
		if (!(old & USERS))
			return -EINVAL;
		/* The last user of an invalid registration: free it. */
		if ((old & (USERS | DEAD)) == (USER | DEAD))
			break;
		/* Reap while this user still keeps rc alive. */
		if (!reaped &&
		    __atomic_load_n(&rc->nzombies, __ATOMIC_RELAXED)) {
			umn_regcache_reap(rc);
			reaped = true;
		}
		/* The final touch of r and rc.  Release: the user's accesses
		 * come before whoever frees r next. */
		if (__atomic_compare_exchange_n(&r->state, &old, old - USER,
						true, __ATOMIC_RELEASE,
						__ATOMIC_RELAXED))
			return 0;
	}
	if (!reaped && __atomic_load_n(&rc->nzombies, __ATOMIC_RELAXED))
		umn_regcache_reap(rc);
	/* Only this user is left and no lookup can take another: r is the
	 * caller's alone; its user keeps destroy away until put_reg's last
	 * critical section takes it off rc->all. */
	rc_lock(rc);
	/* Its ->invalidate set DEAD but may not have had the lock
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
	return !(__atomic_load_n(&r->state, __ATOMIC_ACQUIRE) & DEAD);
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
	for (l = rc->all.next; l != &rc->all; l = l->next)
		out->hits += reg_hits(container_of(l, struct reg, all));
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
