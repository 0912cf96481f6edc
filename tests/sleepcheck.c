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
 * Each wrapped blocking call (and liburcu's grace period, through which
 * the core waits for brackets) also tells a watched thread's waiter where
 * it is: see sleepcheck.h.
 *
 * calloc is wrapped too: tests can make the next allocation fail.
 */
#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <urcu-bp.h>
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
		ret r;                                       \
		umn__might_sleep(__FILE__, __LINE__, #name); \
		entering(#name);                             \
		r = __real_##name args;                      \
		leaving();                                   \
		return r;                                    \
	}

static _Thread_local struct sleepcheck_waiter *watched;

void sleepcheck_watch_me(struct sleepcheck_waiter *w)
{
	w->tid = gettid();
	__atomic_store_n(&w->where, NULL, __ATOMIC_RELEASE);
	watched = w;
}

static void entering(const char *call)
{
	if (watched)
		__atomic_store_n(&watched->where, call, __ATOMIC_RELEASE);
}

static void leaving(void)
{
	if (watched)
		__atomic_store_n(&watched->where, NULL, __ATOMIC_RELEASE);
}

_Thread_local unsigned long sleepcheck_mutex_locks;
_Thread_local unsigned long sleepcheck_sigmasks;

int __real_pthread_sigmask(int how, const sigset_t *set, sigset_t *old);
int __wrap_pthread_sigmask(int how, const sigset_t *set, sigset_t *old);
int __wrap_pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
	sleepcheck_sigmasks++;
	return __real_pthread_sigmask(how, set, old);
}
_Thread_local void (*sleepcheck_after_lock)(pthread_mutex_t *m);

int __real_pthread_mutex_lock(pthread_mutex_t *m);
int __wrap_pthread_mutex_lock(pthread_mutex_t *m);
int __wrap_pthread_mutex_lock(pthread_mutex_t *m)
{
	int ret;

	sleepcheck_mutex_locks++;
	umn__might_sleep(__FILE__, __LINE__, "pthread_mutex_lock");
	entering("pthread_mutex_lock");
	ret = __real_pthread_mutex_lock(m);
	leaving();
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

void __real_urcu_bp_synchronize_rcu(void);
void __wrap_urcu_bp_synchronize_rcu(void);
void __wrap_urcu_bp_synchronize_rcu(void)
{
	umn__might_sleep(__FILE__, __LINE__, "urcu_bp_synchronize_rcu");
	entering("urcu_bp_synchronize_rcu");
	__real_urcu_bp_synchronize_rcu();
	leaving();
}

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

/* The scheduler's state of thread @tid: 'R' running, 'S' asleep, ... */
static char thread_state(int tid)
{
	char path[64], buf[512], *paren;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	f = fopen(path, "r");
	ck_assert_msg(f, "%s: cannot open", path);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	paren = strrchr(buf, ')'); /* the name may hold anything */
	ck_assert_msg(paren && paren[1] == ' ', "%s: unreadable", path);
	return paren[2];
}

void await_waiting(const struct sleepcheck_waiter *w, const int *returned,
		   const char *call)
{
	const char *where;

	for (;;) {
		ck_assert_msg(!__atomic_load_n(returned, __ATOMIC_ACQUIRE),
			      "it returned where it had to wait in %s", call);
		where = __atomic_load_n(&w->where, __ATOMIC_ACQUIRE);
		if (where && !strcmp(where, call) &&
		    thread_state(__atomic_load_n(&w->tid, __ATOMIC_ACQUIRE)) ==
			    'S')
			return;
		sched_yield();
	}
}
