// SPDX-License-Identifier: MIT
/*
 * tests/main.c - umn-tests: every Check suite of the core.  Each test runs
 * in its own process with a timeout.  CK_RUN_SUITE=name runs one suite.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

int main(void)
{
	SRunner *sr;
	int failed;

#ifndef UMN_DEBUG
	const char *only = getenv("CK_RUN_SUITE");

	if (only && !strcmp(only, "lockdep")) {
		puts("lockdep: skipped: lock rules are checked only in the "
		     "debug build (UMN_DEBUG)");
		return 77;
	}
#endif
	sr = srunner_create(itree_suite());

	srunner_add_suite(sr, notifier_suite());
	srunner_add_suite(sr, interval_suite());
	srunner_add_suite(sr, debug_suite());
	srunner_add_suite(sr, errors_suite());
	srunner_add_suite(sr, concurrency_suite());
	srunner_add_suite(sr, soft_suite());
	srunner_add_suite(sr, consumers_suite());
	srunner_add_suite(sr, lifetime_suite());
	srunner_add_suite(sr, failures_suite());
	srunner_add_suite(sr, lockdep_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
