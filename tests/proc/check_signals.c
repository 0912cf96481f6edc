// SPDX-License-Identifier: MIT
/*
 * tests/proc/check_signals.c - holding signals costs nothing while the
 * program has no handler, and is never unsafe (core/signals.c): the case
 * "signals" of umn-proc-tests.
 *
 * Each test runs in a process of its own (Check forks), which starts with
 * no handler: holds stop masking when umn_proc_start() has hooked libc's
 * sigaction and found none.  A hold is every take of the process mm's
 * lock (an interval notifier's insert and remove take it);
 * tests/sleepcheck.c counts this thread's pthread_sigmask() calls.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <umn/interval.h>
#include <umn/proc.h>

#include "../../core/internal.h"
#include "../sleepcheck.h"
#include "check_signals.h"

#define PAGE  4096UL
#define HOLDS 50

static bool count_invalidate(struct umn_interval_notifier *sub,
			     const struct umn_range *range, unsigned long seq)
{
	(void)range;
	umn_interval_set_seq(sub, seq);
	return true;
}

static const struct umn_interval_notifier_ops count_ops = {
	.invalidate = count_invalidate,
};

/* HOLDS inserts and removes: the mask calls they made. */
static unsigned long masks_of_holds(void)
{
	struct umn_interval_notifier sub;
	unsigned long before = sleepcheck_sigmasks;
	static char page[PAGE] __attribute__((aligned(PAGE)));

	for (int i = 0; i < HOLDS; i++) {
		memset(&sub, 0, sizeof(sub));
		ck_assert_int_eq(umn_interval_notifier_insert(
					 &sub, umn_proc_mm(),
					 (unsigned long)page, PAGE, &count_ops),
				 0);
		ck_assert_int_eq(umn_interval_notifier_remove(&sub), 0);
	}
	return sleepcheck_sigmasks - before;
}

static volatile sig_atomic_t handled, handled_inside_umn;

static void handler(int sig)
{
	(void)sig;
	if (umn__held.depth)
		handled_inside_umn++;
	handled++;
}

/* Start with no handler: Check's forked test inherits its runner's
 * (SIGINT, SIGALRM, SIGTERM), which the test does not need. */
static void start_hooks(void)
{
	struct sigaction cur;

	for (int sig = 1; sig < 65; sig++)
		if (!sigaction(sig, NULL, &cur) && cur.sa_handler != SIG_DFL &&
		    cur.sa_handler != SIG_IGN)
			signal(sig, SIG_DFL);
	ck_assert_int_eq(umn_proc_start(UMN_PROC_HOOKS), UMN_PROC_HOOKS);
}

START_TEST(holds_mask_nothing_until_a_handler_is_installed)
{
	start_hooks();
	ck_assert_msg(__atomic_load_n(&umn__handlers, __ATOMIC_RELAXED) ==
			      UMN__HANDLERS_NONE,
		      "no handler was installed, but holds still mask");
	/* The first notifier settles the mm: a grace period, which a hold
	 * waits for masked (umn__signals_mask_now). */
	ck_assert_uint_le(masks_of_holds(), 2);
	ck_assert_uint_eq(masks_of_holds(), 0);
	/* The control: the same holds mask once a handler is in. */
	signal(SIGUSR1, handler);
	ck_assert_int_eq(__atomic_load_n(&umn__handlers, __ATOMIC_RELAXED),
			 UMN__HANDLERS_MASKED);
	ck_assert_uint_ge(masks_of_holds(), 2 * 2 * HOLDS);
	raise(SIGUSR1);
	ck_assert_int_eq(handled, 1);
}
END_TEST

START_TEST(a_handler_installed_before_start_keeps_holds_masking)
{
	struct sigaction act = { .sa_handler = handler };

	signal(SIGALRM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	sigaction(SIGUSR1, &act, NULL);
	ck_assert_int_eq(umn_proc_start(UMN_PROC_HOOKS), UMN_PROC_HOOKS);
	ck_assert_int_ne(__atomic_load_n(&umn__handlers, __ATOMIC_RELAXED),
			 UMN__HANDLERS_NONE);
	ck_assert_uint_ge(masks_of_holds(), 2 * 2 * HOLDS);
}
END_TEST

/*
 * The switch: thread A is inside an unmasked hold (it holds the mm's lock:
 * sleepcheck calls back right after the lock is taken, and A stays there);
 * B installs a handler, which must wait until A's hold ends, and so must
 * C, which installs another while B waits.
 */
static int a_inside, a_go, b_returned;
static struct sleepcheck_waiter b_waiter;

static void stay_inside(pthread_mutex_t *m)
{
	if (m != &umn_proc_mm()->lock)
		return;
	sleepcheck_after_lock = NULL;
	__atomic_store_n(&a_inside, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&a_go, __ATOMIC_ACQUIRE))
		; /* spin: no wrapped call, no sleep */
}

static void *hold_in_a(void *arg)
{
	struct umn_interval_notifier sub = { 0 };
	static char page[PAGE] __attribute__((aligned(PAGE)));

	(void)arg;
	sleepcheck_after_lock = stay_inside;
	ck_assert_int_eq(umn_interval_notifier_insert(&sub, umn_proc_mm(),
						      (unsigned long)page, PAGE,
						      &count_ops),
			 0);
	ck_assert_int_eq(umn_interval_notifier_remove(&sub), 0);
	return NULL;
}

static int c_returned;
static struct sleepcheck_waiter c_waiter;

static void *install_in_b(void *arg)
{
	(void)arg;
	sleepcheck_watch_me(&b_waiter);
	signal(SIGUSR1, handler);
	__atomic_store_n(&b_returned, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* A second installation, while B's waits: it waits too. */
static void *install_in_c(void *arg)
{
	(void)arg;
	sleepcheck_watch_me(&c_waiter);
	signal(SIGUSR2, handler);
	__atomic_store_n(&c_returned, 1, __ATOMIC_RELEASE);
	return NULL;
}

START_TEST(installing_a_handler_waits_for_the_unmasked_holds)
{
	pthread_t a, b, c;

	start_hooks();
	ck_assert_int_eq(umn__handlers, UMN__HANDLERS_NONE);
	ck_assert_int_eq(pthread_create(&a, NULL, hold_in_a, NULL), 0);
	while (!__atomic_load_n(&a_inside, __ATOMIC_ACQUIRE))
		sched_yield();
	ck_assert_int_eq(pthread_create(&b, NULL, install_in_b, NULL), 0);
	/* Fails if B's signal() returns while A is inside. */
	await_waiting(&b_waiter, &b_returned, "nanosleep");
	ck_assert_int_eq(pthread_create(&c, NULL, install_in_c, NULL), 0);
	await_waiting(&c_waiter, &c_returned, "nanosleep");
	__atomic_store_n(&a_go, 1, __ATOMIC_RELEASE);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	pthread_join(c, NULL);
	ck_assert_int_eq(umn__handlers, UMN__HANDLERS_MASKED);
	/* From now on a hold masks: a signal raised inside runs after. */
	ck_assert_uint_ge(masks_of_holds(), 2 * 2 * HOLDS);
}
END_TEST

/*
 * A hold that blocks for other threads' work stops counting: R waits in
 * read_begin (inside a hold) for the bracket of I, whose callback
 * installs a handler.  Were R's hold still counted, the installation
 * would wait for R and R for I: a deadlock (the alarm ends it).
 */
static struct umn_interval_notifier r_sub;
static struct sleepcheck_waiter r_waiter;
static int r_returned, in_callback;

static bool install_in_callback(struct umn_interval_notifier *sub,
				const struct umn_range *range,
				unsigned long seq)
{
	(void)range;
	umn_interval_set_seq(sub, seq);
	__atomic_store_n(&in_callback, 1, __ATOMIC_RELEASE);
	await_waiting(&r_waiter, &r_returned, "pthread_cond_wait");
	signal(SIGUSR1, handler);
	return true;
}

static const struct umn_interval_notifier_ops install_ops = {
	.invalidate = install_in_callback,
};

static void *unmap_in_i(void *page)
{
	munmap(page, PAGE);
	return NULL;
}

static void *read_begin_in_r(void *arg)
{
	(void)arg;
	sleepcheck_watch_me(&r_waiter);
	umn_interval_read_begin(&r_sub);
	__atomic_store_n(&r_returned, 1, __ATOMIC_RELEASE);
	return NULL;
}

START_TEST(an_installation_waits_for_no_hold_that_blocks)
{
	void *page;
	pthread_t i, r;

	start_hooks();
	page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(page, MAP_FAILED);
	ck_assert_int_eq(umn_interval_notifier_insert(&r_sub, umn_proc_mm(),
						      (unsigned long)page, PAGE,
						      &install_ops),
			 0);
	alarm(20);
	ck_assert_int_eq(pthread_create(&i, NULL, unmap_in_i, page), 0);
	while (!__atomic_load_n(&in_callback, __ATOMIC_ACQUIRE))
		sched_yield();
	ck_assert_int_eq(pthread_create(&r, NULL, read_begin_in_r, NULL), 0);
	pthread_join(i, NULL);
	pthread_join(r, NULL);
	alarm(0);
	ck_assert_int_eq(umn__handlers, UMN__HANDLERS_MASKED);
	ck_assert_int_eq(umn_interval_notifier_remove(&r_sub), 0);
}
END_TEST

static siginfo_t got_info;

static void info_handler(int sig, siginfo_t *info, void *uc)
{
	(void)sig, (void)uc;
	got_info = *info;
}

START_TEST(sigaction_through_the_hook_behaves_as_libcs)
{
	struct sigaction act = { .sa_sigaction = info_handler,
				 .sa_flags = SA_SIGINFO },
			 old;
	int bad[] = { 0, -1, 32, 33, 65, 1000 };

	start_hooks();
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		ck_assert_int_eq(sigaction(bad[i], &act, NULL), -1);
		ck_assert_int_eq(errno, EINVAL);
	}
	/* A query installs nothing. */
	ck_assert_int_eq(sigaction(SIGUSR2, NULL, &old), 0);
	ck_assert_ptr_eq((void *)old.sa_handler, (void *)SIG_DFL);
	ck_assert_int_eq(umn__handlers, UMN__HANDLERS_NONE);
	ck_assert_int_eq(sigaction(SIGUSR2, &act, NULL), 0);
	ck_assert_int_eq(sigaction(SIGUSR2, NULL, &old), 0);
	ck_assert_ptr_eq((void *)old.sa_sigaction, (void *)info_handler);
	ck_assert(old.sa_flags & SA_SIGINFO);
	raise(SIGUSR2);
	ck_assert_int_eq(got_info.si_signo, SIGUSR2);
}
END_TEST

/* The userfaultfd source's threads block every signal: a handler there
 * could unmap registered memory, and the reader would wait for itself. */
static bool blocks_every_signal(const char *status)
{
	const char *blk = strstr(status, "SigBlk:");
	unsigned long long mask;

	ck_assert_ptr_nonnull(blk);
	mask = strtoull(blk + 7, NULL, 16);
	/* Every signal a thread can block: not SIGKILL, SIGSTOP, nor the
	 * two glibc keeps for itself. */
	return (mask | 1ULL << (SIGKILL - 1) | 1ULL << (SIGSTOP - 1) |
		1ULL << 31 | 1ULL << 32) == ~0ULL;
}

START_TEST(umns_own_threads_block_every_signal)
{
	char path[300], status[4096];
	int self = gettid(), others = 0;
	struct dirent *d;
	DIR *dir;

	start_hooks();
	ck_assert_int_eq(umn_proc_start(UMN_PROC_UFFD),
			 UMN_PROC_HOOKS | UMN_PROC_UFFD);
	ck_assert_int_eq(umn__handlers, UMN__HANDLERS_NONE);
	dir = opendir("/proc/self/task");
	ck_assert_ptr_nonnull(dir);
	while ((d = readdir(dir))) {
		FILE *f;
		size_t n;

		if (d->d_name[0] == '.' || atoi(d->d_name) == self)
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/status",
			 d->d_name);
		f = fopen(path, "r");
		ck_assert_ptr_nonnull(f);
		n = fread(status, 1, sizeof(status) - 1, f);
		fclose(f);
		status[n] = 0;
		ck_assert_msg(blocks_every_signal(status),
			      "umn's thread %s takes signals", d->d_name);
		others++;
	}
	closedir(dir);
	ck_assert_int_ge(others, 1); /* the reader, at least */
}
END_TEST

const char *proc_signals_uffd_missing(void)
{
	const char *why = proc_signals_missing();
	long fd;

	if (why)
		return why;
	fd = syscall(SYS_userfaultfd, 0);
	if (fd < 0)
		return "userfaultfd is not available here";
	close((int)fd);
	return NULL;
}

void proc_signals_uffd_add(TCase *tc)
{
	tcase_add_test(tc, umns_own_threads_block_every_signal);
}

const char *proc_signals_missing(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	return "under a sanitizer's runtime holds always mask (it installs "
	       "handlers with raw system calls, which umn cannot see)";
#elif !defined(__x86_64__)
	return "libc's sigaction is hooked on x86-64 only: holds mask";
#else
	return NULL;
#endif
}

void proc_signals_add(TCase *tc)
{
	tcase_add_test(tc, holds_mask_nothing_until_a_handler_is_installed);
	tcase_add_test(tc,
		       a_handler_installed_before_start_keeps_holds_masking);
	tcase_add_test(tc, installing_a_handler_waits_for_the_unmasked_holds);
	tcase_add_test(tc, an_installation_waits_for_no_hold_that_blocks);
	tcase_add_test(tc, sigaction_through_the_hook_behaves_as_libcs);
}
