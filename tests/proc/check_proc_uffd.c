// SPDX-License-Identifier: MIT
/*
 * tests/proc/check_proc_uffd.c - the userfaultfd source: it sees what
 * bypasses libc (the hooks alone miss it), keeps a partly watched mapping
 * whole, and umn_proc_start() with both sources fails cleanly at each of
 * its failure points.
 */
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../core/fail.h"
#include "proc_tests.h"

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

void add_raw_call_tests(TCase *tc)
{
	tcase_add_test(tc, hooks_alone_miss_raw_system_calls);
}

void add_uffd_tests(TCase *tc)
{
	tcase_add_test(tc, uffd_sees_raw_system_calls);
	tcase_add_test(tc, uffd_watch_keeps_the_mapping_whole);
	tcase_add_test(tc, start_fails_cleanly_at_every_failure_point);
}
