/* SPDX-License-Identifier: MIT */
/*
 * core/internal.h - the core's private structures.  Not installed.
 */
#ifndef UMN_CORE_INTERNAL_H
#define UMN_CORE_INTERNAL_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <umn/umn.h>

#include "interval_tree.h"
#include "lockdep.h"
#include "primary.h"

/* The filter's shape: granules of 64 KiB, 16 MiB, 1 GiB; 4096 slots each. */
#define UMN__COVER_LEVELS 3
#define UMN__COVER_SLOTS  4096

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

	/*
	 * The lock-free filter of start (core/interval.c).  Per level and
	 * hashed granule, @cover counts the intervals that touch it and fit
	 * this level or a finer one, @cover_own those whose finest level it
	 * is.  A start whose range touches no counted granule takes no lock.
	 * Atomics, written under @lock, read without it.
	 */
	unsigned int cover[UMN__COVER_LEVELS][UMN__COVER_SLOTS];
	unsigned int cover_own[UMN__COVER_LEVELS][UMN__COVER_SLOTS];
	unsigned long cover_wide; /* intervals too wide for any level */
	unsigned long lockless;	  /* brackets in flight that took no lock */
	int lockless_owed; /* the seq is odd for an insert that saw them */
	bool signal_safe;  /* block signals while holding @lock */
	bool settled;	   /* the first notifier's lock_all..unlock_all done */
	pthread_mutex_t once_lock; /* serialises that first time */
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

/* struct umn_range._started: end is due; did the interval part lock? */
enum {
	UMN__STARTED_LOCKLESS = 1, /* the interval part took no lock */
	UMN__STARTED_LOCKED = 2,   /* it counted itself in mm->active */
};

/* Shared between the files of the core. */
bool umn__range_is_valid(unsigned long start, unsigned long end);
int umn__mm_lock_all_once(struct umn_mm *mm);

/* core/interval.c: the interval notifiers' part of start and end. */
int umn__itree_invalidate_start(struct umn_range *range, bool *locked);
void umn__itree_invalidate_end(struct umn_mm *mm, bool locked);

/*
 * Take and drop @mm->lock; every taker goes through these.  For a
 * signal-safe mm the thread's signals are held from the first lock to the
 * last unlock (core/primary.h).
 */
static inline void umn__mm_lock(struct umn_mm *mm)
{
	if (mm->signal_safe)
		umn__signals_hold();
	umn__mutex_lock(&mm->lock, "mm->lock");
}

static inline void umn__mm_unlock(struct umn_mm *mm)
{
	umn__mutex_unlock(&mm->lock, "mm->lock");
	if (mm->signal_safe)
		umn__signals_release();
}

/* Debug builds: abort unless this thread holds @mm->lock. */
#define umn__mm_assert_held(mm) \
	umn__lock_assert_held(&(mm)->lock, "mm->lock", UMN__LOCK_EXCL)

static inline unsigned long umn__load(const unsigned long *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline void umn__store(unsigned long *p, unsigned long v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

#endif /* UMN_CORE_INTERNAL_H */
