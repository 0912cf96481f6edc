/* SPDX-License-Identifier: MIT */
/*
 * consumers/regcache_internal.h - what the registration cache's files
 * share: a registration, the cache, the state word and the lock
 * (regcache.c has the design).  Internal; nothing here is installed.
 */
#ifndef UMN_CONSUMERS_REGCACHE_INTERNAL_H
#define UMN_CONSUMERS_REGCACHE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <umn/interval.h>
#include <umn/regcache.h>
#include "../core/lockdep.h"
#include "regcache_index.h"

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr)-offsetof(type, member)))

struct link {
	struct link *prev, *next;
};

static inline void link_init(struct link *l)
{
	l->prev = l->next = l;
}

static inline void link_add(struct link *head, struct link *l)
{
	l->next = head->next;
	l->prev = head;
	head->next->prev = l;
	head->next = l;
}

static inline void link_del(struct link *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
	link_init(l);
}

/* r->state: hits << 32 | users << 1 | INVALIDATED. */
#define INVALIDATED 1ULL
#define USER	    2ULL
#define USERS	    0xfffffffeULL
#define HIT_SHIFT   32
#define HIT	    (1ULL << HIT_SHIFT)
#define HITS_LOW    0xffffffffULL /* the hits of a state, before the shift */

enum where { UNPUBLISHED, INDEXED, UNINDEXED, ZOMBIE, FREEING };

#define RETIRE_BATCH 32 /* retired before a grace period frees them */

struct reg {
	/* Lines 0 and 1, the invalidation's: the tree node first, so that
	 * the core's search reads one line per node it visits. */
	struct umn_interval_notifier sub; /* over [h.addr, h.addr + h.len) */
	unsigned char where;		  /* enum where; under rc->lock */
	bool deferred;			  /* on rc->pending; atomic */
	unsigned char mem_off;		  /* r - what reg_alloc() allocated */
	uint32_t recent_i; /* its recent slot (< RECENT), if it was
				  added in place to the current index;
				  under rc->lock */
	struct link all;   /* on rc->all; under rc->lock */
	/* Line 2, the hit path's. */
	_Alignas(CACHELINE) uint64_t state; /* see the top; atomic */
	struct umn_regcache_handle h;	    /* what users see; immutable */
	struct umn_regcache *rc;
	/* The rest, packed: every byte is a share of a page fault as the
	 * cache grows. */
	struct reg *pending_next; /* on rc->pending */
	union {
		struct link zlink;    /* on rc->zombies; under rc->lock */
		struct retire retire; /* on rc->retired, once freed (off
					 the zombies for good) */
	};
	struct umn_regcache_page pages[];
};

/* What reg_alloc() allocated for @r: free() takes it. */
static inline void *reg_mem(struct reg *r)
{
	return (char *)r - r->mem_off;
}

struct umn_regcache {
	/* Read by every lookup and release; written off the hit path. */
	struct index *index;	/* the young tier: published with a
				   release store; old arrays are retired */
	struct index *settled;	/* the settled tier (or NULL): the same */
	struct hints *hints;	/* the same; never NULL */
	unsigned long nzombies; /* on rc->zombies or rc->pending (the next
				   reap's work); atomic */
	struct umn_mm *mm;
	const struct umn_regcache_ops *ops;
	void *arg;
	unsigned int flags;
	/* Under the lock, on a line of their own. */
	/* 0, or the owner's token | PENDING; guards what follows, each
	 * reg's where, all and zlink, and the index's slots. */
	_Alignas(CACHELINE) uintptr_t lock;
	/* Invalidations whose rest waits for the lock's next holder
	 * (regcache_reclaim.c); atomic. */
	struct reg *pending;
	/* Slots with a registration in the index; atomic: read unlocked
	 * to size the next. */
	unsigned long nlive;
	/* The young index's recent slots and all its slots, and all the
	 * slots of both tiers, cleared or not: the unlocked guesses of
	 * index_full(), the next rebuild's and index_sparse(); atomic. */
	unsigned long nrecent, nyoung, nslots;
	/* rc->hints->nbuckets; atomic: read unlocked. */
	size_t nhint_buckets;
	/* Every registration from publication to free: destroy's check,
	 * the stats' sum. */
	struct link all;
	/* Invalid, without users. */
	struct link zombies;
	/* Out of every index since the last grace period, taken under the
	 * lock; how many (atomic: read unlocked). */
	struct retire *retired;
	unsigned long nretired;
	/* Replaced indexes since the last grace period, taken under the
	 * lock; and for each tier one past its grace period, the next
	 * rebuild's memory (atomic). */
	struct retire *retired_index;
	struct index *spare, *settled_spare;
	/* Hits: of the freed only, and hits_carry (atomic) the carries out
	 * of the registrations' 32-bit counts. */
	struct umn_regcache_stats stats;
	unsigned long hits_carry;
};

static inline unsigned long npages(const struct reg *r)
{
	return r->h.len >> UMN_PAGE_SHIFT;
}

static inline unsigned long reg_hits(struct reg *r)
{
	return (unsigned long)(__atomic_load_n(&r->state, __ATOMIC_RELAXED) >>
			       HIT_SHIFT);
}

/*
 * The most slots the young tier holds before a rebuild merges it into the
 * settled one: the least power of two (at least 4 * RECENT) whose square
 * reaches 2 * RECENT * @n for @n live.  Its rebuilds (every RECENT
 * registrations, a copy of the young slots) and the merges (every
 * young_max() or so, a copy of all) then copy about sqrt(n / RECENT)
 * slots each a registration, rather than n / RECENT with one tier.
 */
static inline size_t young_max(size_t n)
{
	size_t m = 4 * RECENT;

	while (m < n && m / (2 * RECENT) * m < n)
		m *= 2;
	return m;
}

/* What the next rebuild needs, allocated outside rc->lock: the next young
 * index (for a merge, where the young slots go first, then emptied and
 * published), the next settled index if a merge is due, and new hints
 * if the cache outgrew them. */
struct rebuild {
	struct index *young, *settled;
	struct hints *hints;
	bool merge; /* under rc->lock: a merge, rebuild_fits() decides */
};

/* Are most of the index's slots cleared?  Under rc->lock, or unlocked as
 * a guess. */
static inline bool index_sparse(struct umn_regcache *rc)
{
	return __atomic_load_n(&rc->index, __ATOMIC_RELAXED) &&
	       __atomic_load_n(&rc->nslots, __ATOMIC_RELAXED) >=
		       2 * __atomic_load_n(&rc->nlive, __ATOMIC_RELAXED) + FAN;
}

/* Has umn_regcache_reap() something to free, or invalidations to finish
 * first?  A guess, unlocked. */
static inline bool reap_due(struct umn_regcache *rc)
{
	return __atomic_load_n(&rc->nzombies, __ATOMIC_RELAXED);
}

/* Must the next rebuild that adds @add (0 or 1) merge the tiers?  Under
 * rc->lock, or unlocked as a guess. */
static inline bool merge_due(struct umn_regcache *rc, size_t add)
{
	return __atomic_load_n(&rc->nyoung, __ATOMIC_RELAXED) + add >
	       young_max(__atomic_load_n(&rc->nlive, __ATOMIC_RELAXED) + add);
}

/* --- the lock --- */

#define PENDING 1UL

/* This thread's token: an even address that names it. */
uintptr_t umn__regcache_this_thread(void);
#define this_thread umn__regcache_this_thread

/* Debug builds: abort unless this thread holds rc->lock. */
#ifdef UMN_DEBUG
#define rc_assert_held(rc)                                            \
	do {                                                          \
		if ((__atomic_load_n(&(rc)->lock, __ATOMIC_SEQ_CST) & \
		     ~PENDING) != this_thread())                      \
			umn__lock_bug(__FILE__, __LINE__, __func__,   \
				      "rc->lock", UMN__LOCK_EXCL);    \
	} while (0)
#else
#define rc_assert_held(rc) ((void)0)
#endif

/*
 * The cache's own calls between its files (regcache_reclaim.c has the
 * lock, the invalidation and what frees; regcache.c the rest), under
 * short names inside them.
 */
#define rc_lock		    umn__regcache_lock
#define rc_unlock	    umn__regcache_unlock
#define invalidate_locked   umn__regcache_invalidate_locked
#define retire_locked	    umn__regcache_retire_locked
#define retire_flush	    umn__regcache_retire_flush
#define retire_index_locked umn__regcache_retire_index_locked
#define index_alloc	    umn__regcache_index_alloc
#define index_spare	    umn__regcache_index_spare
#define rebuild_alloc	    umn__regcache_rebuild_alloc
#define rebuild_fits	    umn__regcache_rebuild_fits
#define rebuild_put	    umn__regcache_rebuild_put
#define unpin_reg	    umn__regcache_unpin
#define put_reg		    umn__regcache_put_reg
#define index_add	    umn__regcache_index_add
#define hints_alloc	    umn__regcache_hints_alloc
#define hints_replace	    umn__regcache_hints_replace
#define reg_ops		    umn__regcache_reg_ops

void rc_lock(struct umn_regcache *rc);
void rc_unlock(struct umn_regcache *rc);
void invalidate_locked(struct umn_regcache *rc, struct reg *r, bool count);
void retire_locked(struct umn_regcache *rc, struct retire *node, void *mem);
void retire_flush(struct umn_regcache *rc);
void retire_index_locked(struct umn_regcache *rc, struct index *ix);
struct index *index_alloc(struct umn_regcache *rc, size_t n, bool settled);
void index_spare(struct umn_regcache *rc, struct index *ix);
int rebuild_alloc(struct umn_regcache *rc, struct rebuild *rb, bool merge,
		  size_t add);
bool rebuild_fits(struct umn_regcache *rc, struct rebuild *rb, bool merge,
		  size_t add);
void rebuild_put(struct umn_regcache *rc, struct rebuild *rb);
void unpin_reg(struct umn_regcache *rc, struct reg *r);
int put_reg(struct umn_regcache *rc, struct reg *r);
struct index *index_add(struct umn_regcache *rc, struct rebuild *rb,
			struct reg *r);
struct hints *hints_alloc(struct umn_regcache *rc, size_t n);
void hints_replace(struct umn_regcache *rc, struct hints *hs);
extern const struct umn_interval_notifier_ops reg_ops;

#endif
