// SPDX-License-Identifier: MIT
/*
 * tests/proc/regcache_main.c - umn-proc-regcache: the registration cache
 * (consumers/regcache.c) over the process itself, checked against the
 * kernel.
 *
 *	umn-proc-regcache TEST [--sources hooks|uffd|all] [--seconds S]
 *			  [--threads N] [--mapped-only] [--seed N]
 *			  [--cache umn|ucx]
 *
 * TEST is one of
 *	oracle		each event class, then a lookup: the oracle agrees
 *	break-retry	a cache that skips its retry: the oracle must object
 *	stress		threads allocate, register, look up, free and remap
 *			(--cache ucx: through UCX's rcache instead of umn's,
 *			under the same oracle; --seed: the workers' seeds)
 *	break-stop	the stress with the sources switched off: the oracle
 *			must object
 *	fork		the child has no notifiers and runs none of the parent's
 *	signal		munmap and free from a signal handler, interval
 *			notifiers over the ranges
 *	signal-regcache	the same with the ranges in a regcache
 *	recursion	a callback that allocates, frees and unmaps
 *	uffd-replaced-range
 *			a reproducer: exits 1 while userfaultfd alone loses
 *			a range replaced under a live interval notifier
 *
 * Each prints "N%: Checks: N, Failures: F, Errors: 0" (tests/summary.sh
 * adds these up) and exits 0, 1 if a check failed, or 77 (SKIP) with a
 * message when it cannot run here.  A break test whose checks all passed
 * (the oracle caught the break) exits with the oracle's verdict, 3,
 * instead of 0: what tests/expect-status.sh expects of a break.
 * UMN_PROC_SOURCES is ignored: the test's own --sources is the
 * configuration under test.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "regcache_test.h"
#include "ucx_rcache.h"

unsigned long checks, failures;

bool check(bool ok, const char *fmt, ...)
{
	va_list ap;

	__atomic_add_fetch(&checks, 1, __ATOMIC_RELAXED);
	if (ok)
		return true;
	__atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);
	va_start(ap, fmt);
	printf("FAIL: ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
	return false;
}

int summary(const char *name)
{
	printf("%s: %lu checks, %lu failed\n", name, checks, failures);
	printf("%d%%: Checks: %lu, Failures: %lu, Errors: 0\n",
	       checks ? (int)(100 * (checks - failures) / checks) : 0, checks,
	       failures);
	return failures || !checks ? 1 : 0;
}

void skip(const char *fmt, ...)
{
	va_list ap;

	printf("SKIP: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	exit(SKIP);
}

const char *sources_name(unsigned int sources)
{
	switch (sources) {
	case UMN_PROC_HOOKS:
		return "hooks";
	case UMN_PROC_UFFD:
		return "uffd";
	case UMN_PROC_ALL:
		return "hooks,uffd";
	default:
		return "none";
	}
}

/* The exit status of a break test whose oracle caught the break. */
#define ORACLE_CAUGHT 3

static int break_verdict(int ret)
{
	return ret ? ret : ORACLE_CAUGHT;
}

static void __attribute__((noreturn)) usage(void)
{
	fprintf(stderr, "usage: umn-proc-regcache TEST [--sources "
			"hooks|uffd|all] [--seconds S] [--threads N] "
			"[--mapped-only] [--seed N] [--cache umn|ucx]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct opts o = { .sources = UMN_PROC_ALL, .seconds = 3, .threads = 3 };
	struct rlimit rl;
	const char *test;
	int i;

	if (argc < 2)
		usage();
	test = argv[1];
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--sources") && i + 1 < argc) {
			i++;
			if (!strcmp(argv[i], "hooks"))
				o.sources = UMN_PROC_HOOKS;
			else if (!strcmp(argv[i], "uffd"))
				o.sources = UMN_PROC_UFFD;
			else if (!strcmp(argv[i], "all"))
				o.sources = UMN_PROC_ALL;
			else
				usage();
		} else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			o.seconds = atof(argv[++i]);
		} else if (!strcmp(argv[i], "--mapped-only")) {
			o.mapped_only = true;
		} else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
			o.threads = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			stress_seed = (unsigned int)strtoul(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--cache") && i + 1 < argc) {
			i++;
			if (!strcmp(argv[i], "ucx"))
				stress_ucx = true;
			else if (strcmp(argv[i], "umn"))
				usage();
		} else {
			usage();
		}
	}
	if (o.threads < 1 || o.threads > 64 || o.seconds <= 0 ||
	    (stress_ucx && strcmp(test, "stress") && strcmp(test, "race")))
		usage();
	unsetenv("UMN_PROC_SOURCES");
	/* khugepaged may gather pages into a huge page behind every source's
	 * back (Linux tells its own notifiers; user space hears nothing):
	 * keep it out of the oracle's way. */
	prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
	/* Each registration holds its pages through a pipe. */
	if (!getrlimit(RLIMIT_NOFILE, &rl)) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	pagemap_open();

	if (!strcmp(test, "oracle"))
		return test_oracle(&o);
	if (!strcmp(test, "break-retry"))
		return break_verdict(test_break_retry(&o));
	if (!strcmp(test, "uffd-replaced-range"))
		return test_uffd_replaced_range(&o);
	if (!strcmp(test, "stress"))
		return test_stress(&o, false);
	if (!strcmp(test, "break-stop"))
		return break_verdict(test_stress(&o, true));
	if (!strcmp(test, "fork"))
		return test_fork(&o);
	if (!strcmp(test, "signal"))
		return test_signal(&o, false);
	if (!strcmp(test, "signal-regcache"))
		return test_signal(&o, true);
	if (!strcmp(test, "recursion"))
		return test_recursion(&o);
	if (!strcmp(test, "race"))
		return test_race(&o, false);
	if (!strcmp(test, "race-break"))
		return break_verdict(test_race(&o, true));
	usage();
}
