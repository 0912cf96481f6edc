// SPDX-License-Identifier: MIT
/*
 * tests/proc/check_proc.c - umn-proc-tests: the process as primary MMU,
 * in cases (below), its tests by area: each hooked call
 * (check_proc_calls.c), the fast path (check_proc_fast_path.c), re-entry
 * by forks and signal handlers (check_proc_reentry.c), the userfaultfd
 * source (check_proc_uffd.c); here, starting and stopping the sources.
 *
 * Check forks each test, and umn_proc_start() patches libc in the test's
 * own process, so each test begins with an unpatched libc.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_signals.h"
#include "proc_tests.h"

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
/* UMN_PROC_SOURCES=all takes the sources that work, as UMN_PROC_ALL does;
 * a source named in a list must start. */
START_TEST(sources_all_from_the_environment_takes_what_works)
{
	refuse_userfaultfd = true;
	setenv("UMN_PROC_SOURCES", "hooks,uffd", 1);
	ck_assert_int_eq(umn_proc_start(UMN_PROC_HOOKS), -ENOSYS);
	ck_assert_uint_eq(umn_proc_sources(), 0);
	setenv("UMN_PROC_SOURCES", "all", 1);
	ck_assert_int_eq(umn_proc_start(UMN_PROC_UFFD), UMN_PROC_HOOKS);
	unsetenv("UMN_PROC_SOURCES");
	refuse_userfaultfd = false;
}
END_TEST

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

/*
 * TSan tears a thread's state down before glibc's thread exit releases the
 * unused stack with madvise(), which the hooks then bracket: TSan faults
 * in the liburcu-bp registration that bracket makes.  Tests whose threads
 * exit while the hooks are on are in the case "threads-exit", which is
 * skipped under TSan.
 */
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
	add_call_tests(tc);
	tcase_add_test(tc, stopped_source_fires_nothing);
	tcase_add_test(tc, errors_change_nothing);
	tcase_add_test(tc, sources_all_from_the_environment_takes_what_works);
	add_fast_path_tests(tc);
	add_raw_call_tests(tc);
	add_reentry_tests(tc);
}

static void add_threads_exit(TCase *tc)
{
	add_fast_path_thread_tests(tc);
	add_reentry_thread_tests(tc);
}

static const struct proc_case {
	const char *name;
	const char *(*missing)(void); /* NULL, or why it cannot run here */
	void (*add)(TCase *tc);
} cases[] = {
	{ "proc", NULL, add_proc },
	{ "threads-exit", threads_exit_missing, add_threads_exit },
	{ "uffd", uffd_missing, add_uffd_tests },
	{ "guard", guard_missing, add_guard_tests },
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
