// SPDX-License-Identifier: MIT
/*
 * tests/proc/check_proc_fast_path.c - the hooks' fast path: a call that
 * no notifier hears, or that no interval covers, takes no bracket and no
 * lock; the hook path does not allocate; the first notifier waits for the
 * calls in flight that saw none (or, inserted by a signal handler in the
 * window, is told late); patching is safe while other threads run libc's
 * calls.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../sleepcheck.h"
#include "proc_tests.h"

/*
 * The hooks make their system calls with syscall(), which this program
 * wraps (tests/proc/core.cmake): @in_window runs inside a hooked munmap of
 * @window_target, after the hook's test for notifiers, before the kernel
 * acts: the fast path's window.
 */
static void (*volatile in_window)(void);
static volatile unsigned long window_target;

long __real_syscall(long nr, ...);
bool refuse_userfaultfd;

long __wrap_syscall(long nr, ...);
long __wrap_syscall(long nr, ...)
{
	long a[6];
	va_list ap;

	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (nr == SYS_munmap && in_window &&
	    (unsigned long)a[0] == window_target)
		in_window();
	if (nr == SYS_userfaultfd && refuse_userfaultfd) {
		errno = ENOSYS;
		return -1;
	}
	return __real_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

static sem_t window_entered, window_go;
static int registered;

static void wait_in_window(void)
{
	sem_post(&window_entered);
	while (sem_wait(&window_go))
		;
}

static void *unmap_target(void *arg)
{
	(void)arg;
	munmap((void *)window_target, PAGE);
	return NULL;
}

/* An interval notifier: a classic register waits a grace period anyway. */
struct registrar {
	struct umn_interval_notifier sub;
	struct sleepcheck_waiter waiter;
	pthread_t thread;
};

static void *register_first(void *arg)
{
	struct registrar *r = arg;

	sleepcheck_watch_me(&r->waiter);
	ck_assert_int_eq(umn_interval_notifier_insert(&r->sub, umn_proc_mm(),
						      window_target, PAGE,
						      &count_ops),
			 0);
	__atomic_add_fetch(&registered, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/*
 * Before the first notifier a hooked call takes no bracket; the first
 * register must then wait for every call that saw "no notifier" and has
 * not finished (proc.c, the fast path): else the new notifier's secondary
 * could map what that call is about to unmap, unseen.
 */
START_TEST(first_notifier_waits_for_calls_in_flight)
{
	void *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct registrar r[2];
	pthread_t caller;

	ck_assert_ptr_ne(p, MAP_FAILED);
	ck_assert_int_eq(umn_proc_start(UMN_PROC_HOOKS), UMN_PROC_HOOKS);
	sem_init(&window_entered, 0, 0);
	sem_init(&window_go, 0, 0);
	window_target = (unsigned long)p;
	in_window = wait_in_window;
	pthread_create(&caller, NULL, unmap_target, NULL);
	while (sem_wait(&window_entered))
		;
	/* Two inserters: the second must wait as well as the first.  The
	 * check that fails if register does not wait: */
	memset(r, 0, sizeof(r));
	for (int i = 0; i < 2; i++) {
		pthread_create(&r[i].thread, NULL, register_first, &r[i]);
		await_waiting(&r[i].waiter, &registered,
			      i ? "pthread_mutex_lock"
				: "urcu_bp_synchronize_rcu");
	}
	sem_post(&window_go);
	pthread_join(caller, NULL);
	for (int i = 0; i < 2; i++)
		pthread_join(r[i].thread, NULL);
	in_window = NULL;
	ck_assert_int_eq(registered, 2);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(umn_interval_notifier_remove(&r[i].sub), 0);
}
END_TEST

static struct umn_interval_notifier late_sub;
static int late_mapped = -1;

static bool late_invalidate(struct umn_interval_notifier *sub,
			    const struct umn_range *range, unsigned long seq)
{
	umn_interval_set_seq(sub, seq);
	count_invalidations++;
	late_mapped = mapped(range->start);
	return true;
}

static const struct umn_interval_notifier_ops late_ops = {
	.name = "late",
	.invalidate = late_invalidate,
};

static volatile int late_insert = 1;

/* No check here: Check's asserts are not async-signal-safe. */
static void insert_in_handler(int sig)
{
	(void)sig;
	late_insert = umn_interval_notifier_insert(
		&late_sub, umn_proc_mm(), window_target, PAGE, &late_ops);
}

static void raise_in_window(void)
{
	raise(SIGUSR2);
}

/*
 * The first notifier inserted by a signal handler on top of its own
 * thread's hooked call, in the window: it cannot wait for the call it
 * interrupted (no deadlock), and that call, seeing the notifier after its
 * system call, brackets the range then: late, but not lost.
 */
START_TEST(first_notifier_from_a_handler_in_the_window_is_told_late)
{
	void *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(p, MAP_FAILED);
	ck_assert_int_eq(umn_proc_start(UMN_PROC_HOOKS), UMN_PROC_HOOKS);
	signal(SIGUSR2, insert_in_handler);
	count_invalidations = 0;
	window_target = (unsigned long)p;
	in_window = raise_in_window;
	ck_assert_int_eq(munmap(p, PAGE), 0);
	in_window = NULL;
	signal(SIGUSR2, SIG_DFL);
	ck_assert_int_eq(late_insert, 0);
	ck_assert_int_eq(count_invalidations, 1);
	ck_assert_int_eq(late_mapped, 0); /* after the kernel acted */
	ck_assert_int_eq(umn_interval_notifier_remove(&late_sub), 0);
}
END_TEST

START_TEST(uncovered_munmap_takes_no_lock)
{
	unsigned char *p = setup_region(64 * PAGE, UMN_PROC_HOOKS);
	struct umn_interval_notifier sub = { 0 };
	unsigned long before, locks_free, locks_covered;

	ck_assert_int_eq(umn_interval_notifier_insert(&sub, umn_proc_mm(),
						      (unsigned long)p, PAGE,
						      &count_ops),
			 0);
	before = sleepcheck_mutex_locks;
	munmap(p + 48 * PAGE, PAGE); /* 192 KiB away: other granules */
	locks_free = sleepcheck_mutex_locks - before;
	before = sleepcheck_mutex_locks;
	munmap(p, PAGE);
	locks_covered = sleepcheck_mutex_locks - before;
	ck_assert_uint_eq(locks_free, 0);
	ck_assert_uint_gt(locks_covered, 0); /* the count can fail */
	ck_assert_int_eq(umn_interval_notifier_remove(&sub), 0);
}
END_TEST

/*
 * No allocation on the hook path: the test program interposes malloc and
 * friends and counts this thread's calls around a hooked munmap (covered
 * by an interval and heard by a classic notifier).  Not under sanitizers,
 * whose runtimes own malloc.
 */
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
void *__libc_malloc(size_t size);
void *__libc_calloc(size_t n, size_t size);
void *__libc_realloc(void *p, size_t size);
static _Thread_local unsigned long allocations;

void *malloc(size_t size)
{
	allocations++;
	return __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
	allocations++;
	return __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
	allocations++;
	return __libc_realloc(p, size);
}

START_TEST(hook_path_does_not_allocate)
{
	unsigned char *p = setup_region(64 * PAGE, UMN_PROC_HOOKS);
	struct umn_interval_notifier sub = { 0 };
	unsigned long before, during;
	void *q;

	ck_assert_int_eq(umn_interval_notifier_insert(&sub, umn_proc_mm(),
						      (unsigned long)p,
						      64 * PAGE, &count_ops),
			 0);
	munmap(p, PAGE); /* warm: first bracket of this thread */
	before = allocations;
	munmap(p + PAGE, PAGE);
	madvise(p + 2 * PAGE, PAGE, MADV_DONTNEED);
	during = allocations - before;
	q = malloc(1); /* the count can move */
	ck_assert_uint_eq(allocations - before, during + 1);
	free(q);
	ck_assert_uint_eq(during, 0);
	ck_assert_uint_eq(nlog, 3);
	ck_assert_int_eq(umn_interval_notifier_remove(&sub), 0);
}
END_TEST
#endif

/* Patching while other threads run the very functions being patched. */
static int stop_churn;
static unsigned long churned; /* rounds, of both threads */

/* Let the churning threads run @rounds more rounds. */
static void churn_on(unsigned long rounds)
{
	unsigned long until =
		__atomic_load_n(&churned, __ATOMIC_RELAXED) + rounds;

	while (__atomic_load_n(&churned, __ATOMIC_RELAXED) < until)
		sched_yield();
}

static void *churn(void *arg)
{
	unsigned long n = 0;

	(void)arg;
	while (!__atomic_load_n(&stop_churn, __ATOMIC_RELAXED)) {
		char *p = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		void *m = malloc(256 << 10);

		ck_assert_ptr_ne(p, MAP_FAILED);
		p[0] = 1;
		madvise(p, PAGE, MADV_DONTNEED);
		p = mremap(p, 8 * PAGE, 4 * PAGE, 0);
		mmap(p, PAGE, PROT_READ,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		munmap(p, 4 * PAGE);
		free(m);
		n++;
		__atomic_add_fetch(&churned, 1, __ATOMIC_RELAXED);
	}
	return (void *)n;
}

START_TEST(patching_is_safe_while_threads_run)
{
	struct umn_proc_stats stats;
	struct timespec t0, t1;
	pthread_t t[2];
	void *n;

	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, churn, NULL);
	churn_on(20);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(umn_proc_start(UMN_PROC_HOOKS), UMN_PROC_HOOKS);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* The first notifier arrives while the threads' calls run through
	 * the fast path: its grace period waits for them, and then each
	 * call is bracketed. */
	churn_on(20);
	ck_assert_int_eq(umn_notifier_register(&rec, &rec_ops, umn_proc_mm()),
			 0);
	churn_on(100);
	__atomic_store_n(&stop_churn, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], &n);
		ck_assert_uint_gt((unsigned long)n, 0);
	}
	ck_assert_int_eq(umn_notifier_unregister(&rec), 0);
	umn_proc_stats(&stats);
	ck_assert_uint_gt(stats.brackets[0], 0);
	/* A figure for the record, not a check: umn-bench measures it. */
	fprintf(stderr, "proc: hooks installed in %.1f us under 2 threads\n",
		(double)(t1.tv_sec - t0.tv_sec) * 1e6 +
			(double)(t1.tv_nsec - t0.tv_nsec) / 1e3);
}
END_TEST

void add_fast_path_tests(TCase *tc)
{
	tcase_add_test(tc, uncovered_munmap_takes_no_lock);
	tcase_add_test(
		tc, first_notifier_from_a_handler_in_the_window_is_told_late);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
	tcase_add_test(tc, hook_path_does_not_allocate);
#endif
}

void add_fast_path_thread_tests(TCase *tc)
{
	tcase_add_test(tc, patching_is_safe_while_threads_run);
	tcase_add_test(tc, first_notifier_waits_for_calls_in_flight);
}
