// SPDX-License-Identifier: MIT
/*
 * tests/proc/check_patch.c - the patcher of this architecture plans a
 * patch only for code it recognises (primaries/proc/patch.h): over
 * libumn-proc-patch-cases.so (patch-cases.c), whose functions carry the
 * names of libc's hooked calls, each is accepted at the expected site or
 * refused with -ENOSYS.  Nothing is written: a plan only reads the code.
 * On aarch64, one of them is then patched and called, to check that the
 * trampoline keeps every register the system call would.  On an
 * architecture with no patcher the test is skipped.
 */
#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

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

#if defined(__aarch64__)
/*
 * The trampoline keeps what the SVC keeps: umn_cases_syscall (patch-cases.c)
 * is patched as libc's calls are, with a hook that clobbers every
 * register a C function may; umn_cases_regs() calls it with known values
 * in x0-x18, NZCV and q0, q7, q16, q31.  After it, x0 holds the hook's
 * answer, x8 the call's number, and every other register its value.
 */
static long hook_args[6], hook_calls;

static long clobbering_hook(long a0, long a1, long a2, long a3, long a4,
			    long a5)
{
	const long args[6] = { a0, a1, a2, a3, a4, a5 };

	memcpy(hook_args, args, sizeof(args));
	hook_calls++;
	__asm__ volatile("mov x9, xzr\n mov x16, xzr\n mov x17, xzr\n"
			 "mov x18, xzr\n movi v0.16b, #0\n movi v7.16b, #0\n"
			 "movi v16.16b, #0\n movi v31.16b, #0\n"
			 "msr nzcv, xzr"
			 :
			 :
			 : "x9", "x16", "x17", "x18", "v0", "v7", "v16", "v31",
			   "cc", "memory");
	return 0x4242;
}

/* A page from which a branch at @site reaches, as the driver maps one. */
static unsigned char *page_near(const unsigned char *site)
{
	long page = sysconf(_SC_PAGESIZE);
	uintptr_t base = ((uintptr_t)site & ~(uintptr_t)0xfffff) - (1UL << 20);

	for (int i = 0; i < 100; i++, base -= 1UL << 20) {
		void *p =
			mmap((void *)base, page, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			     -1, 0);

		if (p == MAP_FAILED)
			continue;
		/* Where the kernel (or qemu) took the address for a hint. */
		if ((uintptr_t)site - (uintptr_t)p < UMN_PROC_PATCH_REACH / 2)
			return p;
		munmap(p, page);
	}
	return NULL;
}

START_TEST(trampoline_keeps_what_the_svc_keeps)
{
	void *dso = dlopen(PATCH_CASES_DSO, RTLD_NOW | RTLD_LOCAL);
	const struct proc_hook hook = { "umn_cases_syscall", NULL,
					(void *)clobbering_hook, 215, NULL };
	void (*regs)(uint64_t * out);
	struct patch_plan plan = { 0 };
	uint64_t out[28] = { 0 };
	const uint64_t q[8] = { 0x51,  0x52,  0x71,  0x72,
				0x161, 0x162, 0x311, 0x312 };

	ck_assert_msg(dso, "dlopen: %s", dlerror());
	regs = (void (*)(uint64_t *))dlsym(dso, "umn_cases_regs");
	ck_assert_ptr_nonnull(regs);
	ck_assert_int_eq(umn__proc_patch_plan(dso, &hook, &plan), 0);
	plan.slot = page_near(plan.site);
	ck_assert_ptr_nonnull(plan.slot);
	umn__proc_patch_fill(plan.slot, &plan, &hook);
	__builtin___clear_cache((char *)plan.slot,
				(char *)plan.slot + UMN_PROC_PATCH_SLOT);
	ck_assert_int_eq(umn__proc_patch_protect(plan.slot, plan.slot + 1,
						 PROT_READ | PROT_EXEC),
			 0);
	ck_assert_int_eq(umn__proc_patch_apply(&plan), 0);

	regs(out);
	ck_assert_int_eq(hook_calls, 1);
	for (int i = 0; i < 6; i++)
		ck_assert_int_eq(hook_args[i], 0x100 + i);
	ck_assert_uint_eq(out[0], 0x4242);
	for (int i = 1; i <= 18; i++)
		ck_assert_msg(out[i] == (i == 8 ? 215U : 0x100U + (unsigned)i),
			      "x%d is %#llx after the call", i,
			      (unsigned long long)out[i]);
	ck_assert_msg(out[19] == 0x90000000U, "NZCV is %#llx after the call",
		      (unsigned long long)out[19]);
	for (int i = 0; i < 8; i++)
		ck_assert_msg(out[20 + i] == q[i], "q word %d is %#llx", i,
			      (unsigned long long)out[20 + i]);
	/* The page stays: the patched code branches to it. */
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
#if defined(__aarch64__)
	tcase_add_test(tc, trampoline_keeps_what_the_svc_keeps);
#endif
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
