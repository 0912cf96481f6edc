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

/*
 * A primary's window: this thread is between its test of
 * umn_mm_has_notifiers() and the end of the change it guards, inside an
 * RCU read section (the process's hooks).  Its unlock_all cannot wait for
 * the readers then: see umn__mm_lock_all_once().
 */
extern _Thread_local unsigned int umn__window_depth;

/* core/interval.c: the interval notifiers' part of start and end. */
int umn__itree_invalidate_start(struct umn_range *range, bool *locked);
void umn__itree_invalidate_end(struct umn_mm *mm, bool locked);

/*
 * For a primary whose brackets may begin in a signal handler (the process
 * itself): hold signals while @mm->lock is held, so that a handler's
 * bracket never waits for the lock its own thread holds.
 */
void umn__mm_set_signal_safe(struct umn_mm *mm);

/*
 * Debug builds turn the fast path off (every bracket checked).  A primary
 * whose fast path is a mechanism of its own (the process: RCU windows
 * around its calls) asks for it back on a new @mm, so that the debug and
 * sanitizer builds test that mechanism too.
 */
void umn__mm_reenable_fast_path(struct umn_mm *mm);

/* Does an inserted interval notifier overlap [start, last]?  Lock-free
 * when the filter rules it out, else under the mm's lock; for a primary
 * that must keep watching what intervals cover. */
bool umn__intervals_overlap(struct umn_mm *mm, unsigned long start,
			    unsigned long last);

/*
 * Holding a thread's signals (core/signals.c has the design): from the
 * first hold to the last release (a per-thread depth: two mms may nest),
 * no signal handler runs on this thread.  With two system calls to mask
 * them, unless the process has no handler that could run: then a hold
 * only counts itself in umn__unmasked_holds.
 */
enum umn__handlers {
	UMN__HANDLERS_UNKNOWN,	/* mask (the default) */
	UMN__HANDLERS_NONE,	/* none is installed: holds do not mask */
	UMN__HANDLERS_DRAINING, /* the first installation waits for the
				   unmasked holds to end; holds mask */
	UMN__HANDLERS_MASKED,	/* mask, for good */
};
extern int umn__handlers;		  /* enum umn__handlers; atomic */
extern unsigned long umn__unmasked_holds; /* atomic */

struct umn__held_signals {
	unsigned int depth;
	bool masked; /* the outermost hold masked them */
	sigset_t saved;
};
extern _Thread_local struct umn__held_signals umn__held;

/* Hold the thread's signals until the matching release (nestable). */
static inline void umn__signals_hold(void)
{
	sigset_t all;

	if (umn__held.depth++)
		return;
	if (__atomic_load_n(&umn__handlers, __ATOMIC_RELAXED) ==
	    UMN__HANDLERS_NONE) {
		/* Count, then look again: an installer stores DRAINING, then
		 * reads the count (both sequentially consistent: one of the
		 * two sees the other). */
		__atomic_fetch_add(&umn__unmasked_holds, 1, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&umn__handlers, __ATOMIC_SEQ_CST) ==
		    UMN__HANDLERS_NONE) {
			umn__held.masked = false;
			return;
		}
		__atomic_fetch_sub(&umn__unmasked_holds, 1, __ATOMIC_RELEASE);
	}
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &umn__held.saved);
	umn__held.masked = true;
}

static inline void umn__signals_release(void)
{
	if (--umn__held.depth)
		return;
	if (umn__held.masked)
		pthread_sigmask(SIG_SETMASK, &umn__held.saved, NULL);
	else /* Release: the hold's accesses come before the handler. */
		__atomic_fetch_sub(&umn__unmasked_holds, 1, __ATOMIC_RELEASE);
}

/*
 * Inside a hold, before this thread blocks for other threads' work (a
 * grace period, a condition wait): an unmasked hold masks now and stops
 * counting, so that an installation never waits for a wait of unbounded
 * length (the work may be the installer's own).
 */
static inline void umn__signals_mask_now(void)
{
	sigset_t all;

	if (!umn__held.depth || umn__held.masked)
		return;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &umn__held.saved);
	umn__held.masked = true;
	__atomic_fetch_sub(&umn__unmasked_holds, 1, __ATOMIC_RELEASE);
}

/* pthread_cond_wait() inside a hold. */
static inline void umn__held_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
	umn__signals_mask_now();
	pthread_cond_wait(c, m);
}

/*
 * For a primary that sees every installation of a handler (the process,
 * which patches libc's sigaction): call before a handler goes in.  Holds
 * mask from then on, for good, and this returns once no thread is inside
 * a hold that did not mask.  May sleep.
 */
void umn__signals_expect_handler(void);

/* The same primary, once it sees every installation, and found no
 * handler installed: holds stop masking, unless one was seen meanwhile. */
void umn__signals_none_installed(void);

/* In a forked child: the parent's other threads, and their holds, are
 * gone. */
void umn__signals_forget_holds(void);

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

/*
 * What the notifiers of @mm hear now: true if it has a classic notifier
 * (the whole address space); and [*first, *last], the span of its
 * intervals (*first > *last if none).  For a primary whose source of
 * events starts after notifiers were registered (the process's
 * userfaultfd).
 */
bool umn__mm_heard(struct umn_mm *mm, unsigned long *first,
		   unsigned long *last);

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
