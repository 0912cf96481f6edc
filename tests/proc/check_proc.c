// SPDX-License-Identifier: MIT
/*
 * tests/proc/check_proc.c - the process as primary MMU against
 * docs/CONTRACT.md, rule 2 (start before the page table changes,
 * invalidate_range and end after), in the thread that made the call; bad
 * input reaching the kernel untouched; switching sources off; patching
 * while other threads run libc's calls; the userfaultfd source seeing what
 * bypasses libc.
 *
 * Check forks each test, and umn_proc_start() patches libc in the test's
 * own process, so each test begins with an unpatched libc.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <umn/interval.h>
#include <umn/notifier.h>
#include <umn/proc.h>

#include "../../core/fail.h"
#include "../../core/internal.h"

#include "../sleepcheck.h"
#include "check_signals.h"

#define PAGE 4096UL

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* Linux 6.13 */
#endif

/* What each callback saw, recorded without allocating. */
struct seen {
	unsigned long start, end;
	int mapped_at_start, mapped_at_range, mapped_at_end; /* 1, 0 */
	int byte_at_start, byte_at_end; /* first byte, or -1 if unmapped */
	pid_t tid_start, tid_end;
	struct umn_proc_cause cause;
};

static struct umn_notifier rec;
static struct seen log_[64]; /* under log_lock: the hooks and the */
static unsigned int nlog;    /* userfaultfd dispatcher both record */
static pthread_spinlock_t log_lock;

__attribute__((constructor)) static void init_log_lock(void)
{
	pthread_spin_init(&log_lock, PTHREAD_PROCESS_PRIVATE);
}
static unsigned long watch_lo, watch_hi; /* record ranges in here only */

static int mapped(unsigned long addr)
{
	unsigned char vec;

	return !mincore((void *)(addr & ~(PAGE - 1)), PAGE, &vec);
}

static int first_byte(unsigned long addr)
{
	return mapped(addr) ? *(volatile unsigned char *)addr : -1;
}

static struct seen *find(const struct umn_range *r)
{
	for (unsigned int i = 0; i < nlog; i++)
		if (log_[i].start == r->start && log_[i].end == r->end)
			return &log_[i];
	return NULL;
}

static bool watched(unsigned long start, unsigned long end)
{
	return start < watch_hi && end > watch_lo;
}

static int rec_start(struct umn_notifier *n, const struct umn_range *r)
{
	struct seen *s;

	(void)n;
	if (!watched(r->start, r->end))
		return 0;
	pthread_spin_lock(&log_lock);
	if (nlog == 64) {
		pthread_spin_unlock(&log_lock);
		return 0;
	}
	s = &log_[nlog++];
	memset(s, 0, sizeof(*s));
	s->start = r->start;
	s->end = r->end;
	s->mapped_at_start = mapped(r->start);
	s->byte_at_start = first_byte(r->start);
	s->tid_start = (pid_t)syscall(SYS_gettid);
	s->mapped_at_range = -1;
	umn_proc_cause(r, &s->cause);
	pthread_spin_unlock(&log_lock);
	return 0;
}

static void rec_range(struct umn_notifier *n, struct umn_mm *mm,
		      unsigned long start, unsigned long end)
{
	struct umn_range r = { .mm = mm, .start = start, .end = end };
	struct seen *s;

	(void)n;
	pthread_spin_lock(&log_lock);
	s = watched(start, end) ? find(&r) : NULL;
	if (s)
		s->mapped_at_range = mapped(start);
	pthread_spin_unlock(&log_lock);
}

static void rec_end(struct umn_notifier *n, const struct umn_range *r)
{
	struct seen *s;

	(void)n;
	pthread_spin_lock(&log_lock);
	s = watched(r->start, r->end) ? find(r) : NULL;
	if (s) {
		s->mapped_at_end = mapped(r->start);
		s->byte_at_end = first_byte(r->start);
		s->tid_end = (pid_t)syscall(SYS_gettid);
	}
	pthread_spin_unlock(&log_lock);
}

static const struct umn_notifier_ops rec_ops = {
	.name = "recorder",
	.invalidate_range_start = rec_start,
	.invalidate_range = rec_range,
	.invalidate_range_end = rec_end,
};

static unsigned char *setup_region(size_t len, unsigned int sources)
{
	unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(p, MAP_FAILED);
	memset(p, 0xab, len);
	ck_assert_int_eq(umn_proc_start(sources), (int)sources);
	ck_assert_int_eq(umn_notifier_register(&rec, &rec_ops, umn_proc_mm()),
			 0);
	nlog = 0;
	watch_lo = (unsigned long)p;
	watch_hi = watch_lo + len;
	return p;
}

static void expect_one(unsigned long start, unsigned long end, const char *call)
{
	pid_t me = (pid_t)syscall(SYS_gettid);

	ck_assert_uint_eq(nlog, 1);
	ck_assert_uint_eq(log_[0].start, start);
	ck_assert_uint_eq(log_[0].end, end);
	ck_assert_str_eq(log_[0].cause.call, call);
	ck_assert_uint_eq(log_[0].cause.source, UMN_PROC_HOOKS);
	ck_assert_int_eq(log_[0].cause.tid, me);
	ck_assert_int_eq(log_[0].tid_start, me);
	ck_assert_int_eq(log_[0].tid_end, me);
	/* Start saw the old mapping and its data. */
	ck_assert_int_eq(log_[0].mapped_at_start, 1);
	ck_assert_int_eq(log_[0].byte_at_start, 0xab);
	nlog = 0;
}

/* Contract 2 for munmap: start while mapped, then both after. */
START_TEST(munmap_brackets_the_kernel)
{
	unsigned char *p = setup_region(16 * PAGE, UMN_PROC_HOOKS);

	ck_assert_int_eq(munmap(p + PAGE, 2 * PAGE), 0);
	expect_one((unsigned long)p + PAGE, (unsigned long)p + 3 * PAGE,
		   "munmap");
	ck_assert_int_eq(log_[0].mapped_at_range, 0);
	ck_assert_int_eq(log_[0].mapped_at_end, 0);
	/* A length that is not a page multiple covers whole pages. */
	ck_assert_int_eq(munmap(p + 4 * PAGE, 1), 0);
	expect_one((unsigned long)p + 4 * PAGE, (unsigned long)p + 5 * PAGE,
		   "munmap");
}
END_TEST

START_TEST(madvise_dontneed_brackets_the_kernel)
{
	unsigned char *p = setup_region(16 * PAGE, UMN_PROC_HOOKS);

	ck_assert_int_eq(madvise(p, 4 * PAGE, MADV_DONTNEED), 0);
	expect_one((unsigned long)p, (unsigned long)p + 4 * PAGE, "madvise");
	ck_assert_str_eq(log_[0].cause.kind, "discard");
	ck_assert_int_eq(log_[0].byte_at_end, 0); /* a fresh zero page */
	/* Advice that changes no translation fires nothing. */
	ck_assert_int_eq(madvise(p, 4 * PAGE, MADV_WILLNEED), 0);
	ck_assert_uint_eq(nlog, 0);
}
END_TEST

START_TEST(mmap_fixed_brackets_the_kernel)
{
	unsigned char *p = setup_region(16 * PAGE, UMN_PROC_HOOKS);
	void *q = mmap(p + 2 * PAGE, 2 * PAGE, PROT_READ,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);

	ck_assert_ptr_eq(q, p + 2 * PAGE);
	expect_one((unsigned long)q, (unsigned long)q + 2 * PAGE, "mmap");
	ck_assert_int_eq(log_[0].byte_at_end, 0);
	/* Without MAP_FIXED nothing existing is replaced. */
	q = mmap(NULL, PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_uint_eq(nlog, 0);
	munmap(q, PAGE);
}
END_TEST

START_TEST(mremap_move_and_shrink_bracket_the_kernel)
{
	unsigned char *p = setup_region(16 * PAGE, UMN_PROC_HOOKS);
	void *q;

	/* Shrink in place: the tail goes. */
	q = mremap(p, 16 * PAGE, 12 * PAGE, 0);
	ck_assert_ptr_eq(q, p);
	expect_one((unsigned long)p + 12 * PAGE, (unsigned long)p + 16 * PAGE,
		   "mremap");
	/* May move: the whole old range, whatever happens. */
	watch_hi = (unsigned long)p + 12 * PAGE;
	q = mremap(p, 12 * PAGE, 64 * PAGE, MREMAP_MAYMOVE);
	ck_assert_ptr_ne(q, MAP_FAILED);
	expect_one((unsigned long)p, (unsigned long)p + 12 * PAGE, "mremap");
	munmap(q, 64 * PAGE);
}
END_TEST

START_TEST(brk_shrink_brackets_the_kernel)
{
	unsigned char *top;

	setup_region(PAGE, UMN_PROC_HOOKS);
	top = sbrk(0);
	ck_assert_ptr_ne(sbrk(8 * PAGE), (void *)-1);
	memset(top, 0xab, 8 * PAGE);
	watch_lo = (unsigned long)top;
	watch_hi = watch_lo + 8 * PAGE;
	ck_assert_ptr_ne(sbrk(-(long)(8 * PAGE)), (void *)-1);
	ck_assert_ptr_eq(sbrk(0), top); /* glibc's __curbrk kept right */
	expect_one(((unsigned long)top + PAGE - 1) & ~(PAGE - 1),
		   ((unsigned long)top + 8 * PAGE + PAGE - 1) & ~(PAGE - 1),
		   "brk");
}
END_TEST

/* The application's bad input: the kernel's error, no bracket. */
START_TEST(bad_input_reaches_the_kernel)
{
	unsigned char *p = setup_region(16 * PAGE, UMN_PROC_HOOKS);

	errno = 0;
	ck_assert_int_eq(munmap(p + 1, PAGE), -1);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_int_eq(munmap(p, 0), -1);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_int_eq(madvise(p + 1, PAGE, MADV_DONTNEED), -1);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_ptr_eq(mremap(p, PAGE, 2 * PAGE, 0x40), MAP_FAILED);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_ptr_eq(mmap(p, PAGE, PROT_READ,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 1),
			 MAP_FAILED);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_uint_eq(nlog, 0);
	/* Success leaves errno alone, whatever the callbacks did. */
	errno = 1234;
	ck_assert_int_eq(munmap(p, PAGE), 0);
	ck_assert_int_eq(errno, 1234);
	ck_assert_uint_eq(nlog, 1);
}
END_TEST

START_TEST(stopped_source_fires_nothing)
{
	unsigned char *p = setup_region(16 * PAGE, UMN_PROC_HOOKS);

	ck_assert_int_eq(umn_proc_stop(UMN_PROC_HOOKS), 0);
	ck_assert_int_eq(munmap(p, PAGE), 0);
	ck_assert_uint_eq(nlog, 0);
	ck_assert_int_eq(umn_proc_start(UMN_PROC_HOOKS), UMN_PROC_HOOKS);
	ck_assert_int_eq(munmap(p + PAGE, PAGE), 0);
	ck_assert_uint_eq(nlog, 1);
	ck_assert_int_eq(umn_proc_start(1U << 7), -EINVAL);
}
END_TEST

/* docs/errors.md, the rows of <umn/proc.h>. */
START_TEST(errors_change_nothing)
{
	struct umn_proc_cause cause;
	struct umn_range range;

	ck_assert_int_eq(umn_proc_start(1U << 5), -EINVAL);
	ck_assert_ptr_null(umn_proc_mm());
	setenv("UMN_PROC_SOURCES", "hooks,bogus", 1);
	ck_assert_int_eq(umn_proc_start(UMN_PROC_ALL), -EINVAL);
	setenv("UMN_PROC_SOURCES", "", 1); /* set, empty: not "none" */
	ck_assert_int_eq(umn_proc_start(UMN_PROC_ALL), -EINVAL);
	ck_assert_ptr_null(umn_proc_mm());
	setenv("UMN_PROC_SOURCES", "none", 1);
	ck_assert_int_eq(umn_proc_start(UMN_PROC_ALL), 0);
	unsetenv("UMN_PROC_SOURCES");
	ck_assert_ptr_nonnull(umn_proc_mm());
	ck_assert_uint_eq(umn_proc_sources(), 0);
	ck_assert_int_eq(umn_proc_stop(1U << 9), -EINVAL);
	ck_assert_int_eq(umn_proc_uffd_sync(), -ENOTCONN);
	umn_range_init(&range, umn_proc_mm(), 0, PAGE, UMN_EVENT_UNMAP, 0,
		       NULL);
	ck_assert_int_eq(umn_proc_cause(&range, &cause), -EINVAL);
	ck_assert_int_eq(umn_proc_cause(NULL, &cause), -EINVAL);
	range.owner = &cause; /* not a cause of ours */
	memset(&cause, 0, sizeof(cause));
	ck_assert_int_eq(umn_proc_cause(&range, &cause), -EINVAL);
}
END_TEST

/*
 * A bracket on memory no interval covers takes no lock, even with
 * intervals elsewhere (the hooks run inside malloc and signal handlers).
 */
static unsigned long count_invalidations;

static bool count_invalidate(struct umn_interval_notifier *sub,
			     const struct umn_range *range, unsigned long seq)
{
	(void)range;
	umn_interval_set_seq(sub, seq);
	count_invalidations++;
	return true;
}

static const struct umn_interval_notifier_ops count_ops = {
	.name = "counter",
	.invalidate = count_invalidate,
};

/*
 * TSan tears a thread's state down before glibc's thread exit releases the
 * unused stack with madvise(), which the hooks then bracket: TSan faults
 * in the liburcu-bp registration that bracket makes.  Tests whose threads
 * exit while the hooks are on are in the case "threads-exit", which is
 * skipped under TSan (see main()).
 */

/*
 * The hooks make their system calls with syscall(), which this program
 * wraps (tests/proc/core.cmake): @in_window runs inside a hooked munmap of
 * @window_target, after the hook's test for notifiers, before the kernel
 * acts: the fast path's window.
 */
static void (*volatile in_window)(void);
static volatile unsigned long window_target;

long __real_syscall(long nr, ...);
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

/*
 * What bypasses libc: only the kernel-side source sees it.  The counter
 * counts every invalidation of the range, whatever its source, so that a
 * call the hooks saw counts too; and those from userfaultfd apart.
 */
static unsigned long invalidations, uffd_invalidations;

static bool note_invalidate(struct umn_interval_notifier *sub,
			    const struct umn_range *range, unsigned long seq)
{
	struct umn_proc_cause c;

	umn_interval_set_seq(sub, seq);
	__atomic_fetch_add(&invalidations, 1, __ATOMIC_RELAXED);
	if (!umn_proc_cause(range, &c) && c.source == UMN_PROC_UFFD)
		__atomic_fetch_add(&uffd_invalidations, 1, __ATOMIC_RELAXED);
	return true;
}

static const struct umn_interval_notifier_ops note_ops = {
	.name = "counter",
	.invalidate = note_invalidate,
};

static void raw_calls_seen(unsigned int sources, unsigned long expected)
{
	unsigned char *p;
	struct umn_interval_notifier sub = { 0 };

	ck_assert_int_eq(umn_proc_start(sources), (int)sources);
	p = setup_region(64 * PAGE, sources);
	ck_assert_int_eq(umn_interval_notifier_insert(&sub, umn_proc_mm(),
						      (unsigned long)p,
						      64 * PAGE, &note_ops),
			 0);
	syscall(SYS_munmap, p, PAGE);
	syscall(SYS_madvise, p + PAGE, PAGE, MADV_DONTNEED);
	syscall(SYS_mremap, p + 2 * PAGE, 2 * PAGE, PAGE, 0);
	if (sources & UMN_PROC_UFFD)
		ck_assert_int_eq(umn_proc_uffd_sync(), 0);
	ck_assert_uint_eq(__atomic_load_n(&invalidations, __ATOMIC_RELAXED),
			  expected);
	ck_assert_int_eq(umn_interval_notifier_remove(&sub), 0);
}

/* Watching part of a mapping must not split it: an mremap of the whole
 * mapping still works (it fails with EFAULT across two mappings). */
START_TEST(uffd_watch_keeps_the_mapping_whole)
{
	struct umn_interval_notifier sub = { 0 };
	unsigned char *p;
	void *q;

	ck_assert_int_eq(umn_proc_start(UMN_PROC_UFFD), UMN_PROC_UFFD);
	p = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_int_eq(umn_interval_notifier_insert(&sub, umn_proc_mm(),
						      (unsigned long)p + PAGE,
						      PAGE, &count_ops),
			 0);
	q = mremap(p, 16 * PAGE, 64 * PAGE, MREMAP_MAYMOVE);
	ck_assert_ptr_ne(q, MAP_FAILED);
	ck_assert_int_eq(umn_interval_notifier_remove(&sub), 0);
	munmap(q, 64 * PAGE);
}
END_TEST

START_TEST(uffd_sees_raw_system_calls)
{
	raw_calls_seen(UMN_PROC_UFFD, 3);
}
END_TEST

START_TEST(hooks_alone_miss_raw_system_calls)
{
	raw_calls_seen(UMN_PROC_HOOKS, 0);
}
END_TEST

/*
 * Regressions found by a cold review of the process primary.
 */

/* A fork while another thread is inside a bracket: the child's first
 * grace period must end (liburcu-bp's fork hooks run). */
static unsigned char *slow_page;
static sem_t slow_entered, slow_go; /* in the callback; may leave it */

static bool slow_invalidate(struct umn_interval_notifier *sub,
			    const struct umn_range *range, unsigned long seq)
{
	(void)range;
	umn_interval_set_seq(sub, seq);
	sem_post(&slow_entered);
	while (sem_wait(&slow_go))
		;
	return true;
}

static const struct umn_interval_notifier_ops slow_ops = {
	.name = "slow",
	.invalidate = slow_invalidate,
};

static void *discard_slow_page(void *arg)
{
	(void)arg;
	madvise(slow_page, PAGE, MADV_DONTNEED);
	return NULL;
}

START_TEST(fork_during_a_bracket_leaves_the_child_usable)
{
	struct umn_interval_notifier sub = { 0 };
	pthread_t t;
	int status;
	pid_t pid;

	ck_assert_int_eq(umn_proc_start(UMN_PROC_HOOKS), UMN_PROC_HOOKS);
	slow_page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_int_eq(umn_interval_notifier_insert(&sub, umn_proc_mm(),
						      (unsigned long)slow_page,
						      PAGE, &slow_ops),
			 0);
	sem_init(&slow_entered, 0, 0);
	sem_init(&slow_go, 0, 0);
	pthread_create(&t, NULL, discard_slow_page, NULL);
	while (sem_wait(&slow_entered)) /* it is inside its bracket */
		;
	pid = fork();
	if (!pid) {
		struct umn_notifier fresh = { 0 };

		alarm(10);
		_exit(umn_proc_mm() != NULL ||
		      umn_proc_start(UMN_PROC_HOOKS) != UMN_PROC_HOOKS ||
		      umn_notifier_register(&fresh, &rec_ops, umn_proc_mm()));
	}
	waitpid(pid, &status, 0); /* the bracket stays open meanwhile */
	sem_post(&slow_go);
	ck_assert_msg(WIFEXITED(status) && !WEXITSTATUS(status),
		      "the child hung or failed (status %#x)", status);
	pthread_join(t, NULL);
	ck_assert_int_eq(umn_interval_notifier_remove(&sub), 0);
}
END_TEST

/* A signal handler that discards covered memory while its thread is in
 * register or unregister (which hold the mm's lock): no deadlock. */
static unsigned char *signal_page;
static unsigned long signals_handled;

static unsigned long handled_inside_umn;

static void discard_in_handler(int sig)
{
	(void)sig;
	if (umn__held.depth) /* held: never on top of umn's lock */
		handled_inside_umn++;
	madvise(signal_page, PAGE, MADV_DONTNEED);
	signals_handled++;
}

/* The signal arrives just as the thread has taken the mm's lock, inside
 * register and unregister (tests/sleepcheck.c calls this back). */
static unsigned long signals_raised;

static void signal_with_the_lock_held(pthread_mutex_t *m)
{
	/* Not from the handler's own bracket: one signal per lock taken by
	 * register and unregister. */
	if (m == &umn_proc_mm()->lock && signals_raised == signals_handled) {
		signals_raised++;
		raise(SIGUSR1);
	}
}

START_TEST(signal_handler_unmapping_covered_memory_does_not_deadlock)
{
	struct umn_interval_notifier sub = { 0 };
	struct umn_notifier n = { 0 };

	ck_assert_int_eq(umn_proc_start(UMN_PROC_HOOKS), UMN_PROC_HOOKS);
	signal_page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_int_eq(umn_interval_notifier_insert(
				 &sub, umn_proc_mm(),
				 (unsigned long)signal_page, PAGE, &count_ops),
			 0);
	signal(SIGUSR1, discard_in_handler);
	alarm(20); /* a deadlock ends the test with SIGALRM */
	sleepcheck_after_lock = signal_with_the_lock_held;
	for (int i = 0; i < 10; i++) {
		umn_notifier_register(&n, &rec_ops, umn_proc_mm());
		umn_notifier_unregister(&n);
	}
	sleepcheck_after_lock = NULL;
	alarm(0);
	signal(SIGUSR1, SIG_DFL);
	/* Handled once the lock was dropped, each one. */
	ck_assert_uint_ge(signals_handled, 20);
	ck_assert_uint_eq(signals_handled, signals_raised);
	ck_assert_uint_eq(handled_inside_umn, 0);
	ck_assert_int_eq(umn_interval_notifier_remove(&sub), 0);
}
END_TEST

START_TEST(shmdt_of_a_partly_unmapped_segment_is_seen)
{
	int id = shmget(IPC_PRIVATE, 4 * PAGE, IPC_CREAT | 0600);
	unsigned char *p;

	ck_assert_int_ge(id, 0);
	p = shmat(id, NULL, 0);
	shmctl(id, IPC_RMID, NULL);
	ck_assert_ptr_ne(p, (void *)-1);
	memset(p, 0xab, 4 * PAGE);
	ck_assert_int_eq(umn_proc_start(UMN_PROC_HOOKS), UMN_PROC_HOOKS);
	ck_assert_int_eq(umn_notifier_register(&rec, &rec_ops, umn_proc_mm()),
			 0);
	ck_assert_int_eq(munmap(p, PAGE), 0);
	nlog = 0;
	watch_lo = (unsigned long)p + 3 * PAGE;
	watch_hi = watch_lo + PAGE;
	ck_assert_int_eq(shmdt(p), 0);
	ck_assert_uint_eq(nlog, 1);
	ck_assert_str_eq(log_[0].cause.call, "shmdt");
	ck_assert_uint_le(log_[0].start, (unsigned long)p + 3 * PAGE);
	ck_assert_uint_ge(log_[0].end, (unsigned long)p + 4 * PAGE);
	ck_assert_int_eq(log_[0].mapped_at_end, 0);
}
END_TEST

/* madvise(MADV_GUARD_INSTALL) zaps the pages (Linux 6.13). */
START_TEST(guard_install_is_seen)
{
	unsigned char *p = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct umn_interval_notifier sub = { 0 };

	p[0] = 1;
	ck_assert_int_eq(umn_proc_start(UMN_PROC_HOOKS), UMN_PROC_HOOKS);
	ck_assert_int_eq(umn_interval_notifier_insert(&sub, umn_proc_mm(),
						      (unsigned long)p, PAGE,
						      &count_ops),
			 0);
	/* (The recorder would read the guard page and fault.) */
	ck_assert_int_eq(madvise(p, PAGE, MADV_GUARD_INSTALL), 0);
	ck_assert_uint_eq(count_invalidations, 1);
	ck_assert_int_eq(umn_interval_notifier_remove(&sub), 0);
}
END_TEST

/* A callback that sets errno does not leak it into a successful call;
 * the thread id in a forked child is the child's. */
static int set_errno_start(struct umn_notifier *n, const struct umn_range *r)
{
	errno = EIO;
	return rec_start(n, r);
}

static const struct umn_notifier_ops errno_ops = {
	.name = "errno-setter",
	.invalidate_range_start = set_errno_start,
};

START_TEST(errno_and_thread_id_are_the_callers)
{
	unsigned char *p = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int status;
	pid_t pid;

	ck_assert_int_eq(umn_proc_start(UMN_PROC_HOOKS), UMN_PROC_HOOKS);
	ck_assert_int_eq(umn_notifier_register(&rec, &errno_ops, umn_proc_mm()),
			 0);
	watch_lo = (unsigned long)p;
	watch_hi = watch_lo + 4 * PAGE;
	errno = 0;
	ck_assert_int_eq(madvise(p, PAGE, MADV_DONTNEED), 0);
	ck_assert_int_eq(errno, 0);
	ck_assert_uint_eq(nlog, 1);
	munmap(p + PAGE, PAGE); /* caches this thread's id */
	pid = fork();
	if (!pid) {
		struct umn_notifier fresh = { 0 }; /* rec is the parent's */

		nlog = 0;
		if (umn_proc_start(UMN_PROC_HOOKS) != UMN_PROC_HOOKS ||
		    umn_notifier_register(&fresh, &rec_ops, umn_proc_mm()))
			_exit(1);
		munmap(p + 2 * PAGE, PAGE);
		_exit(nlog != 1 ||
		      log_[0].cause.tid != (pid_t)syscall(SYS_gettid));
	}
	waitpid(pid, &status, 0);
	ck_assert(WIFEXITED(status) && !WEXITSTATUS(status));
}
END_TEST

/*
 * Failure injection on the process's start: with any one of its
 * failure points failing (allocation, the trampoline page, a page-table
 * protection change, userfaultfd, a thread), umn_proc_start() turns on
 * only the sources that started, or fails with none on; the next start
 * then succeeds and both sources work.
 * Each try runs in its own child, since patching cannot be undone.
 */
static int try_start_failing_at(unsigned long k)
{
	const unsigned int both = UMN_PROC_HOOKS | UMN_PROC_UFFD;
	struct umn_interval_notifier sub = { 0 };
	unsigned char *p;
	int ret;

	umn__fail_arm(k, 0);
	ret = umn_proc_start(both);
	__atomic_store_n(&umn__fail_armed, false, __ATOMIC_RELAXED);
	/* UMN_PROC_ALL: the sources that started, or an error and none. */
	if (ret < 0 ? umn_proc_sources() != 0
		    : (unsigned int)ret != umn_proc_sources())
		return 1;
	if (umn_proc_start(both) != (int)both)
		return 2;
	p = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (umn_notifier_register(&rec, &rec_ops, umn_proc_mm()) ||
	    umn_interval_notifier_insert(&sub, umn_proc_mm(), (unsigned long)p,
					 4 * PAGE, &note_ops))
		return 3;
	watch_lo = (unsigned long)p;
	watch_hi = watch_lo + 4 * PAGE;
	/* The hooks see the first (and tell userfaultfd not to tell it
	 * again), userfaultfd the second: two brackets, one from each. */
	munmap(p, PAGE);
	syscall(SYS_munmap, p + PAGE, PAGE);
	if (umn_proc_uffd_sync() ||
	    __atomic_load_n(&nlog, __ATOMIC_RELAXED) != 2 ||
	    __atomic_load_n(&uffd_invalidations, __ATOMIC_RELAXED) != 1)
		return 4;
	return 0;
}

static unsigned long start_failure_points(void)
{
	unsigned long n = 0;
	int fds[2], status;
	pid_t pid;

	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	if (!pid) {
		umn__fail_arm(0, 0);
		umn_proc_start(UMN_PROC_HOOKS | UMN_PROC_UFFD);
		n = umn__fail_passed();
		_exit(write(fds[1], &n, sizeof(n)) != sizeof(n));
	}
	ck_assert_int_eq(read(fds[0], &n, sizeof(n)), sizeof(n));
	waitpid(pid, &status, 0);
	close(fds[0]);
	close(fds[1]);
	return n;
}

START_TEST(start_fails_cleanly_at_every_failure_point)
{
	unsigned long n, k;
	int status;
	pid_t pid;

	n = start_failure_points();
	ck_assert_uint_ge(n, 8);
	for (k = 1; k <= n; k++) {
		pid = fork();
		if (!pid)
			_exit(try_start_failing_at(k));
		waitpid(pid, &status, 0);
		ck_assert_msg(WIFEXITED(status) && !WEXITSTATUS(status),
			      "failure point %lu of %lu: step %d", k, n,
			      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	}
}
END_TEST

/*
 * The tests come in cases, each a ctest entry of its own (core.cmake):
 * "proc" runs everywhere; the others need what this machine or build may
 * not have, and their program then exits with 77 (ctest's
 * SKIP_RETURN_CODE) after a "skipped: " line with the reason, so that the
 * count shows the skip.  Without an argument every case that can run
 * does.
 */
static const char *uffd_missing(void)
{
	static char why[64];
	int status;
	pid_t pid;

	/* In a child: patching cannot be undone, and the process must stay
	 * single-threaded for the tests' forks (TSan). */
	pid = fork();
	if (!pid) {
		int ret = umn_proc_start(UMN_PROC_UFFD);

		_exit(ret < 0 ? (-ret & 0x7f) : 0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return "cannot fork to try userfaultfd";
	if (WIFEXITED(status) && !WEXITSTATUS(status))
		return NULL;
	snprintf(why, sizeof(why), "no userfaultfd here (%s)",
		 WIFEXITED(status) ? strerror(WEXITSTATUS(status))
				   : "the try crashed");
	return why;
}

static const char *guard_missing(void)
{
	void *p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int ret;

	if (p == MAP_FAILED)
		return "cannot map a page to try MADV_GUARD_INSTALL";
	ret = madvise(p, PAGE, MADV_GUARD_INSTALL);
	munmap(p, PAGE);
	return ret ? "no MADV_GUARD_INSTALL here (Linux 6.13)" : NULL;
}

static const char *threads_exit_missing(void)
{
#if defined(__SANITIZE_THREAD__)
	return "under TSan: threads exit through the hooks, and TSan faults "
	       "in the bracket glibc's release of their stack makes";
#else
	return NULL;
#endif
}

static void add_proc(TCase *tc)
{
	tcase_add_test(tc, munmap_brackets_the_kernel);
	tcase_add_test(tc, madvise_dontneed_brackets_the_kernel);
	tcase_add_test(tc, mmap_fixed_brackets_the_kernel);
	tcase_add_test(tc, mremap_move_and_shrink_bracket_the_kernel);
	tcase_add_test(tc, brk_shrink_brackets_the_kernel);
	tcase_add_test(tc, bad_input_reaches_the_kernel);
	tcase_add_test(tc, stopped_source_fires_nothing);
	tcase_add_test(tc, errors_change_nothing);
	tcase_add_test(tc, uncovered_munmap_takes_no_lock);
	tcase_add_test(
		tc, first_notifier_from_a_handler_in_the_window_is_told_late);
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
	tcase_add_test(tc, hook_path_does_not_allocate);
#endif
	tcase_add_test(tc, hooks_alone_miss_raw_system_calls);
	tcase_add_test(
		tc, signal_handler_unmapping_covered_memory_does_not_deadlock);
	tcase_add_test(tc, shmdt_of_a_partly_unmapped_segment_is_seen);
	tcase_add_test(tc, errno_and_thread_id_are_the_callers);
}

static void add_threads_exit(TCase *tc)
{
	tcase_add_test(tc, patching_is_safe_while_threads_run);
	tcase_add_test(tc, first_notifier_waits_for_calls_in_flight);
	tcase_add_test(tc, fork_during_a_bracket_leaves_the_child_usable);
}

static void add_uffd(TCase *tc)
{
	tcase_add_test(tc, uffd_sees_raw_system_calls);
	tcase_add_test(tc, uffd_watch_keeps_the_mapping_whole);
	tcase_add_test(tc, start_fails_cleanly_at_every_failure_point);
}

static void add_guard(TCase *tc)
{
	tcase_add_test(tc, guard_install_is_seen);
}

static const struct proc_case {
	const char *name;
	const char *(*missing)(void); /* NULL, or why it cannot run here */
	void (*add)(TCase *tc);
} cases[] = {
	{ "proc", NULL, add_proc },
	{ "threads-exit", threads_exit_missing, add_threads_exit },
	{ "uffd", uffd_missing, add_uffd },
	{ "guard", guard_missing, add_guard },
	{ "signals", proc_signals_missing, proc_signals_add },
	{ "signals-uffd", proc_signals_uffd_missing, proc_signals_uffd_add },
};

int main(int argc, char **argv)
{
	const int ncases = sizeof(cases) / sizeof(cases[0]);
	const char *why;
	SRunner *sr;
	int failed, i;
	TCase *tc;
	Suite *s;

	for (i = 0; argc == 2 && i < ncases; i++)
		if (!strcmp(argv[1], cases[i].name))
			break;
	if (argc > 2 || i == ncases) {
		fprintf(stderr, "usage: umn-proc-tests [proc|threads-exit|"
				"uffd|guard|signals|signals-uffd]\n");
		return 2;
	}
	s = suite_create("proc");
	for (i = 0; i < ncases; i++) {
		if (argc == 2 && strcmp(argv[1], cases[i].name))
			continue;
		why = cases[i].missing ? cases[i].missing() : NULL;
		if (why) {
			printf("skipped: proc case %s: %s\n", cases[i].name,
			       why);
			continue;
		}
		tc = tcase_create(cases[i].name);
		tcase_set_timeout(tc, 60);
		cases[i].add(tc);
		suite_add_tcase(s, tc);
	}
	fflush(stdout);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	if (!failed && !srunner_ntests_run(sr))
		failed = -1; /* every case asked for was skipped */
	srunner_free(sr);
	return failed > 0 ? 1 : failed < 0 ? 77 : 0;
}
