/* SPDX-License-Identifier: MIT */
#ifndef UMN_TESTS_SLEEPCHECK_H
#define UMN_TESTS_SLEEPCHECK_H

#include <pthread.h>

/* Make the next N calls of calloc() (tests and core alike) fail. */
extern int sleepcheck_fail_calloc;

/* If set, called with each mutex this thread has just locked. */
extern _Thread_local void (*sleepcheck_after_lock)(pthread_mutex_t *m);

/* pthread_sigmask() calls made by this thread so far. */
extern _Thread_local unsigned long sleepcheck_sigmasks;

/* pthread_mutex_lock() calls made by this thread so far. */
extern _Thread_local unsigned long sleepcheck_mutex_locks;

/*
 * Blocking points.  A thread that called sleepcheck_watch_me() publishes,
 * in *where, the name of the wrapped blocking call it is inside (NULL when
 * it is in none), so that a test can wait until that thread waits, instead
 * of sleeping and hoping it got there (await_waiting(), below).
 */
struct sleepcheck_waiter {
	int tid;	   /* the thread's id, set by sleepcheck_watch_me() */
	const char *where; /* the blocking call it is in, or NULL */
};
void sleepcheck_watch_me(struct sleepcheck_waiter *w);

/*
 * Races forced, not waited for: a thread that must wait (for a bracket,
 * a grace period) calls sleepcheck_watch_me(@w) first; the test then
 * waits until that thread is asleep inside the blocking call @call, and
 * fails if *@returned is set first, i.e. if the thread went past the
 * point where it had to wait.  No time passes for nothing, so the
 * interleaving is reached on any machine.
 */
void await_waiting(const struct sleepcheck_waiter *w, const int *returned,
		   const char *call);

#define SLEEPCHECK_WRAPPED                                                \
	"pthread_mutex_lock pthread_rwlock_rdlock pthread_rwlock_wrlock " \
	"pthread_cond_wait sem_wait nanosleep usleep sleep calloc "       \
	"urcu_bp_synchronize_rcu pthread_sigmask"

#endif
