// SPDX-License-Identifier: MIT
/*
 * tests/proc/check_patch.c - the patcher of this architecture plans a
 * patch only for code it recognises (primaries/proc/patch.h): over
 * libumn-proc-patch-cases.so (patch-cases.c), whose functions carry the
 * names of libc's hooked calls, each is accepted at the expected site or
 * refused with -ENOSYS.  Nothing is written: a plan only reads the code.
 * On an architecture with no patcher the test is skipped.
 */
#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../../primaries/proc/patch.h"
#include "sanitized.h"

struct expect {
	const char *name;
	int ret;   /* of umn__proc_patch_plan() */
	long site; /* if 0: where the branch goes, from the entry */
};

#if defined(__aarch64__)
static const struct expect cases[] = {
	{ "munmap", 0, 4 },	{ "madvise", -ENOSYS, 0 },
	{ "mmap", -ENOSYS, 0 }, { "mremap", -ENOSYS, 0 },
	{ "brk", -ENOSYS, 0 },
};
#elif defined(__x86_64__)
static const struct expect cases[] = {
	{ "munmap", 0, 0 },
	{ "madvise", -ENOSYS, 0 },
	{ "mremap", -ENOSYS, 0 },
};
#endif

#if defined(UMN_PROC_PATCH)
static const struct proc_hook *hook_named(const char *name)
{
	for (unsigned int i = 0; i < umn__proc_nhooks; i++)
		if (!strcmp(umn__proc_hooks[i].name, name))
			return &umn__proc_hooks[i];
	return NULL;
}

START_TEST(plans_only_code_it_recognises)
{
	void *dso = dlopen(PATCH_CASES_DSO, RTLD_NOW | RTLD_LOCAL);
	struct patch_plan plan;
	unsigned char *entry;

	ck_assert_msg(dso, "dlopen: %s", dlerror());
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct expect *c = &cases[i];

		memset(&plan, 0, sizeof(plan));
		entry = dlsym(dso, c->name);
		ck_assert_ptr_nonnull(entry);
		ck_assert_msg(umn__proc_patch_plan(dso, hook_named(c->name),
						   &plan) == c->ret,
			      "%s: the plan is not %d", c->name, c->ret);
		if (c->ret)
			continue;
		ck_assert_ptr_eq(plan.entry, entry);
		ck_assert_ptr_eq(plan.site, entry + c->site);
	}
	dlclose(dso);
}
END_TEST
#endif

int main(void)
{
#if defined(UMN_PROC_PATCH)
	Suite *s = suite_create("patch");
	TCase *tc = tcase_create("patch");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, plans_only_code_it_recognises);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
#else
	puts("skipped: umn has no patcher for this architecture");
	return SKIP;
#endif
}
