/* SPDX-License-Identifier: MIT */
/*
 * core/primary.h - what a primary may call in the core beyond the public
 * headers.  Not installed.
 *
 * A primary (primaries/soft/, primaries/proc/) brackets its changes and
 * registers its mm through the public calls (<umn/mm.h>); this header adds
 * only the few private ones a primary needs: the process's RCU windows and
 * signal safety, what its notifiers hear, and the core's validators.  The
 * core's own structures stay in core/internal.h, which includes this.
 */
#ifndef UMN_CORE_PRIMARY_H
#define UMN_CORE_PRIMARY_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <umn/umn.h>

/*
 * A primary's window: this thread is between its test of
 * umn_mm_has_notifiers() and the end of the change it guards, inside an
 * RCU read section (the process's hooks).  Its unlock_all cannot wait for
 * the readers then: see umn__mm_lock_all_once() in core/mm.c.
 */
extern _Thread_local unsigned int umn__window_depth;

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
 * What the notifiers of @mm hear now: true if it has a classic notifier
 * (the whole address space); and [*first, *last], the span of its
 * intervals (*first > *last if none).  For a primary whose source of
 * events starts after notifiers were registered (the process's
 * userfaultfd).
 */
bool umn__mm_heard(struct umn_mm *mm, unsigned long *first,
		   unsigned long *last);

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

/* Block every signal of this thread, saving its mask for the release. */
static inline void umn__signals_mask(void)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &umn__held.saved);
	umn__held.masked = true;
}

/* Hold the thread's signals until the matching release (nestable). */
static inline void umn__signals_hold(void)
{
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
	umn__signals_mask();
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
	if (!umn__held.depth || umn__held.masked)
		return;
	umn__signals_mask(); /* first: never neither masked nor counted */
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

/* Validators (run by the tests and a primary's own validator; O(n)). */
bool umn__chain_is_valid(struct umn_mm *mm);
bool umn__intervals_are_valid(struct umn_mm *mm);

#endif /* UMN_CORE_PRIMARY_H */
