// SPDX-License-Identifier: MIT
/*
 * tests/check_debug.c - the debug checks catch what they promise to catch:
 * sleeping in atomic context (naming the notifier and the call), broken
 * start/end pairing, invalidate_range outside a bracket; and calls that
 * would deadlock from inside a callback are refused, not hung.  The lock
 * rules (core/lockdep.h): a function of each kind called without its lock
 * aborts, naming the function and the lock.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <umn/regcache.h>
#include <unistd.h>

#include "../core/internal.h"
#include "../primaries/proc/proc.h"
#include "../primaries/soft/soft.h"
#include "harness.h"

static struct toy toy;

static void setup(void)
{
	toy_init(&toy, 16, true);
}

static struct umn_notifier note;
static struct umn_interval_notifier isub;

static void register_note(const struct umn_notifier_ops *ops)
{
	memset(&note, 0, sizeof(note));
	ck_assert_int_eq(umn_notifier_register(&note, ops, toy.mm), 0);
}

static int start_with_sleep(struct umn_notifier *n,
			    const struct umn_range *range)
{
	(void)n, (void)range;
	usleep(1);
	return 0;
}

static const struct umn_notifier_ops sleepy_start_ops = {
	.name = "sleepy-start",
	.invalidate_range_start = start_with_sleep,
};

/* The same start may sleep when the range is blockable. */
START_TEST(sleep_in_blockable_start_is_fine)
{
	register_note(&sleepy_start_ops);
	ck_assert_int_eq(toy_remap(&toy, 0, 1, UMN_RANGE_BLOCKABLE), 0);
	ck_assert_int_eq(umn_notifier_unregister(&note), 0);
	toy_destroy(&toy);
}
END_TEST

#ifdef UMN_DEBUG
/*
 * Run @fn in a child with stderr captured; expect it to abort with a
 * report that contains @what and @who.
 */
static void expect_abort(void (*fn)(void), const char *what, const char *who)
{
	char buf[4096];
	int fds[2], status;
	ssize_t n, len = 0;
	pid_t pid;

	ck_assert_int_eq(pipe(fds), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(fds[1], 2);
		close(fds[0]);
		fn();
		_exit(0); /* not aborted: the parent fails the test */
	}
	close(fds[1]);
	while ((n = read(fds[0], buf + len, sizeof(buf) - 1 - len)) > 0)
		len += n;
	buf[len] = 0;
	close(fds[0]);
	waitpid(pid, &status, 0);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
		      "expected an abort, got status %#x; stderr: %s", status,
		      buf);
	ck_assert_msg(strstr(buf, what), "report lacks '%s': %s", what, buf);
	ck_assert_msg(strstr(buf, who), "report lacks '%s': %s", who, buf);
}

static pthread_mutex_t device_lock = PTHREAD_MUTEX_INITIALIZER;

static void flush_annotated(struct umn_notifier *n, struct umn_mm *mm,
			    unsigned long start, unsigned long end)
{
	(void)n, (void)mm, (void)start, (void)end;
	umn_might_sleep();
}

static void flush_with_mutex(struct umn_notifier *n, struct umn_mm *mm,
			     unsigned long start, unsigned long end)
{
	(void)n, (void)mm, (void)start, (void)end;
	pthread_mutex_lock(&device_lock);
	pthread_mutex_unlock(&device_lock);
}

static const struct umn_notifier_ops annotated_ops = {
	.name = "sleepy-devtlb",
	.invalidate_range = flush_annotated,
};

static const struct umn_notifier_ops mutex_ops = {
	.name = "mutex-devtlb",
	.invalidate_range = flush_with_mutex,
};

static void remap_blockable(void)
{
	toy_remap(&toy, 0, 1, UMN_RANGE_BLOCKABLE);
}

static void remap_nonblocking(void)
{
	toy_remap(&toy, 0, 1, 0);
}

static void annotated_in_invalidate_range(void)
{
	register_note(&annotated_ops);
	remap_blockable();
}

START_TEST(might_sleep_in_invalidate_range_aborts)
{
	expect_abort(annotated_in_invalidate_range,
		     "sleeping function called from invalid context",
		     "notifier 'sleepy-devtlb' is running invalidate_range");
}
END_TEST

static void mutex_in_invalidate_range(void)
{
	register_note(&mutex_ops);
	remap_blockable();
}

START_TEST(blocking_call_in_invalidate_range_aborts)
{
	expect_abort(mutex_in_invalidate_range, "pthread_mutex_lock",
		     "'mutex-devtlb' is running invalidate_range");
}
END_TEST

static void sleep_in_nonblocking_start(void)
{
	register_note(&sleepy_start_ops);
	remap_nonblocking();
}

START_TEST(sleep_in_nonblocking_start_aborts)
{
	expect_abort(sleep_in_nonblocking_start, "usleep",
		     "'sleepy-start' is running invalidate_range_start");
}
END_TEST

static bool interval_sleeps(struct umn_interval_notifier *sub,
			    const struct umn_range *range, unsigned long seq)
{
	(void)range;
	umn_interval_set_seq(sub, seq);
	usleep(1);
	return true;
}

static const struct umn_interval_notifier_ops sleepy_interval_ops = {
	.name = "sleepy-interval",
	.invalidate = interval_sleeps,
};

static void sleep_in_nonblocking_interval(void)
{
	memset(&isub, 0, sizeof(isub));
	umn_interval_notifier_insert(&isub, toy.mm, 0, PG(4),
				     &sleepy_interval_ops);
	remap_nonblocking();
}

START_TEST(sleep_in_nonblocking_interval_invalidate_aborts)
{
	expect_abort(sleep_in_nonblocking_interval, "usleep",
		     "'sleepy-interval' is running invalidate");
}
END_TEST

static void end_without_start(void)
{
	struct umn_range range;

	umn_range_init(&range, toy.mm, 0, PG(1), UMN_EVENT_UNMAP,
		       UMN_RANGE_BLOCKABLE, NULL);
	umn_invalidate_range_end(&range);
}

START_TEST(end_without_start_aborts)
{
	expect_abort(end_without_start, "without a start", "UNMAP");
}
END_TEST

static void end_with_other_range(void)
{
	struct umn_range a, b;

	umn_range_init(&a, toy.mm, 0, PG(1), UMN_EVENT_UNMAP,
		       UMN_RANGE_BLOCKABLE, NULL);
	b = a;
	b.end = PG(2);
	umn_invalidate_range_start(&a);
	umn_invalidate_range_end(&b);
}

START_TEST(end_with_other_range_aborts)
{
	expect_abort(end_with_other_range, "does not match", "0x2000");
}
END_TEST

static void invalidate_range_outside(void)
{
	register_note(&mutex_ops);
	umn_invalidate_range(toy.mm, 0, PG(1));
}

START_TEST(invalidate_range_outside_bracket_aborts)
{
	expect_abort(invalidate_range_outside, "umn_invalidate_range",
		     "outside any start/end bracket");
}
END_TEST

static int start_eagain(struct umn_notifier *n, const struct umn_range *r)
{
	(void)n, (void)r;
	return -EAGAIN;
}

static void eagain_on_blockable(void)
{
	static const struct umn_notifier_ops ops = {
		.name = "refuser",
		.flags = UMN_NOTIFIER_START_MAY_FAIL,
		.invalidate_range_start = start_eagain,
	};

	register_note(&ops);
	remap_blockable();
}

START_TEST(eagain_on_blockable_range_aborts)
{
	expect_abort(eagain_on_blockable, "'refuser' failed start",
		     "blockable");
}
END_TEST

/*
 * Lock rules.  Each call runs in a child that must abort with the
 * report; the controls run the same call with the lock held.
 */
static struct umn_soft_frames *lfs;
static struct umn_soft_mm *lsm;

static void soft_setup(void)
{
	ck_assert_int_eq(umn_soft_frames_create(NULL, &lfs), 0);
	ck_assert_int_eq(umn_soft_mm_create(lfs, &lsm), 0);
}

static void soft_teardown(void)
{
	umn_soft_mm_destroy(lsm);
	ck_assert_int_eq(umn_soft_frames_destroy(lfs), 0);
}

static void mm_rule_unlocked(void)
{
	unit_set_mm_seq(toy.mm);
}

START_TEST(mm_lock_rule_is_checked)
{
	expect_abort(mm_rule_unlocked, "set_mm_seq() called without mm->lock",
		     "core/interval.c");
	umn__mm_lock(toy.mm);
	unit_set_mm_seq(toy.mm); /* the control: held, no report */
	umn__mm_unlock(toy.mm);
	toy_destroy(&toy);
}
END_TEST

static void mm_unlock_unheld(void)
{
	umn__mm_unlock(toy.mm);
}

START_TEST(mm_unlock_without_the_lock_aborts)
{
	expect_abort(mm_unlock_unheld, "releasing mm->lock",
		     "this thread does not hold");
	toy_destroy(&toy);
}
END_TEST

static int pin(void *arg, unsigned long addr, unsigned long npages, bool write,
	       struct umn_regcache_page *pages)
{
	(void)arg, (void)addr, (void)npages, (void)write, (void)pages;
	return 0;
}

static void unpin(void *arg, unsigned long npages,
		  const struct umn_regcache_page *pages)
{
	(void)arg, (void)npages, (void)pages;
}

static struct umn_regcache *lrc;

static void regcache_rule_unlocked(void)
{
	unit_retire_locked(lrc);
}

START_TEST(regcache_lock_rule_is_checked)
{
	static const struct umn_regcache_ops ops = { pin, unpin };

	ck_assert_int_eq(umn_regcache_create(toy.mm, &ops, NULL, 0, &lrc), 0);
	expect_abort(regcache_rule_unlocked,
		     "retire_locked() called without rc->lock",
		     "consumers/regcache_reclaim.c");
	ck_assert_int_eq(umn_regcache_destroy(lrc), 0);
	toy_destroy(&toy);
}
END_TEST

START_TEST(uffd_lock_rule_is_checked)
{
	expect_abort(unit_push, "push() called without u.lock",
		     "primaries/proc/uffd.c");
	toy_destroy(&toy);
}
END_TEST

static void uffd_start_unlocked(void)
{
	umn__proc_uffd_start(toy.mm);
}

START_TEST(proc_start_lock_rule_is_checked)
{
	expect_abort(uffd_start_unlocked,
		     "umn__proc_uffd_start() called without start_lock",
		     "primaries/proc/uffd.c");
	toy_destroy(&toy);
}
END_TEST

static void split_unlocked(void)
{
	umn__soft_split_huge_at(lsm, 0);
}

static void split_read_locked(void)
{
	mmap_read_lock(lsm);
	umn__soft_split_huge_at(lsm, 0);
}

START_TEST(mmap_lock_rule_is_checked)
{
	soft_setup();
	expect_abort(split_unlocked,
		     "umn__soft_split_huge_at() called without mmap_lock",
		     "held exclusively");
	expect_abort(split_read_locked,
		     "umn__soft_split_huge_at() called without mmap_lock",
		     "held exclusively");
	mmap_write_lock(lsm); /* the control: held for writing, no report */
	ck_assert_int_eq(umn__soft_split_huge_at(lsm, 0), 0);
	mmap_unlock(lsm);
	soft_teardown();
	toy_destroy(&toy);
}
END_TEST

static void gather_unlocked(void)
{
	struct gather g = { 0 };

	umn__soft_gather_add(&g, 1);
}

START_TEST(ptl_rule_is_checked)
{
	soft_setup();
	expect_abort(gather_unlocked,
		     "umn__soft_gather_add() called without ptl held",
		     "primaries/soft/frames.c");
	soft_teardown();
	toy_destroy(&toy);
}
END_TEST

#endif /* UMN_DEBUG */

/* Calls that would wait for the bracket they run in: refused. */
static int results[4];

static int start_calls_back(struct umn_notifier *n, const struct umn_range *r)
{
	struct umn_notifier other;
	static const struct umn_notifier_ops none = { .name = "none" };

	(void)r;
	memset(&other, 0, sizeof(other));
	results[0] = umn_notifier_register(&other, &none, n->mm);
	results[1] = umn_notifier_unregister(n);
	results[2] = umn_interval_notifier_remove(&isub);
	results[3] = umn_mm_release(n->mm);
	return 0;
}

static bool interval_nop(struct umn_interval_notifier *sub,
			 const struct umn_range *range, unsigned long seq)
{
	(void)range;
	umn_interval_set_seq(sub, seq);
	return true;
}

START_TEST(deadlocking_calls_from_a_callback_are_refused)
{
	static const struct umn_notifier_ops ops = {
		.name = "reentrant",
		.invalidate_range_start = start_calls_back,
	};
	static const struct umn_interval_notifier_ops iops = {
		.name = "nop",
		.invalidate = interval_nop,
	};

	memset(&isub, 0, sizeof(isub));
	ck_assert_int_eq(
		umn_interval_notifier_insert(&isub, toy.mm, 0, PG(1), &iops),
		0);
	register_note(&ops);
	ck_assert_int_eq(toy_remap(&toy, 0, 1, UMN_RANGE_BLOCKABLE), 0);
	ck_assert_int_eq(results[0], -EDEADLK);
	ck_assert_int_eq(results[1], -EDEADLK);
	ck_assert_int_eq(results[2], -EDEADLK);
	ck_assert_int_eq(results[3], -EDEADLK);
	/* Nothing changed: both notifiers still work and go cleanly. */
	ck_assert_int_eq(umn_notifier_unregister_no_release(&note), 0);
	ck_assert_int_eq(umn_interval_notifier_remove(&isub), 0);
	toy_destroy(&toy);
}
END_TEST

Suite *debug_suite(void)
{
	TCase *tc;
	Suite *s = one_case_suite("debug", 30, setup, NULL, &tc);

#ifdef UMN_DEBUG
	tcase_add_test(tc, might_sleep_in_invalidate_range_aborts);
	tcase_add_test(tc, blocking_call_in_invalidate_range_aborts);
	tcase_add_test(tc, sleep_in_nonblocking_start_aborts);
	tcase_add_test(tc, sleep_in_nonblocking_interval_invalidate_aborts);
	tcase_add_test(tc, end_without_start_aborts);
	tcase_add_test(tc, end_with_other_range_aborts);
	tcase_add_test(tc, invalidate_range_outside_bracket_aborts);
	tcase_add_test(tc, eagain_on_blockable_range_aborts);
#endif
	tcase_add_test(tc, sleep_in_blockable_start_is_fine);
	tcase_add_test(tc, deadlocking_calls_from_a_callback_are_refused);
	return s;
}

/* Debug builds only: tests/main.c skips the suite otherwise. */
Suite *lockdep_suite(void)
{
	TCase *tc;
	Suite *s = one_case_suite("lockdep", 30, setup, NULL, &tc);

#ifdef UMN_DEBUG
	tcase_add_test(tc, mm_lock_rule_is_checked);
	tcase_add_test(tc, mm_unlock_without_the_lock_aborts);
	tcase_add_test(tc, regcache_lock_rule_is_checked);
	tcase_add_test(tc, uffd_lock_rule_is_checked);
	tcase_add_test(tc, proc_start_lock_rule_is_checked);
	tcase_add_test(tc, mmap_lock_rule_is_checked);
	tcase_add_test(tc, ptl_rule_is_checked);
#endif
	return s;
}
