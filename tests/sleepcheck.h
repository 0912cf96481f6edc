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

#define SLEEPCHECK_WRAPPED                                                \
	"pthread_mutex_lock pthread_rwlock_rdlock pthread_rwlock_wrlock " \
	"pthread_cond_wait sem_wait nanosleep usleep sleep calloc"

#endif
