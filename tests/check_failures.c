// SPDX-License-Identifier: MIT
/*
 * tests/check_failures.c - failure injection (core/fail.h).  A workload
 * of every soft-MMU operation and every reference secondary runs once to
 * count the failure points it passes; then once per point with that point
 * failing, and once with every 7th failing.  Each call must succeed or
 * fail cleanly: after each, the soft mm's validator (VMAs, page table,
 * reverse map, interval tree, notifier chain) must hold, and at the end
 * everything is destroyed; the ASan build's leak checker then finds
 * nothing left (Check runs each test in its own process).
 */
#include <errno.h>
#include <string.h>

#include <umn/devtlb.h>
#include <umn/mirror.h>
#include <umn/regcache.h>
#include <umn/soft.h>

#include "../core/fail.h"
#include "../primaries/soft/soft.h"
#include "harness.h"

#define MB (1UL << 20)

static unsigned long calls_failed; /* calls that returned an error */
static unsigned long armed_at;	   /* the sweep's point, for messages */

static void check_valid(struct umn_soft_mm *sm, int line)
{
	if (sm)
		ck_assert_msg(umn__soft_is_valid(sm),
			      "soft mm invalid at line %d, failure point %lu "
			      "armed, %lu failed, %lu passed",
			      line, armed_at, umn__fail_failed(),
			      umn__fail_passed());
}
#define valid(sm) check_valid(sm, __LINE__)

/* A call's result: 0, or an error it is documented to return. */
static int ok_or_error(int ret)
{
	if (ret < 0) {
		calls_failed++;
		ck_assert_msg(ret == -ENOMEM || ret == -EBUSY ||
				      ret == -EFAULT || ret == -EINVAL ||
				      ret == -EAGAIN || ret == -ENOENT,
			      "unexpected error %d", ret);
	}
	return ret;
}

static void workload(void)
{
	struct umn_soft_frames_config cfg = { .max_pages = 1 << 16 };
	struct umn_soft_frames *fs;
	struct umn_soft_mm *sm = NULL, *child = NULL;
	struct umn_mirror *mirror = NULL;
	struct umn_devtlb *tlb = NULL;
	struct umn_regcache *rc = NULL;
	struct umn_regcache_handle *h = NULL;
	struct umn_soft_translation t;
	struct umn_regcache_soft pin_arg;
	unsigned long a = 0, b = 0, moved;
	char buf[64] = "failure points";

	if (ok_or_error(umn_soft_frames_create(&cfg, &fs)))
		return;
	if (ok_or_error(umn_soft_mm_create(fs, &sm)))
		goto out_frames;
	if (ok_or_error(umn_soft_mmap(sm, 0, 8 * MB,
				      UMN_SOFT_PROT_READ | UMN_SOFT_PROT_WRITE,
				      UMN_SOFT_MAP_THP, &a)))
		goto out_mm;
	valid(sm);
	ok_or_error(
		umn_mirror_create(sm, a, 8 * MB, UMN_MIRROR_INTERVAL, &mirror));
	ok_or_error(umn_devtlb_create(sm, 64, 0, &tlb));
	pin_arg = (struct umn_regcache_soft){ sm, fs };
	ok_or_error(umn_regcache_create(
		umn_soft_mm_umn(sm), &umn_regcache_soft_ops, &pin_arg, 0, &rc));
	valid(sm);

	ok_or_error(umn_soft_write(sm, a, buf, sizeof(buf)));
	ok_or_error(umn_soft_write(sm, a + 2 * MB + 4096, buf, sizeof(buf)));
	ok_or_error(umn_soft_fault(sm, a + 4 * MB, true));
	valid(sm);
	if (mirror) {
		ok_or_error(umn_mirror_fault(mirror, a, true));
		ok_or_error(umn_mirror_fault(mirror, a + 2 * MB, false));
	}
	if (tlb)
		ok_or_error(umn_devtlb_translate(tlb, a + 4096, false, &t));
	if (rc && !ok_or_error(umn_regcache_register(rc, a + 8192, 3 * 4096,
						     true, &h)))
		umn_regcache_release(h);
	valid(sm);

	ok_or_error(umn_soft_thp_split(sm, a + 2 * MB));
	valid(sm);
	ok_or_error(umn_soft_thp_collapse(sm, a + 2 * MB));
	valid(sm);
	ok_or_error(umn_soft_mprotect(sm, a + MB, MB, UMN_SOFT_PROT_READ));
	valid(sm);
	if (!ok_or_error(umn_soft_fork(sm, &child))) {
		valid(child);
		ok_or_error(umn_soft_write(child, a, "child", 5));
		ok_or_error(
			umn_soft_ksm_merge(sm, a + 4 * MB, child, a + 4 * MB));
		valid(child);
	}
	valid(sm);
	ok_or_error(umn_soft_migrate(sm, a + 6 * MB));
	ok_or_error(umn_soft_write(sm, a + 6 * MB, buf, 8));
	ok_or_error(umn_soft_reclaim(sm, a + 6 * MB));
	valid(sm);
	ok_or_error(umn_soft_read(sm, a + 6 * MB, buf, 8)); /* swap in */
	ok_or_error(umn_soft_clean(sm, a));
	ok_or_error(umn_soft_madvise_dontneed(sm, a + 3 * MB, MB));
	valid(sm);
	ok_or_error(umn_soft_mremap(sm, a + 5 * MB, MB, 2 * MB,
				    UMN_SOFT_MREMAP_MAYMOVE, &moved));
	valid(sm);
	ok_or_error(umn_soft_mmap(sm, a + MB, 4096, UMN_SOFT_PROT_READ,
				  UMN_SOFT_MAP_FIXED, &b));
	ok_or_error(umn_soft_munmap(sm, a + 7 * MB, MB));
	valid(sm);
	if (rc)
		ck_assert_int_eq(umn_regcache_destroy(rc), 0);
	if (tlb)
		ck_assert_int_eq(umn_devtlb_destroy(tlb), 0);
	if (mirror)
		ck_assert_int_eq(umn_mirror_destroy(mirror), 0);
	if (child)
		umn_soft_mm_destroy(child);
out_mm:
	umn_soft_mm_destroy(sm);
out_frames:
	ck_assert_int_eq(umn_soft_frames_destroy(fs), 0);
}

static unsigned long count_points(void)
{
	unsigned long n;

	umn__fail_arm(0, 0); /* count only */
	calls_failed = 0;
	workload();
	n = umn__fail_passed();
	umn__fail_arm(0, 0);
	return n;
}

/* Each failure point alone. */
START_TEST(every_failure_point_fails_cleanly)
{
	unsigned long n = count_points(), k, failed_calls = 0;

	ck_assert_uint_gt(n, 20);
	for (k = 1; k <= n; k++) {
		umn__fail_arm(armed_at = k, 0);
		calls_failed = 0;
		workload();
		ck_assert_uint_eq(umn__fail_failed(), 1);
		failed_calls += calls_failed;
	}
	__atomic_store_n(&umn__fail_armed, false, __ATOMIC_RELAXED);
	/* The failures reached the callers (the sweep is not vacuous). */
	ck_assert_uint_gt(failed_calls, n / 4);
}
END_TEST

/* Many at once: every 7th, from each of the first 7. */
START_TEST(repeated_failures_fail_cleanly)
{
	for (unsigned long k = 1; k <= 7; k++) {
		umn__fail_arm(armed_at = k, 7);
		calls_failed = 0;
		workload();
		ck_assert_uint_gt(umn__fail_failed(), 0);
	}
	__atomic_store_n(&umn__fail_armed, false, __ATOMIC_RELAXED);
}
END_TEST

/* The validator can fail: a reverse-map entry removed or doubled, an
 * entry outside its VMA. */
START_TEST(validator_catches_broken_structures)
{
	struct umn_soft_frames *fs;
	struct umn_soft_mm *sm;
	struct umn_soft_translation t;
	unsigned long a;

	ck_assert_int_eq(umn_soft_frames_create(NULL, &fs), 0);
	ck_assert_int_eq(umn_soft_mm_create(fs, &sm), 0);
	ck_assert_int_eq(umn_soft_mmap(sm, 0, 4 * 4096,
				       UMN_SOFT_PROT_READ | UMN_SOFT_PROT_WRITE,
				       0, &a),
			 0);
	ck_assert_int_eq(umn_soft_fault(sm, a + 4096, true), 0);
	ck_assert_int_eq(umn_soft_lookup(sm, a + 4096, false, NULL, NULL, &t),
			 0);
	ck_assert(umn__soft_is_valid(sm));
	umn__soft_rmap_del(fs, t.frame, sm, a + 4096);
	ck_assert(!umn__soft_is_valid(sm));
	ck_assert_int_eq(umn__soft_rmap_add(fs, t.frame, sm, a + 4096), 0);
	ck_assert(umn__soft_is_valid(sm));
	ck_assert_int_eq(umn__soft_rmap_add(fs, t.frame, sm, a + 8192), 0);
	ck_assert(!umn__soft_is_valid(sm));
	umn__soft_rmap_del(fs, t.frame, sm, a + 8192);
	ck_assert(umn__soft_is_valid(sm));
	/* Shrink the VMA behind the page table's back. */
	((struct vma *)umn__itree_first(&sm->vmas, a, a))->end = a + 4096;
	ck_assert(!umn__soft_is_valid(sm));
	((struct vma *)umn__itree_first(&sm->vmas, a, a))->end = a + 4 * 4096;
	ck_assert(umn__soft_is_valid(sm));
	umn_soft_mm_destroy(sm);
	ck_assert_int_eq(umn_soft_frames_destroy(fs), 0);
}
END_TEST

Suite *failures_suite(void)
{
	TCase *tc;
	Suite *s = one_case_suite("failures", 120, NULL, NULL, &tc);

	tcase_add_test(tc, validator_catches_broken_structures);
	tcase_add_test(tc, every_failure_point_fails_cleanly);
	tcase_add_test(tc, repeated_failures_fail_cleanly);
	return s;
}
