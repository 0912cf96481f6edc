/* SPDX-License-Identifier: MIT */
/*
 * core/internal.h - the core's private structures.  Not installed.
 */
#ifndef UMN_CORE_INTERNAL_H
#define UMN_CORE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <umn/umn.h>

#include "interval_tree.h"

/*
 * struct umn_mm.
 *
 * Locking: @lock is a leaf mutex, held only for O(1) or O(log n) work,
 * never across a callback or a wait.  It guards every field below it, and
 * the _state, _next, _gen_* fields of the notifiers and interval notifiers
 * of this mm.  Readers of the chain take no lock: they run under RCU
 * (core/rcu.h) and load @chain, @gen and the notifiers' _next and _gen_*
 * with acquire/relaxed atomics that pair with the release stores here.
 */
struct umn_mm {
	struct umn__mm_head head; /* first: umn_mm_has_notifiers() reads it */
	atomic_long refs;	  /* umn_mm_get/put; 0 frees */
	const struct umn_mm_ops *ops;
	void *priv; /* for ops */

	pthread_mutex_t lock;
	pthread_cond_t wq; /* seq turned even; release finished */

	/* Classic notifiers (core/notifier.c). */
	struct umn_notifier *chain; /* RCU list, newest first */
	unsigned long gen;	    /* chain generation: +1 per change */
	bool releasing;		    /* umn_mm_release() has begun */
	bool released;		    /* ... and every ->release returned */
	unsigned int unregistering; /* unregisters calling ->release */

	/* Interval notifiers (core/interval.c). */
	struct umn__itree itree; /* walked unlocked while invalidating */
	struct umn_interval_notifier *deferred; /* inserts/removes to apply */
	unsigned long active;	      /* invalidations between start and end */
	unsigned long invalidate_seq; /* odd while invalidating intervals */
};

/*
 * struct umn_notifier._state, written under mm->lock.  The paths:
 *   register:		UNUSED -> LINKED
 *   unregister:	LINKED -> UNREGISTERING (->release) -> REMOVING
 *			(hidden, unlinked) -> UNUSED
 *   umn_mm_release:	LINKED -> RELEASING (->release) -> HIDDEN; then the
 *			owner's unregister or put: HIDDEN -> REMOVING -> UNUSED
 *   put:		LINKED, RELEASING or HIDDEN -> REMOVING (hidden; a
 *			helper thread unlinks and frees) -> UNUSED
 * "Hidden": _gen_removed is set, brackets that begin later skip it.
 */
enum {
	UMN__NOTIFIER_UNUSED = 0,    /* never registered, or gone */
	UMN__NOTIFIER_LINKED,	     /* on the chain, callbacks may run */
	UMN__NOTIFIER_UNREGISTERING, /* unregister is calling ->release */
	UMN__NOTIFIER_RELEASING,     /* umn_mm_release is calling it */
	UMN__NOTIFIER_HIDDEN,	     /* released, hidden; owner to unlink */
	UMN__NOTIFIER_REMOVING,	     /* hidden; unregister/put unlinks it */
};

/* struct umn_interval_notifier._state */
enum {
	UMN__INTERVAL_UNUSED = 0, /* never inserted, or removed */
	UMN__INTERVAL_IN_TREE,	  /* in mm->itree */
	UMN__INTERVAL_INSERTING,  /* on mm->deferred, to insert */
	UMN__INTERVAL_REMOVING,	  /* in mm->itree and on mm->deferred */
};

/* Shared between the files of the core. */
bool umn__range_is_valid(unsigned long start, unsigned long end);
void umn__mm_lock_all_once(struct umn_mm *mm);

/* core/interval.c: the interval notifiers' part of start and end. */
int umn__itree_invalidate_start(struct umn_range *range);
void umn__itree_invalidate_end(struct umn_mm *mm);

/* Validators (run by the tests; O(n)). */
bool umn__chain_is_valid(struct umn_mm *mm);
bool umn__intervals_are_valid(struct umn_mm *mm);

static inline unsigned long umn__load(const unsigned long *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline void umn__store(unsigned long *p, unsigned long v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

#endif /* UMN_CORE_INTERNAL_H */
