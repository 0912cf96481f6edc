// SPDX-License-Identifier: MIT
/*
 * tests/proc/check_proc_reentry.c - the process primary entered again
 * while a bracket or umn's lock is held: a fork during another thread's
 * bracket leaves the child usable; a signal handler that discards covered
 * memory while its thread registers or unregisters does not deadlock.
 * (Regressions found by a cold review of the process primary.)
 */
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../core/internal.h"
#include "../sleepcheck.h"
#include "proc_tests.h"

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

void add_reentry_tests(TCase *tc)
{
	tcase_add_test(
		tc, signal_handler_unmapping_covered_memory_does_not_deadlock);
}

void add_reentry_thread_tests(TCase *tc)
{
	tcase_add_test(tc, fork_during_a_bracket_leaves_the_child_usable);
}
