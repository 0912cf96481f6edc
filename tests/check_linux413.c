// SPDX-License-Identifier: MIT
/*
 * tests/check_linux413.c - <umn/linux/mmu_notifier.h> in Linux 4.13's
 * spelling (UMN_LINUX_API 413): a secondary MMU written as a driver of
 * that release would be (its callbacks take (mn, mm, start, end), start
 * returns nothing, there is no range struct), run over a soft MMU.  Each
 * operation of the primary reaches the driver with 4.13's arguments.
 */
#define UMN_LINUX_API 413
#include <check.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <umn/linux/mmu_notifier.h>
#include <umn/soft.h>

#include "check_run.h"

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr)-offsetof(type, member)))
#define PAGE_SIZE UMN_PAGE_SIZE

/* ---- the driver, in 4.13's words ------------------------------------- */

struct gdev {
	struct mmu_notifier mn;
	struct mm_struct *mm; /* 4.13's notifier has no .mm: the driver's */
	int starts, ends, flushes, releases, ptes, tests, clears;
	int active; /* start without end yet */
	unsigned long start, end, young_addr;
	bool young; /* the device touched its pages */
};

static struct gdev *to_gdev(struct mmu_notifier *mn)
{
	return container_of(mn, struct gdev, mn);
}

static void gdev_release(struct mmu_notifier *mn, struct mm_struct *mm)
{
	struct gdev *g = to_gdev(mn);

	ck_assert_ptr_eq(mm, g->mm);
	g->releases++;
}

static void gdev_range_start(struct mmu_notifier *mn, struct mm_struct *mm,
			     unsigned long start, unsigned long end)
{
	struct gdev *g = to_gdev(mn);

	ck_assert_ptr_eq(mm, g->mm);
	ck_assert_uint_lt(start, end);
	g->starts++;
	g->active++;
	g->start = start;
	g->end = end;
}

static void gdev_range_end(struct mmu_notifier *mn, struct mm_struct *mm,
			   unsigned long start, unsigned long end)
{
	struct gdev *g = to_gdev(mn);

	ck_assert_ptr_eq(mm, g->mm);
	/* The same range as its start. */
	ck_assert_uint_eq(start, g->start);
	ck_assert_uint_eq(end, g->end);
	g->ends++;
	g->active--;
}

static void gdev_flush(struct mmu_notifier *mn, struct mm_struct *mm,
		       unsigned long start, unsigned long end)
{
	(void)start, (void)end;
	ck_assert_ptr_eq(mm, to_gdev(mn)->mm);
	to_gdev(mn)->flushes++;
}

static int gdev_clear_young(struct mmu_notifier *mn, struct mm_struct *mm,
			    unsigned long start, unsigned long end)
{
	struct gdev *g = to_gdev(mn);
	int young = g->young;

	(void)mm, (void)start, (void)end;
	g->clears++;
	g->young = false;
	return young;
}

static int gdev_test_young(struct mmu_notifier *mn, struct mm_struct *mm,
			   unsigned long address)
{
	struct gdev *g = to_gdev(mn);

	(void)mm;
	g->tests++;
	g->young_addr = address;
	return g->young;
}

static void gdev_change_pte(struct mmu_notifier *mn, struct mm_struct *mm,
			    unsigned long address, pte_t pte)
{
	(void)mm, (void)address, (void)pte;
	to_gdev(mn)->ptes++;
}

static const struct mmu_notifier_ops gdev_ops = {
	.release = gdev_release,
	.clear_flush_young = gdev_clear_young,
	.clear_young = gdev_clear_young,
	.test_young = gdev_test_young,
	.change_pte = gdev_change_pte,
	.invalidate_range_start = gdev_range_start,
	.invalidate_range_end = gdev_range_end,
	.invalidate_range = gdev_flush,
};

/* Attach, as 4.13 drivers did under the mm's mmap_sem. */
static int gdev_attach(struct gdev *g, struct mm_struct *mm)
{
	int ret;

	g->mm = mm;
	g->mn.ops = &gdev_ops;
	down_write(&mm->mmap_sem);
	ret = __mmu_notifier_register(&g->mn, mm);
	up_write(&mm->mmap_sem);
	return ret;
}

/* ---- the tests -------------------------------------------------------- */

static struct umn_soft_frames *frames;
static struct umn_soft_mm *sm;
static struct mm_struct *mm;
static unsigned long win;

static void setup(void)
{
	const int rw = UMN_SOFT_PROT_READ | UMN_SOFT_PROT_WRITE;

	ck_assert_int_eq(umn_soft_frames_create(NULL, &frames), 0);
	ck_assert_int_eq(umn_soft_mm_create(frames, &sm), 0);
	ck_assert_int_eq(umn_linux_mm_create(umn_soft_mm_umn(sm), sm, &mm), 0);
	ck_assert_int_eq(umn_soft_mmap(sm, 0, 8 * PAGE_SIZE, rw, 0, &win), 0);
}

static void teardown(void)
{
	umn_soft_mm_destroy(sm);
	mmput(mm);
	ck_assert_int_eq(umn_soft_frames_destroy(frames), 0);
}

START_TEST(brackets_with_413_arguments)
{
	struct gdev g = { .young = false };

	setup();
	ck_assert_int_eq(gdev_attach(&g, mm), 0);
	ck_assert_int_eq(mmu_notifier_register(&g.mn, mm), -EBUSY);
	ck_assert_int_eq(umn_soft_fault(sm, win, true), 0);
	ck_assert_int_eq(umn_soft_munmap(sm, win + PAGE_SIZE, 2 * PAGE_SIZE),
			 0);
	ck_assert_int_eq(g.starts, 1);
	ck_assert_int_eq(g.ends, 1);
	ck_assert_int_eq(g.active, 0);
	ck_assert_uint_eq(g.start, win + PAGE_SIZE);
	ck_assert_uint_eq(g.end, win + 3 * PAGE_SIZE);
	ck_assert_int_ge(g.flushes, 1);
	mmu_notifier_unregister(&g.mn, mm);
	ck_assert_int_eq(g.releases, 1);
	teardown();
}
END_TEST

/* Aging: test_young gets one address, 4.13's argument. */
START_TEST(aging_with_413_arguments)
{
	struct gdev g = { .young = true };

	setup();
	ck_assert_int_eq(gdev_attach(&g, mm), 0);
	ck_assert_int_eq(umn_soft_fault(sm, win + PAGE_SIZE, false), 0);
	ck_assert_int_ge(
		umn_soft_age(sm, win + PAGE_SIZE, PAGE_SIZE, UMN_SOFT_AGE_TEST),
		1);
	ck_assert_int_eq(g.tests, 1);
	ck_assert_uint_eq(g.young_addr, win + PAGE_SIZE);
	ck_assert_int_eq(mmu_notifier_test_young(mm, win + PAGE_SIZE + 8), 1);
	ck_assert_uint_eq(g.young_addr, win + PAGE_SIZE);
	ck_assert_int_eq(mmu_notifier_clear_young(mm, win, win + PAGE_SIZE), 1);
	ck_assert_int_eq(g.clears, 1);
	ck_assert_int_eq(
		mmu_notifier_clear_flush_young(mm, win, win + PAGE_SIZE),
		0); /* cleared just before */
	/* KSM merges two equal pages: change_pte, inside a bracket. */
	ck_assert_int_eq(umn_soft_fault(sm, win + 4 * PAGE_SIZE, true), 0);
	ck_assert_int_eq(umn_soft_fault(sm, win + 5 * PAGE_SIZE, true), 0);
	ck_assert_int_eq(umn_soft_ksm_merge(sm, win + 4 * PAGE_SIZE, sm,
					    win + 5 * PAGE_SIZE),
			 0);
	ck_assert_int_eq(g.ptes, 1);
	ck_assert_int_eq(g.active, 0);
	mmu_notifier_unregister_no_release(&g.mn, mm);
	ck_assert_int_eq(g.releases, 0);
	teardown();
}
END_TEST

/* exit_mmap: ->release, once; unregister after it calls no second. */
START_TEST(release_at_exit)
{
	struct gdev g = { .young = false };

	setup();
	ck_assert_int_eq(gdev_attach(&g, mm), 0);
	umn_soft_mm_destroy(sm);
	ck_assert_int_eq(g.releases, 1);
	mmu_notifier_unregister(&g.mn, mm);
	ck_assert_int_eq(g.releases, 1);
	mmput(mm);
	ck_assert_int_eq(umn_soft_frames_destroy(frames), 0);
}
END_TEST

int main(void)
{
	TCase *tc;
	Suite *s = one_case_suite("linux413", 0, NULL, NULL, &tc);

	tcase_add_test(tc, brackets_with_413_arguments);
	tcase_add_test(tc, aging_with_413_arguments);
	tcase_add_test(tc, release_at_exit);
	return run_suite(s);
}
