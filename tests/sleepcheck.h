/* SPDX-License-Identifier: MIT */
#ifndef UMN_TESTS_SLEEPCHECK_H
#define UMN_TESTS_SLEEPCHECK_H

#include <pthread.h>

/* Make the next N calls of calloc() (tests and core alike) fail. */
extern int sleepcheck_fail_calloc;

/* If set, called with each mutex this thread has just locked. */
extern _Thread_local void (*sleepcheck_after_lock)(pthread_mutex_t *m);

/* pthread_mutex_lock() calls made by this thread so far. */
extern _Thread_local unsigned long sleepcheck_mutex_locks;

/*
 * Blocking points.  A thread that called sleepcheck_watch_me() publishes,
 * in *where, the name of the wrapped blocking call it is inside (NULL when
 * it is in none), so that a test can wait until that thread waits, instead
 * of sleeping and hoping it got there (harness.h: await_waiting()).
 */
struct sleepcheck_waiter {
	int tid;	   /* the thread's id, set by sleepcheck_watch_me() */
	const char *where; /* the blocking call it is in, or NULL */
};
void sleepcheck_watch_me(struct sleepcheck_waiter *w);

#define SLEEPCHECK_WRAPPED                                                \
	"pthread_mutex_lock pthread_rwlock_rdlock pthread_rwlock_wrlock " \
	"pthread_cond_wait sem_wait nanosleep usleep sleep calloc "       \
	"urcu_bp_synchronize_rcu"

#endif
