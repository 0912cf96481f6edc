// SPDX-License-Identifier: MIT
/*
 * tests/proc/check_proc_calls.c - each hooked call against
 * docs/CONTRACT.md, rule 2 (start before the page table changes,
 * invalidate_range and end after), in the thread that made the call, with
 * the caller's errno; the application's bad input reaching the kernel
 * untouched.
 */
#include <errno.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc_tests.h"

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

void add_call_tests(TCase *tc)
{
	tcase_add_test(tc, munmap_brackets_the_kernel);
	tcase_add_test(tc, madvise_dontneed_brackets_the_kernel);
	tcase_add_test(tc, mmap_fixed_brackets_the_kernel);
	tcase_add_test(tc, mremap_move_and_shrink_bracket_the_kernel);
	tcase_add_test(tc, brk_shrink_brackets_the_kernel);
	tcase_add_test(tc, bad_input_reaches_the_kernel);
	tcase_add_test(tc, shmdt_of_a_partly_unmapped_segment_is_seen);
	tcase_add_test(tc, errno_and_thread_id_are_the_callers);
}

void add_guard_tests(TCase *tc)
{
	tcase_add_test(tc, guard_install_is_seen);
}
