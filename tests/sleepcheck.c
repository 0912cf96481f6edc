// SPDX-License-Identifier: MIT
/*
 * tests/sleepcheck.c - the test build's might-sleep net and failure point.
 *
 * The test executables are linked with -Wl,--wrap=SYMBOL for the blocking
 * calls below, so that every call to them from the tests, the harness and
 * the (statically linked) core first asks umn whether the thread is in
 * atomic context: a notifier that blocks in ->invalidate_range aborts with
 * a report, as the kernel's might_sleep() does.  --wrap changes only the
 * references in the objects being linked, so the sanitizers' interceptors
 * still see every call (__real_X is the ordinary symbol).
 *
 * calloc is wrapped too: tests can make the next allocation fail.
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <umn/debug.h>

#include "sleepcheck.h"

int sleepcheck_fail_calloc; /* fail the next N callocs */

/*
 * WRAP(ret, name, (params), (args)): __wrap_name checks, then calls the
 * real name.  The report names the blocking call.
 */
#define WRAP(ret, name, params, args)                        \
	ret __real_##name params;                            \
	ret __wrap_##name params;                            \
	ret __wrap_##name params                             \
	{                                                    \
		umn__might_sleep(__FILE__, __LINE__, #name); \
		return __real_##name args;                   \
	}

_Thread_local unsigned long sleepcheck_mutex_locks;
_Thread_local void (*sleepcheck_after_lock)(pthread_mutex_t *m);

int __real_pthread_mutex_lock(pthread_mutex_t *m);
int __wrap_pthread_mutex_lock(pthread_mutex_t *m);
int __wrap_pthread_mutex_lock(pthread_mutex_t *m)
{
	int ret;

	sleepcheck_mutex_locks++;
	umn__might_sleep(__FILE__, __LINE__, "pthread_mutex_lock");
	ret = __real_pthread_mutex_lock(m);
	if (!ret && sleepcheck_after_lock)
		sleepcheck_after_lock(m);
	return ret;
}

WRAP(int, pthread_rwlock_rdlock, (pthread_rwlock_t * l), (l))
WRAP(int, pthread_rwlock_wrlock, (pthread_rwlock_t * l), (l))
WRAP(int, pthread_cond_wait, (pthread_cond_t * c, pthread_mutex_t *m), (c, m))
WRAP(int, sem_wait, (sem_t * s), (s))
WRAP(int, nanosleep, (const struct timespec *req, struct timespec *rem),
     (req, rem))
WRAP(int, usleep, (useconds_t usec), (usec))
WRAP(unsigned int, sleep, (unsigned int seconds), (seconds))

void *__real_calloc(size_t nmemb, size_t size);
void *__wrap_calloc(size_t nmemb, size_t size);
void *__wrap_calloc(size_t nmemb, size_t size)
{
	if (__atomic_load_n(&sleepcheck_fail_calloc, __ATOMIC_RELAXED) > 0 &&
	    __atomic_sub_fetch(&sleepcheck_fail_calloc, 1, __ATOMIC_RELAXED) >=
		    0)
		return NULL;
	return __real_calloc(nmemb, size);
}
