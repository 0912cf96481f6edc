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
 * The thread's signals held, nestable: the core holds them while it holds
 * a signal-safe mm's lock (a per-thread depth: two mms may nest), and a
 * primary may hold them around a lock of its own that a bracket in a
 * signal handler could want.
 */
struct umn__held_signals {
	unsigned int depth;
	sigset_t saved;
};
extern _Thread_local struct umn__held_signals umn__held;

/* Hold the thread's signals until the matching release (nestable). */
static inline void umn__signals_hold(void)
{
	if (!umn__held.depth++) {
		sigset_t all;

		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &umn__held.saved);
	}
}

static inline void umn__signals_release(void)
{
	if (!--umn__held.depth)
		pthread_sigmask(SIG_SETMASK, &umn__held.saved, NULL);
}

/* Validators (run by the tests and a primary's own validator; O(n)). */
bool umn__chain_is_valid(struct umn_mm *mm);
bool umn__intervals_are_valid(struct umn_mm *mm);

#endif /* UMN_CORE_PRIMARY_H */
