/* SPDX-License-Identifier: MIT */
/*
 * tests/check_run.h - how the Check programs of tests/ make and run their
 * suites (umn-tests, check-linux, check-linux413): header-only, so that
 * each program takes it without the harness.
 */
#ifndef UMN_TESTS_CHECK_RUN_H
#define UMN_TESTS_CHECK_RUN_H

#include <check.h>
#include <stdlib.h>

/*
 * A suite @name of one test case, also @name, with @setup and @teardown
 * (NULL: none) around each test, in the test's own process, and a timeout
 * of @timeout seconds (0: Check's default); the case, for its tests, in
 * *@tc.
 */
static inline Suite *one_case_suite(const char *name, double timeout,
				    SFun setup, SFun teardown, TCase **tc)
{
	Suite *s = suite_create(name);

	*tc = tcase_create(name);
	if (setup || teardown)
		tcase_add_checked_fixture(*tc, setup, teardown);
	if (timeout > 0)
		tcase_set_timeout(*tc, timeout);
	suite_add_tcase(s, *tc);
	return s;
}

/* Run @s, each test in a process of its own: EXIT_SUCCESS if none
 * failed. */
static inline int run_suite(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif /* UMN_TESTS_CHECK_RUN_H */
