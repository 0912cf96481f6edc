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
#include <string.h>
#include <umn/umn.h>
#include "lockdep.h"

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
 * no signal handler runs on this thread.  By masking them (two system
 * calls), or, once a primary wraps every handler the program installs
 * (umn__signals_deferrable), by the depth alone: a wrapper that finds
 * its thread inside a hold defers the signal (umn__signals_defer).
 */
extern bool umn__signals_deferrable; /* atomic; false -> true, for good */

/* The set of the signals whose bit sig - 1 is in @bits. */
static inline void umn__sigset_of_bits(sigset_t *set, unsigned long bits)
{
	sigemptyset(set);
	for (int sig = 1; bits; sig++, bits >>= 1)
		if (bits & 1)
			sigaddset(set, sig);
}

/*
 * A thread's holds.  A wrapper reaches its thread's through
 * umn__signals_of_thread(), not as thread-local storage: with libumn.so
 * loaded by dlopen(), a thread's first access to it allocates, which a
 * signal handler must not do, and a thread that never held has none.
 */
struct umn__held_signals {
	unsigned int depth;
	bool masked;		/* the outermost hold masked them */
	unsigned char stashed;	/* a signal deferred but not queued again
				   (the queue was full): its siginfo is in
				   stash; 0 if none */
	unsigned long deferred; /* bit sig - 1: deferred by a wrapper, now
				   blocked and pending (or stashed); atomic */
	sigset_t saved;		/* the mask before it, if it masked */
	siginfo_t stash;
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

/* This thread's holds, as a wrapper finds them (NULL: it never held
 * since the holds began to defer).  Async-signal-safe. */
struct umn__held_signals *umn__signals_of_thread(void);

/* The key umn__signals_of_thread() reads; valid once deferrable. */
extern pthread_key_t umn__signals_key;

/* The outermost hold, once they defer: make this thread's found, every
 * time (an exiting thread's keys are cleared before its last holds: the
 * destructors of its other keys, glibc's freeing of its caches).  False
 * if it cannot be (no memory): the hold must mask. */
static inline bool umn__signals_make_found(void)
{
	return pthread_getspecific(umn__signals_key) == &umn__held ||
	       !pthread_setspecific(umn__signals_key, &umn__held);
}

/* Hold the thread's signals until the matching release (nestable). */
static inline void umn__signals_hold(void)
{
	if (umn__held.depth++) {
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		return;
	}
	umn__held.masked = false;
	/* The depth before what it holds: a handler on this thread reads
	 * it. */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (!__atomic_load_n(&umn__signals_deferrable, __ATOMIC_ACQUIRE) ||
	    !umn__signals_make_found())
		umn__signals_mask();
}

/* The last release's: unblock what was deferred, which runs now. */
void umn__signals_unblock_deferred(void);

/* Queue @sig with @info to this thread: 0, or -1 (errno EAGAIN: the
 * queue is full).  Async-signal-safe. */
int umn__signals_queue_again(int sig, siginfo_t *info);

static inline void umn__signals_release(void)
{
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (--umn__held.depth)
		return;
	/* A handler from here runs at once; one before it deferred. */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (umn__held.masked ||
	    __atomic_load_n(&umn__held.deferred, __ATOMIC_RELAXED))
		umn__signals_unblock_deferred();
}

/*
 * Inside a hold, before this thread blocks for other threads' work (a
 * grace period, a condition wait): a hold that did not mask masks now,
 * so that no signal waits on this thread for that work (the kernel gives
 * a signal sent to the process to another thread meanwhile).
 */
static inline void umn__signals_mask_now(void)
{
	if (umn__held.depth && !umn__held.masked)
		umn__signals_mask();
}

/*
 * pthread_cond_wait() on @m (umn__mutex_lock()ed as @name) inside a hold.
 * A signal deferred on this thread before the wait must not wait for it
 * (it may be one sent to the process, which another thread would have
 * taken, and the waited-for work may need its handler): if this is the
 * outermost hold, it returns at once, as a spurious wakeup may, having
 * let go of @m and the hold meanwhile, so that the handlers ran.
 */
static inline void umn__held_cond_wait(pthread_cond_t *c, pthread_mutex_t *m,
				       const char *name)
{
	if (umn__held.depth == 1 && !umn__held.masked &&
	    __atomic_load_n(&umn__held.deferred, __ATOMIC_RELAXED)) {
		umn__mutex_unlock(m, name);
		umn__signals_release();
		umn__signals_hold();
		umn__mutex_lock(m, name);
		return;
	}
	umn__signals_mask_now();
	pthread_cond_wait(c, m);
}

/*
 * For a primary that wraps every handler the program installs (the
 * process, which patches libc's sigaction): its wrapper, on a thread
 * inside a hold (@h, its thread's, with a depth), calls this for a signal that can wait
 * (not a synchronous fault): @sig stays blocked in the interrupted
 * context @uc (a ucontext_t), queued again to this thread with @info
 * (or, if the queue is full, kept here), and the last release unblocks
 * it.  Returns false if it could be neither (the handler must run now).
 * Async-signal-safe.
 */
bool umn__signals_defer(struct umn__held_signals *h, int sig, siginfo_t *info,
			void *uc);

/*
 * The same primary's, for a signal that was kept (its queue was full)
 * and still cannot be queued again at the last release: run the
 * program's handler for it now, outside every hold.
 */
extern void (*umn__signals_run_late)(int sig, siginfo_t *info);

/*
 * The same wrapper, about to run the program's handler at depth 0: the
 * handler may take and release holds of its own, whose release must not
 * take the deferred signals of a release it interrupted (that release
 * unblocks them in its own context).  Put them aside, and back after.
 */
struct umn__deferred_aside {
	unsigned long deferred;
	unsigned char stashed;
	siginfo_t stash;
};

/* Only at depth 0: a handler run inside a hold (a fault) nests its holds
 * in it, and never reaches the release. */
static inline struct umn__deferred_aside
umn__signals_set_aside(struct umn__held_signals *h)
{
	struct umn__deferred_aside a = { .deferred = 0 };

	if (h && !h->depth) {
		a.deferred =
			__atomic_exchange_n(&h->deferred, 0, __ATOMIC_RELAXED);
		a.stashed = h->stashed;
		a.stash = h->stash;
		h->stashed = 0;
	}
	return a;
}

/* What was set aside goes back (the handler's own holds released what
 * they deferred, their stash included). */
static inline void umn__signals_put_back(struct umn__held_signals *h,
					 struct umn__deferred_aside a)
{
	if (!h)
		return;
	__atomic_fetch_or(&h->deferred, a.deferred, __ATOMIC_RELAXED);
	if (a.stashed) {
		h->stash = a.stash;
		h->stashed = a.stashed;
	}
}

/* Once every installed handler is wrapped: holds stop masking. */
void umn__signals_start_deferring(void);

/* Validators (run by the tests and a primary's own validator; O(n)). */
bool umn__chain_is_valid(struct umn_mm *mm);
bool umn__intervals_are_valid(struct umn_mm *mm);

#endif /* UMN_CORE_PRIMARY_H */
